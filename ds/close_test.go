package ds_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/store/sqlite"
)

// TestCloseWhileSending: Close during a burst of sends returns, and every
// Send returns either a durable receipt or ErrClosed — none hangs, and every
// receipt's message is stored.
func TestCloseWhileSending(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	if err != nil {
		t.Fatal(err)
	}
	reg := func(name string) (dstest.Signer, ds.Principal) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "", pub))})
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}, ds.Principal{Username: name, Device: d.ID}
	}
	alice, ap := reg("alice")
	bob, bp := reg("bob")
	gid := []byte("g")
	if _, err := svc.CreateGroup(ctx, ap, dstest.GroupInfo(gid, alice)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, ap, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}), nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for k := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := svc.Send(ctx, ap, dstest.Application(gid, 1, fmt.Appendf(nil, "%d/%d", k, i)), nil)
				if errors.Is(err, ds.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Send: %v", err)
					return
				}
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { svc.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
	wg.Wait()
	pg, err := st.Fetch(ctx, bp.Device, 0, 1000000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Deliveries) < ok {
		t.Fatalf("%d sends acknowledged, %d stored", ok, len(pg.Deliveries))
	}
	if _, err := svc.Send(ctx, ap, dstest.Application(gid, 1, []byte("late")), nil); !errors.Is(err, ds.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}
