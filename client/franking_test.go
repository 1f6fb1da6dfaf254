package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// modWorld is daylightd's franking and moderation wiring in-process: one
// stamper shared by the DS and the moderation service, which the DS consults
// for suspensions.
type modWorld struct {
	url string
	mod *moderation.Service
	st  moderation.Store
}

type fwdSuspensions struct{ s *moderation.Service }

func (f *fwdSuspensions) Suspended(ctx context.Context, u string) (bool, error) {
	return f.s.Suspended(ctx, u)
}

func startModServer(t *testing.T) *modWorld {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	stamper, err := franking.NewStamper(key)
	if err != nil {
		t.Fatal(err)
	}
	fwd := &fwdSuspensions{}
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(64)),
		Franking: ds.Franking{Stamper: stamper, Suspensions: fwd}})
	if err != nil {
		t.Fatal(err)
	}
	ms := moderation.NewMemStore()
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	mod, err := moderation.New(moderation.Config{DS: svc, Stamper: stamper, Store: ms, ExportKey: ek, SuspensionCacheTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	fwd.s = mod
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{},
		Mounts: map[string]http.Handler{moderation.RouteReport: mod.Intake(), moderation.ConsolePath: mod.Console()}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		svc.Close()
		st.Close()
	})
	return &modWorld{url: hs.URL, mod: mod, st: ms}
}

func newModClient(t *testing.T, ctx context.Context, url, home, user string) *Client {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	c, err := Open(Config{Home: home, Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Register(ctx, user, "laptop"); err != nil {
		t.Fatal(err)
	}
	return c
}

// chatPair registers alice and bob and puts them in a group "g" with alice's
// first message delivered to bob.
func chatPair(t *testing.T, ctx context.Context, url string) (alice, bob *Client, gid string) {
	dir := t.TempDir()
	alice = newModClient(t, ctx, url, filepath.Join(dir, "alice"), "alice")
	bob = newModClient(t, ctx, url, filepath.Join(dir, "bob"), "bob")
	for _, p := range [][2]*Client{{alice, bob}, {bob, alice}} {
		other := "bob"
		if p[0] == bob {
			other = "alice"
		}
		if _, err := p[0].AddContact(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	res, err := alice.CreateGroup(ctx, "g", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return alice, bob, res.Group.ID
}

// TestFrankedReportAndSuspension: alice and bob chat with franking on; bob
// reports alice's message with context; the moderation service holds a
// verified report naming alice and the plaintext; a moderator suspends
// alice; alice's next send fails with "account suspended".
func TestFrankedReportAndSuspension(t *testing.T) {
	ctx := context.Background()
	w := startModServer(t)
	alice, bob, gid := chatPair(t, ctx, w.url)
	for _, s := range []string{"hello bob", "buy my pills"} {
		if _, err := alice.SendText(ctx, gid, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var target int
	for _, m := range got {
		if m.Kind == "text" && m.Text == "buy my pills" {
			target = m.ID
		}
	}
	if target == 0 {
		t.Fatalf("bob did not receive the message: %+v", got)
	}
	if _, err := bob.Report(ctx, gid, 1, "spam", "", 0); !errors.Is(err, ErrNotReportable) {
		t.Fatalf("reporting an event: want ErrNotReportable, got %v", err)
	}
	res, err := bob.Report(ctx, gid, target, "spam", "unsolicited", 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.ID == "" || len(res.Context) != 1 {
		t.Fatalf("report result %+v, want an id and one context message", res)
	}
	admin := moderation.Moderator{Name: "ana", Role: moderation.RoleAdmin}
	rep, err := w.mod.ViewReport(ctx, admin, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reporter != "bob" || rep.Message.Account != "alice" || !strings.Contains(string(rep.Message.Plaintext), "buy my pills") ||
		len(rep.Context) != 1 || !strings.Contains(string(rep.Context[0].Plaintext), "hello bob") {
		t.Fatalf("verified report: %+v", rep)
	}
	if err := w.mod.Suspend(ctx, admin, res.ID, "spam"); err != nil {
		t.Fatal(err)
	}
	_, err = alice.SendText(ctx, gid, "still here")
	if !errors.Is(err, ErrSuspended) || !strings.Contains(err.Error(), "account suspended") {
		t.Fatalf("suspended send: want account suspended, got %v", err)
	}
	if _, err := bob.SendText(ctx, gid, "bob can still talk"); err != nil {
		t.Fatalf("bob not suspended: %v", err)
	}
}

// sendRaw sends an application message with chosen content and
// authenticated_data, bypassing the client's franking: a malicious sender.
func sendRaw(t *testing.T, ctx context.Context, c *Client, gid string, content, aad []byte) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	o := op{Kind: opProtect, Plain: content, AAD: aad}
	res, err := gs.m.apply(&o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.saveGroup(gs); err != nil {
		t.Fatal(err)
	}
	if err := c.st.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := c.sendOnce(ctx, res.out, nil); err != nil {
		t.Fatal(err)
	}
}

// TestAttackUnopenableCommitmentDropped: a sender whose franking commitment
// does not open (content changed after committing, a commitment for another
// sender, or none at all) cannot get unreportable content shown: bob's
// client drops each such message and keeps only a note of the drop.
func TestAttackUnopenableCommitmentDropped(t *testing.T) {
	ctx := context.Background()
	w := startModServer(t)
	alice, bob, gid := chatPair(t, ctx, w.url)
	gidBytes := alice.groups[gid].ID
	honest, cm, err := franking.Protect(rand.Reader, gidBytes, frankSender("alice", alice.prof.DeviceID), []byte(`{"t":"text","text":"innocent"}`))
	if err != nil {
		t.Fatal(err)
	}
	evil, _, err := franking.Protect(rand.Reader, gidBytes, frankSender("alice", alice.prof.DeviceID), []byte(`{"t":"text","text":"abuse"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, cmBob, err := franking.Protect(rand.Reader, gidBytes, frankSender("bob", bob.prof.DeviceID), []byte(`{"t":"text","text":"abuse"}`))
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, ctx, alice, gid, evil, cm[:])                                // commitment to other content
	sendRaw(t, ctx, alice, gid, evil, cmBob[:])                             // commitment for another sender
	sendRaw(t, ctx, alice, gid, []byte(`{"t":"text","text":"abuse"}`), nil) // no commitment
	sendRaw(t, ctx, alice, gid, honest, cm[:])                              // control: opens
	got, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var textsSeen []string
	drops := 0
	for _, m := range got {
		switch {
		case m.Kind == "text":
			textsSeen = append(textsSeen, m.Text)
		case m.Kind == "event" && strings.Contains(m.Text, "dropped a message from alice"):
			drops++
		}
		if strings.Contains(m.Text, "abuse") {
			t.Fatalf("unreportable content shown: %+v", m)
		}
	}
	if drops != 3 || len(textsSeen) != 1 || textsSeen[0] != "innocent" {
		t.Fatalf("want 3 drops and only the honest message, got drops=%d texts=%q", drops, textsSeen)
	}
}
