package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/daylight-im/daylight/client/localstore"
)

func open(t *testing.T, url, home string) *Client {
	t.Helper()
	key := make([]byte, 32)
	copy(key, home)
	c, err := Open(Config{Home: home, Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCommitRebaseOnConflict makes bob commit on a stale epoch (alice's
// commit won the race): the server answers stale_epoch, bob processes
// alice's commit and rebuilds his own on the new epoch, and every member
// converges on the same epoch, members and epoch authenticator.
func TestCommitRebaseOnConflict(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	dir := t.TempDir()
	cs := map[string]*Client{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		cs[u] = open(t, url, filepath.Join(dir, u))
		if _, err := cs[u].Register(ctx, u, "d"); err != nil {
			t.Fatal(err)
		}
	}
	res, err := cs["alice"].CreateGroup(ctx, "g", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs["bob"].Sync(ctx); err != nil {
		t.Fatal(err)
	}
	bob := cs["bob"]
	bob.mu.Lock()
	gs, err := bob.resolveGroup("g")
	bob.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	stale := gs.m.g.Epoch()
	// alice wins the epoch...
	if _, err := cs["alice"].Add(ctx, res.Group.ID, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	// ...and bob, who has not synced, commits on the old one.
	bob.mu.Lock()
	_, err = bob.addUsers(ctx, gs, []string{"dave"})
	bob.mu.Unlock()
	if err != nil {
		t.Fatalf("bob's rebased commit: %v", err)
	}
	if got := gs.m.g.Epoch(); got != stale+2 {
		t.Fatalf("bob at epoch %d, want %d (alice's commit, then his rebased one)", got, stale+2)
	}
	var auth []byte
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if _, err := cs[u].Sync(ctx); err != nil {
			t.Fatal(err)
		}
		g, err := cs[u].Group(res.Group.ID)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if len(g.Members) != 4 || g.Epoch != stale+2 {
			t.Fatalf("%s sees %+v", u, g)
		}
		cs[u].mu.Lock()
		gs, _ := cs[u].resolveGroup(res.Group.ID)
		a := gs.m.g.EpochAuthenticator()
		cs[u].mu.Unlock()
		if auth != nil && string(a) != string(auth) {
			t.Fatalf("%s has another epoch authenticator", u)
		}
		auth = a
	}
	if _, err := cs["dave"].SendText(ctx, "g", "hi all"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		ms, err := cs[u].Sync(ctx)
		if err != nil || len(ms) != 1 || ms[0].Text != "hi all" {
			t.Fatalf("%s: %v %+v", u, err, ms)
		}
	}
}

// TestLeaveIsCommittedByAnotherMember: carol leaves (a Remove proposal for
// herself); the next member to sync commits it; carol reads nothing after.
func TestLeaveIsCommittedByAnotherMember(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	dir := t.TempDir()
	cs := map[string]*Client{}
	for _, u := range []string{"alice", "bob", "carol"} {
		cs[u] = open(t, url, filepath.Join(dir, u))
		if _, err := cs[u].Register(ctx, u, "d"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs["alice"].CreateGroup(ctx, "g", []string{"bob", "carol"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol"} {
		if _, err := cs[u].Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs["carol"].Leave(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs["bob"].Sync(ctx); err != nil { // bob commits carol's proposal
		t.Fatal(err)
	}
	if _, err := cs["alice"].SendText(ctx, "g", "carol has gone"); err != nil {
		t.Fatal(err)
	}
	g, _ := cs["alice"].Group("g")
	if len(g.Members) != 2 {
		t.Fatalf("alice sees %+v", g.Members)
	}
	ms, err := cs["carol"].Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == "text" {
			t.Fatalf("carol read %q after leaving", m.Text)
		}
	}
	if ms, err := cs["bob"].Sync(ctx); err != nil || len(ms) != 1 || ms[0].Text != "carol has gone" {
		t.Fatalf("bob: %v %+v", err, ms)
	}
}

// TestGhostDeviceIsReported: a device added to a pinned contact's account
// after pinning shows up as new in Contacts and as unpinned when the contact
// is added to a group.
func TestGhostDeviceIsReported(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	dir := t.TempDir()
	alice := open(t, url, filepath.Join(dir, "alice"))
	bob := open(t, url, filepath.Join(dir, "bob"))
	if _, err := alice.Register(ctx, "alice", "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	before, err := alice.AddContact(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// A second device appears on bob's account.
	bob2 := open(t, url, filepath.Join(dir, "bob2"))
	code, _ := bob2.BeginLink("new")
	ap, err := bob.ApproveCode(code)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := bob2.FinishLink(ctx, "bob", ap)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := alice.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cts) != 1 || len(cts[0].New) != 1 || cts[0].New[0] != id2.DeviceID {
		t.Fatalf("new device not reported: %+v", cts)
	}
	res, err := alice.CreateGroup(ctx, "g", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unpinned) != 1 || res.Unpinned[0] != id2.DeviceID {
		t.Fatalf("unpinned device not reported: %+v", res)
	}
	after, err := alice.VerifyContact(ctx, "bob", true)
	if err != nil {
		t.Fatal(err)
	}
	if after.SafetyNumber == before.SafetyNumber || len(after.New) != 0 || !after.Verified {
		t.Fatalf("re-pinning: %+v", after)
	}
}

// TestTamperedAttachmentIsRejected attempts a server-side substitution of an
// attachment's blob (another blob of the right size) and a truncated hash:
// GetFile fails with ErrFileIntegrity and writes nothing.
func TestTamperedAttachmentIsRejected(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	dir := t.TempDir()
	alice := open(t, url, filepath.Join(dir, "alice"))
	bob := open(t, url, filepath.Join(dir, "bob"))
	for u, c := range map[string]*Client{"alice": alice, "bob": bob} {
		if _, err := c.Register(ctx, u, "d"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.CreateGroup(ctx, "g", []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{7}, 1000)
	sent, err := alice.SendFile(ctx, "g", "f", bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := alice.tr.UploadBlob(ctx, bytes.NewReader(make([]byte, 1000+40)), 1040, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int
	for _, m := range ms {
		if m.Kind == "file" {
			id = m.ID
		}
	}
	var out bytes.Buffer
	if _, err := bob.GetFile(ctx, "g", id, &out, nil); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("genuine file: %v", err)
	}
	gs, _ := bob.resolveGroup("g")
	f := gs.History[id-1].File
	for name, tamper := range map[string]func(){
		"substituted blob": func() { f.Blob = other.ID },
		"wrong hash":       func() { f.Blob = sent.File.Blob; f.SHA256 = f.SHA256[:31] },
	} {
		tamper()
		out.Reset()
		if _, err := bob.GetFile(ctx, "g", id, &out, nil); !errors.Is(err, ErrFileIntegrity) || out.Len() != 0 {
			t.Fatalf("%s: err %v, wrote %d bytes", name, err, out.Len())
		}
	}
}

// TestSubstitutedKeyPackageIsRefused: a server that answers a claim for one
// device with a KeyPackage of another identity or key is caught before the
// KeyPackage is added to a group.
func TestSubstitutedKeyPackageIsRefused(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	dir := t.TempDir()
	alice := open(t, url, filepath.Join(dir, "alice"))
	bob := open(t, url, filepath.Join(dir, "bob"))
	a, err := alice.Register(ctx, "alice", "d")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bob.Register(ctx, "bob", "d")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := alice.tr.ClaimKeyPackage(ctx, b.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	bobDev := Device{ID: b.DeviceID, SigningKey: b.SigningKey}
	if err := checkKeyPackage(kp.Data, "bob", bobDev); err != nil {
		t.Fatalf("genuine KeyPackage refused: %v", err)
	}
	if err := checkKeyPackage(kp.Data, "bob", Device{ID: b.DeviceID, SigningKey: a.SigningKey}); err == nil {
		t.Fatal("KeyPackage with another signature key than the device's accepted")
	}
	if err := checkKeyPackage(kp.Data, "carol", Device{ID: b.DeviceID, SigningKey: b.SigningKey}); err == nil {
		t.Fatal("KeyPackage of another user accepted")
	}
	if err := checkKeyPackage(kp.Data, "bob", Device{ID: a.DeviceID, SigningKey: b.SigningKey}); err == nil {
		t.Fatal("KeyPackage of another device accepted")
	}
}

// dropAnswer performs every request but loses the answer of the POST
// /v1/messages number drop (counted from 1; the server did accept it).
type dropAnswer struct {
	rt      http.RoundTripper
	drop    int
	posts   int
	dropped bool
}

func (d *dropAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.rt.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && r.URL.Path == "/v1/messages" {
		if d.posts++; d.posts == d.drop {
			d.dropped = true
			resp.Body.Close()
			return nil, errors.New("connection reset (test)")
		}
	}
	return resp, err
}

// TestLostAnswerToOwnMessage: the server accepts alice's message but the
// answer is lost; alice resends the same bytes, the DS answers "replay"
// (already accepted), which counts as sent: bob gets it exactly once.
func TestLostAnswerToOwnMessage(t *testing.T) {
	ctx := context.Background()
	url := startServer(t)
	dir := t.TempDir()
	drop := &dropAnswer{rt: http.DefaultTransport, drop: 3} // 1: add commit, 2: group name, 3: the text
	alice, err := Open(Config{Home: filepath.Join(dir, "alice"), Key: localstore.Key{Raw: make([]byte, 32)}, ServerURL: url,
		HTTPClient: &http.Client{Transport: drop}, KeyPackages: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob := open(t, url, filepath.Join(dir, "bob"))
	if _, err := alice.Register(ctx, "alice", "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateGroup(ctx, "g", []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(ctx, "g", "sent once"); err != nil || !drop.dropped {
		t.Fatalf("send with a lost answer: %v (dropped %v)", err, drop.dropped)
	}
	ms, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.Text == "sent once" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("bob got the message %d times: %+v", n, ms)
	}
}
