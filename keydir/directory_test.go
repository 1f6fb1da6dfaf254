package keydir_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/keydirtest"
)

type fixture struct {
	store *keydir.MemStore
	log   *keydirtest.Log
	cfg   keydir.Config
}

func newFixture(t testing.TB) *fixture {
	l, err := keydirtest.NewLog("daylight.test/log", 2)
	if err != nil {
		t.Fatal(err)
	}
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	s := keydir.NewMemStore()
	return &fixture{store: s, log: l, cfg: keydir.Config{Store: s, Log: l, SigningKey: sk, VRFKey: keydir.NewVRFKey()}}
}

func registration(t testing.TB, name string) ([]byte, account.Device, ed25519.PrivateKey) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	d := account.Device{ID: account.DeviceID{1}, SignatureKey: pub, Credential: []byte("cred"), KeyPackageKey: pub}
	r, err := account.NewRegistration(name, d, priv, 1)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := r.Marshal()
	return enc, d, priv
}

func TestRegisterErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, err := keydir.New(ctx, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	enc, _, _ := registration(t, "alice")
	if err := d.Register(ctx, enc); err != nil {
		t.Fatal(err)
	}
	other, _, _ := registration(t, "alice")
	if err := d.Register(ctx, other); !errors.Is(err, keydir.ErrExists) {
		t.Fatalf("duplicate username: %v", err)
	}
	bad := bytes.Clone(enc)
	bad[len(bad)-1] ^= 1
	if err := d.Register(ctx, bad); !errors.Is(err, keydir.ErrInvalidRecord) {
		t.Fatalf("bad signature: %v", err)
	}
	if err := d.ApplyChange(ctx, enc); err == nil {
		t.Fatal("version 0 accepted as a change")
	}
}

// TestRestartReappendsUnloggedEpoch: an epoch saved but not logged (a crash
// between the two) is appended on restart with the same head, so the log
// never holds two different roots for one epoch.
func TestRestartReappendsUnloggedEpoch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	failing := &failLog{Log: f.log}
	cfg := f.cfg
	cfg.Log = failing
	d, err := keydir.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	enc, _, _ := registration(t, "alice")
	d.Register(ctx, enc)
	if _, err := d.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	failing.fail = true
	enc2, _, _ := registration(t, "bob")
	d.Register(ctx, enc2)
	if _, err := d.Publish(ctx); err == nil {
		t.Fatal("publish succeeded with the log down")
	}
	eps, _ := f.store.Epochs(ctx, 1)
	if len(eps) != 2 || eps[1].Logged {
		t.Fatalf("store after the failed append: %d epochs", len(eps))
	}
	d2, err := keydir.New(ctx, f.cfg) // restart, log back
	if err != nil {
		t.Fatal(err)
	}
	entries := f.log.Entries()
	if len(entries) != 2 {
		t.Fatalf("log has %d entries, want 2", len(entries))
	}
	h, err := keydir.ParseHeadEntry(entries[1])
	if err != nil || !h.Equal(&eps[1].Head) {
		t.Fatalf("re-appended head differs: %v", err)
	}
	r, err := d2.Lookup(ctx, "bob")
	if err != nil || len(r.Records) != 1 {
		t.Fatalf("lookup after restart: %v", err)
	}
	if _, err := d2.Publish(ctx); err != nil {
		t.Fatal(err)
	}
}

type failLog struct {
	keydir.Log
	fail bool
}

func (f *failLog) AppendHead(ctx context.Context, h keydir.EpochHead) (uint64, error) {
	if f.fail {
		return 0, errors.New("log unavailable")
	}
	return f.Log.AppendHead(ctx, h)
}

func FuzzParseHeadEntry(f *testing.F) {
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	h := keydir.EpochHead{Epoch: 7, Root: [32]byte{1, 2}, Time: 99}
	h.Sign(sk)
	f.Add(keydir.MarshalHeadEntry(h))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := keydir.ParseHeadEntry(data)
		if err != nil {
			return
		}
		if !bytes.Equal(keydir.MarshalHeadEntry(h), data) {
			t.Fatal("re-marshal differs")
		}
	})
}

func seedResponses(f *testing.F) ([]byte, []byte) {
	fx := newFixture(f)
	ctx := context.Background()
	d, err := keydir.New(ctx, fx.cfg)
	if err != nil {
		f.Fatal(err)
	}
	enc, _, _ := registration(f, "alice")
	d.Register(ctx, enc)
	d.Publish(ctx)
	d.Publish(ctx)
	l, err := d.Lookup(ctx, "alice")
	if err != nil {
		f.Fatal(err)
	}
	lb, err := l.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	h, err := d.History(ctx, "alice", 0)
	if err != nil {
		f.Fatal(err)
	}
	hb, err := h.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	return lb, hb
}

func FuzzParseLookupResponse(f *testing.F) {
	lb, _ := seedResponses(f)
	f.Add(lb)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := keydir.ParseLookupResponse(data)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}

func FuzzParseHistoryResponse(f *testing.F) {
	_, hb := seedResponses(f)
	f.Add(hb)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := keydir.ParseHistoryResponse(data)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}

func TestResponsesRejectPrefixesAndTrailingBytes(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	d, _ := keydir.New(ctx, fx.cfg)
	enc, _, _ := registration(t, "alice")
	d.Register(ctx, enc)
	d.Publish(ctx)
	l, _ := d.Lookup(ctx, "alice")
	lb, _ := l.Marshal()
	h, _ := d.History(ctx, "alice", 0)
	hb, _ := h.Marshal()
	for n := range len(lb) {
		if _, err := keydir.ParseLookupResponse(lb[:n]); err == nil {
			t.Fatalf("lookup prefix %d parsed", n)
		}
	}
	for n := range len(hb) {
		if _, err := keydir.ParseHistoryResponse(hb[:n]); err == nil {
			t.Fatalf("history prefix %d parsed", n)
		}
	}
	if _, err := keydir.ParseLookupResponse(append(lb, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if _, err := keydir.ParseHistoryResponse(append(hb, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestRetainEpochs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg := f.cfg
	cfg.RetainEpochs = 3
	d, err := keydir.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	enc, _, _ := registration(t, "alice")
	d.Register(ctx, enc)
	for range 6 {
		if _, err := d.Publish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The trees of epochs 4..6 are kept.
	if h, err := d.History(ctx, "alice", 3); err != nil || len(h.Epochs) != 3 {
		t.Fatalf("history since 3: %v", err)
	}
	if _, err := d.History(ctx, "alice", 1); !errors.Is(err, keydir.ErrHistoryPruned) {
		t.Fatalf("history since 1: %v", err)
	}
	if _, err := d.Lookup(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse registers, publishes and looks up from several
// goroutines (run with -race); every account ends up in the tree.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, err := keydir.New(ctx, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 5)
	for w := range 4 {
		go func() {
			for i := range 15 {
				enc, _, _ := registration(t, fmt.Sprintf("user%d-%d", w, i))
				if err := d.Register(ctx, enc); err != nil {
					done <- err
					return
				}
				d.Lookup(ctx, "user0-0") // may be unpublished yet
			}
			done <- nil
		}()
	}
	go func() {
		for range 10 {
			if _, err := d.Publish(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 5 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	for w := range 4 {
		for i := range 15 {
			r, err := d.Lookup(ctx, fmt.Sprintf("user%d-%d", w, i))
			if err != nil || len(r.Records) != 1 {
				t.Fatalf("user%d-%d: %v", w, i, err)
			}
		}
	}
}
