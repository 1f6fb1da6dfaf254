package ds_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/store/sqlite"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRetentionProspective (docs/retention.md): nothing sent before a warrant
// is presented is kept; after it, application messages of groups with a
// target member are copied with their acceptance time (and survive every
// recipient's ack), other groups' are not; the copies are purged once the
// hold ends (window end + grace); a hold that already ended is refused.
func TestRetentionProspective(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}, Now: clock.Now, Retention: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	register := func(name string) (dstest.Signer, ds.Principal) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
			Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "phone", pub))})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := svc.Challenge(ctx, d.ID)
		tok, _ := svc.Authenticate(ctx, d.ID, c.Nonce, ed25519.Sign(priv, ds.AuthStatement(d.ID, c.Nonce)))
		p, err := svc.Authorize(ctx, tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}, p
	}
	alice, ap := register("alice")
	bob, bp := register("bob")
	carol, cp := register("carol")
	send := func(p ds.Principal, msg []byte) {
		t.Helper()
		if _, err := svc.Send(ctx, p, msg, nil); err != nil {
			t.Fatal(err)
		}
	}
	ab, bc := []byte("alice-bob"), []byte("bob-carol")
	if _, err := svc.CreateGroup(ctx, ap, dstest.GroupInfo(ab, alice)); err != nil {
		t.Fatal(err)
	}
	send(ap, dstest.Commit(ab, 0, alice, []dstest.FakeMember{bob.Member()}))
	if _, err := svc.CreateGroup(ctx, bp, dstest.GroupInfo(bc, bob)); err != nil {
		t.Fatal(err)
	}
	send(bp, dstest.Commit(bc, 0, bob, []dstest.FakeMember{carol.Member()}))
	_ = cp

	send(ap, dstest.Application(ab, 1, []byte("before the warrant")))
	commitment := [32]byte{1, 2, 3}
	if _, err := svc.PresentWarrant(ctx, commitment, []string{"alice"}, clock.Now().Add(-time.Second)); !errors.Is(err, ds.ErrForbidden) {
		t.Fatalf("hold that already ended: %v, want ErrForbidden", err)
	}
	clock.Add(time.Minute)
	presented := clock.Now()
	if _, err := svc.PresentWarrant(ctx, commitment, []string{"alice"}, presented.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	send(bp, dstest.Application(ab, 1, []byte("bob to alice")))
	send(bp, dstest.Application(bc, 1, []byte("bob to carol, no target")))
	clock.Add(time.Minute)
	send(ap, dstest.Application(ab, 1, []byte("alice to bob")))

	got, err := svc.Retained(ctx, commitment, presented.Add(-time.Hour), presented.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Data) != string(dstest.Application(ab, 1, []byte("bob to alice"))) ||
		string(got[1].Data) != string(dstest.Application(ab, 1, []byte("alice to bob"))) ||
		!got[0].Received.Equal(presented.Add(time.Minute)) || got[0].Epoch != 1 || string(got[0].GroupID) != string(ab) {
		t.Fatalf("retained = %d messages %+v, want exactly the two alice-bob messages after the warrant", len(got), got)
	}
	// Another warrant's commitment sees nothing.
	if other, err := svc.Retained(ctx, [32]byte{9}, presented.Add(-time.Hour), presented.Add(time.Hour)); err != nil || len(other) != 0 {
		t.Fatalf("other commitment: %d messages, %v", len(other), err)
	}
	// Everyone acks; the copies stay while the hold runs.
	for _, p := range []ds.Principal{ap, bp} {
		page, err := svc.Fetch(ctx, p, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Ack(ctx, p, page.Cursor); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Retained(ctx, commitment, presented, presented.Add(time.Hour)); len(got) != 2 {
		t.Fatalf("after acks and GC within the hold: %d retained, want 2", len(got))
	}
	// After the hold's end the copies are purged, and new messages are not kept.
	clock.Add(time.Hour)
	if _, err := svc.GC(ctx); err != nil {
		t.Fatal(err)
	}
	send(ap, dstest.Application(ab, 1, []byte("after the hold")))
	if got, _ := svc.Retained(ctx, commitment, presented.Add(-time.Hour), clock.Now().Add(time.Hour)); len(got) != 0 {
		t.Fatalf("after the hold's end: %d retained, want 0", len(got))
	}
}

// TestRetentionHoldCache checks the DS's cache of active holds: a warrant
// presented through the Service is retained from the very next message even
// though the (empty) list was just read; a hold written to the store by
// another process is seen within ds.HoldCacheTTL.
func TestRetentionHoldCache(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}, Now: clock.Now, Retention: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	register := func(name string) (dstest.Signer, ds.Principal) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
			Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "phone", pub))})
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}, ds.Principal{Username: name, Device: d.ID}
	}
	alice, ap := register("alice")
	bob, bp := register("bob")
	gid := []byte("alice-bob")
	if _, err := svc.CreateGroup(ctx, ap, dstest.GroupInfo(gid, alice)); err != nil {
		t.Fatal(err)
	}
	send := func(text string) {
		t.Helper()
		if _, err := svc.Send(ctx, bp, dstest.Application(gid, 1, []byte(text)), nil); err != nil {
			t.Fatal(err)
		}
	}
	retained := func(c [32]byte) int {
		t.Helper()
		got, err := svc.Retained(ctx, c, clock.Now().Add(-time.Hour), clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if _, err := svc.Send(ctx, ap, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}), nil); err != nil {
		t.Fatal(err)
	}
	send("no warrant yet: the empty hold list is now cached")
	presented := [32]byte{7}
	if _, err := svc.PresentWarrant(ctx, presented, []string{"alice"}, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	send("same instant, after presentation")
	if n := retained(presented); n != 1 {
		t.Fatalf("presented through the Service: %d retained at once, want 1", n)
	}
	// Another process's hold, written straight to the store.
	other := [32]byte{8}
	if _, err := st.PutRetentionHold(ctx, ds.RetentionHold{Commitment: other, Targets: []string{"bob"}, From: clock.Now(), Until: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	send("within the cache's life")
	clock.Add(ds.HoldCacheTTL)
	send("after HoldCacheTTL")
	if n := retained(other); n != 1 {
		t.Fatalf("hold written by another process: %d retained, want exactly the message sent after HoldCacheTTL", n)
	}
}
