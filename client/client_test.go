package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/client/localstore"
)

func newClient(t *testing.T, url, home string) *client.Client {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(len(home) + i) // fixed per home so reopening works
	}
	c, err := client.Open(client.Config{Home: home, Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func texts(ms []client.Message) []string {
	var out []string
	for _, m := range ms {
		if m.Kind == "text" {
			out = append(out, m.From+":"+m.Text)
		}
	}
	return out
}

// TestTwoClientsChat registers alice (two devices) and bob against an
// in-process server, creates a group, exchanges messages and a file both
// ways, reopens a profile (state rebuilt from the local store), removes bob
// and checks bob sees nothing afterwards.
func TestTwoClientsChat(t *testing.T) {
	ctx := context.Background()
	url := client.TestingOnlyStartServer(t)
	dir := t.TempDir()
	alice := newClient(t, url, filepath.Join(dir, "alice1"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	// Link a second device of alice.
	alice2 := newClient(t, url, filepath.Join(dir, "alice2"))
	key, _ := client.NewLinkKey(rand.Reader)
	approver, approval, err := alice.ApproveLink("phone", key.Public().(ed25519.PublicKey))
	if err == nil {
		_, err = alice2.Link(ctx, "alice", "phone", key, approver, approval)
	}
	if err != nil {
		t.Fatal(err)
	}
	bob := newClient(t, url, filepath.Join(dir, "bob"))
	if _, err := bob.Register(ctx, "bob", "desktop"); err != nil {
		t.Fatal(err)
	}
	ct, err := alice.AddContact(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bct, err := bob.AddContact(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ct.SafetyNumber != bct.SafetyNumber || len(ct.Devices) != 1 || len(bct.Devices) != 2 {
		t.Fatalf("safety numbers differ or wrong pins: %+v %+v", ct, bct)
	}

	res, err := alice.CreateGroup(ctx, "friends", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Group.Members) != 3 {
		t.Fatalf("members %+v", res.Group.Members)
	}
	if _, err := alice.SendText(ctx, "friends", "hello bob"); err != nil {
		t.Fatal(err)
	}
	got, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := texts(got); len(s) != 1 || s[0] != "alice:hello bob" {
		t.Fatalf("bob got %v (%+v)", s, got)
	}
	gl, _ := bob.Groups()
	if len(gl) != 1 || gl[0].Name != "friends" {
		t.Fatalf("bob's groups %+v", gl)
	}
	if _, err := bob.SendText(ctx, "friends", "hi alice"); err != nil {
		t.Fatal(err)
	}
	// A file from bob.
	file := bytes.Repeat([]byte("daylight "), 100000)
	var progressed int64
	if _, err := bob.SendFile(ctx, "friends", "f.bin", bytes.NewReader(file), int64(len(file)), func(d, _ int64) { progressed = d }); err != nil {
		t.Fatal(err)
	}
	if progressed != int64(len(file))+40 {
		t.Fatalf("progress ended at %d", progressed)
	}
	for _, c := range []*client.Client{alice, alice2} {
		got, err := c.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var fileMsg *client.Message
		for i := range got {
			if got[i].Kind == "file" {
				fileMsg = &got[i]
			}
		}
		s := texts(got)
		if c == alice2 { // alice's other device joined with the group: it also sees alice's first message
			if len(s) == 0 || s[0] != "alice:hello bob" {
				t.Fatalf("alice2 got %v", s)
			}
			s = s[1:]
		}
		if len(s) != 1 || s[0] != "bob:hi alice" || fileMsg == nil {
			t.Fatalf("alice device got %+v", got)
		}
		var out bytes.Buffer
		if _, err := c.GetFile(ctx, fileMsg.Group, fileMsg.ID, &out, nil); err != nil || !bytes.Equal(out.Bytes(), file) {
			t.Fatalf("file: %v", err)
		}
	}
	// alice2 answers; a reopened bob (state replayed) reads it.
	if _, err := alice2.SendText(ctx, "friends", "from the phone"); err != nil {
		t.Fatal(err)
	}
	bob.Close()
	bob = newClient(t, url, filepath.Join(dir, "bob"))
	got, err = bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := texts(got); len(s) != 1 || s[0] != "alice:from the phone" {
		t.Fatalf("reopened bob got %v", s)
	}
	// Rename, then remove bob.
	if _, err := alice.Rename(ctx, "friends", "family"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Remove(ctx, "family", []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(ctx, "family", "bob is gone"); err != nil {
		t.Fatal(err)
	}
	got, err = bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := texts(got); len(s) != 0 {
		t.Fatalf("removed bob read %v", s)
	}
	if g, _ := bob.Group("family"); !g.Removed {
		t.Fatalf("bob not told he was removed: %+v", g)
	}
	if _, err := bob.SendText(ctx, "family", "still here?"); err == nil {
		t.Fatal("removed member could send")
	}
	got, err = alice2.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := texts(got); len(s) != 1 || s[0] != "alice:bob is gone" {
		t.Fatalf("alice2 got %v", s)
	}
	g, _ := alice2.Group("family")
	if len(g.Members) != 2 || g.Name != "family" {
		t.Fatalf("alice2 view %+v", g)
	}
	h, _ := alice2.History("family", 0)
	if !strings.Contains(h[len(h)-2].Text, "removed bob") {
		t.Fatalf("no removal event: %+v", h[len(h)-2])
	}
}
