package secrettree

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/suite"
)

type secretTreeVector struct {
	CipherSuite      uint16           `json:"cipher_suite"`
	EncryptionSecret testkit.HexBytes `json:"encryption_secret"`
	SenderData       struct {
		SenderDataSecret testkit.HexBytes `json:"sender_data_secret"`
		Ciphertext       testkit.HexBytes `json:"ciphertext"`
		Key              testkit.HexBytes `json:"key"`
		Nonce            testkit.HexBytes `json:"nonce"`
	} `json:"sender_data"`
	Leaves [][]struct {
		Generation       uint32           `json:"generation"`
		ApplicationKey   testkit.HexBytes `json:"application_key"`
		ApplicationNonce testkit.HexBytes `json:"application_nonce"`
		HandshakeKey     testkit.HexBytes `json:"handshake_key"`
		HandshakeNonce   testkit.HexBytes `json:"handshake_nonce"`
	} `json:"leaves"`
}

var rfcSuites = []suite.ID{1, 2, 3, 4, 5, 6, 7}

func newTree(t testing.TB, s *suite.Suite, secret []byte, leaves uint32, cfg Config) *Tree {
	t.Helper()
	enc, err := keyschedule.NewEncryptionSecret(s, secret)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(s, enc, leaves, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// expect returns an Open callback that checks key and nonce.
func expect(t *testing.T, what string, wantKey, wantNonce []byte) func(k, n []byte) error {
	return func(k, n []byte) error {
		if !bytes.Equal(k, wantKey) || !bytes.Equal(n, wantNonce) {
			t.Errorf("%s: key/nonce = %x/%x, want %x/%x", what, k, n, wantKey, wantNonce)
		}
		return nil
	}
}

func TestSecretTreeVectors(t *testing.T) {
	var vs []secretTreeVector
	testkit.LoadVectors(t, "secret-tree.json", &vs)
	count := map[suite.ID]int{}
	for i, v := range vs {
		s, err := suite.Lookup(suite.ID(v.CipherSuite))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		sd, err := keyschedule.NewSenderDataSecret(s, v.SenderData.SenderDataSecret)
		if err != nil {
			t.Fatal(err)
		}
		k, n := sd.KeyNonce(v.SenderData.Ciphertext)
		if !bytes.Equal(k, v.SenderData.Key) || !bytes.Equal(n, v.SenderData.Nonce) {
			t.Errorf("case %d: sender data key/nonce = %x/%x, want %x/%x", i, k, n, v.SenderData.Key, v.SenderData.Nonce)
		}
		tr := newTree(t, s, v.EncryptionSecret, uint32(len(v.Leaves)), Config{})
		for leaf, gens := range v.Leaves {
			for _, g := range gens {
				if err := tr.Open(uint32(leaf), Handshake, g.Generation, expect(t, "handshake", g.HandshakeKey, g.HandshakeNonce)); err != nil {
					t.Errorf("case %d leaf %d gen %d handshake: %v", i, leaf, g.Generation, err)
				}
				if err := tr.Open(uint32(leaf), Application, g.Generation, expect(t, "application", g.ApplicationKey, g.ApplicationNonce)); err != nil {
					t.Errorf("case %d leaf %d gen %d application: %v", i, leaf, g.Generation, err)
				}
			}
		}
		// Senders see the same keys through Next.
		tr2 := newTree(t, s, v.EncryptionSecret, uint32(len(v.Leaves)), Config{})
		for leaf, gens := range v.Leaves {
			g, key, nonce, err := tr2.Next(uint32(leaf), Application)
			if err != nil || g != 0 || !bytes.Equal(key, gens[0].ApplicationKey) || !bytes.Equal(nonce, gens[0].ApplicationNonce) {
				t.Errorf("case %d leaf %d: Next = %d %x %x %v", i, leaf, g, key, nonce, err)
			}
		}
		count[s.ID()]++
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no secret-tree case ran", id)
		}
		t.Logf("secret-tree: suite %v: %d case(s)", id, count[id])
	}
}

func suite1(t testing.TB) *suite.Suite {
	s, err := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ok(k, n []byte) error { return nil }

// sendKeys returns the first n application keys and nonces of leaf as a
// sender sees them.
func sendKeys(t *testing.T, s *suite.Suite, leaf uint32, n int) []keyNonce {
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{})
	var out []keyNonce
	for i := range n {
		g, k, nonce, err := tr.Next(leaf, Application)
		if err != nil || g != uint32(i) {
			t.Fatalf("Next = %d, %v", g, err)
		}
		out = append(out, keyNonce{key: k, nonce: nonce})
	}
	return out
}

// TestOutOfOrderWithinWindow: messages delivered out of order within the
// window decrypt, each key exactly once.
func TestOutOfOrderWithinWindow(t *testing.T) {
	s := suite1(t)
	keys := sendKeys(t, s, 2, 10)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{})
	for _, g := range []uint32{5, 1, 9, 0, 2, 8, 3, 4, 7, 6} {
		if err := tr.Open(2, Application, g, expect(t, "out of order", keys[g].key, keys[g].nonce)); err != nil {
			t.Fatalf("gen %d: %v", g, err)
		}
	}
}

// TestReplayRejected attempts to decrypt the same generation twice: the key
// was deleted after first use (RFC 9420, Section 9.2).
func TestReplayRejected(t *testing.T) {
	s := suite1(t)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{})
	if err := tr.Open(0, Application, 0, ok); err != nil {
		t.Fatal(err)
	}
	if err := tr.Open(0, Application, 0, ok); !errors.Is(err, ErrGenerationConsumed) {
		t.Errorf("replayed generation 0: err = %v, want ErrGenerationConsumed", err)
	}
	if err := tr.Open(0, Application, 5, ok); err != nil {
		t.Fatal(err)
	}
	if err := tr.Open(0, Application, 5, ok); !errors.Is(err, ErrGenerationConsumed) {
		t.Errorf("replayed generation 5: err = %v", err)
	}
	if err := tr.Open(0, Application, 3, ok); err != nil {
		t.Errorf("skipped generation 3: %v", err)
	}
	if err := tr.Open(0, Application, 3, ok); !errors.Is(err, ErrGenerationConsumed) {
		t.Errorf("replayed skipped generation 3: err = %v", err)
	}
}

// TestTooFarAheadRejected attempts a generation beyond the forward window.
func TestTooFarAheadRejected(t *testing.T) {
	s := suite1(t)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{MaxForwardDistance: 10})
	if err := tr.Open(0, Application, 11, ok); !errors.Is(err, ErrTooFarAhead) {
		t.Errorf("generation 11 with window 10: err = %v", err)
	}
	if err := tr.Open(0, Application, 10, ok); err != nil {
		t.Errorf("generation 10 with window 10: %v", err)
	}
	if err := tr.Open(0, Application, 21, ok); err != nil {
		t.Errorf("generation 21 after 10: %v", err)
	}
	if err := tr.Open(0, Application, 1<<31, ok); !errors.Is(err, ErrTooFarAhead) {
		t.Errorf("generation 2^31: err = %v", err)
	}
}

// TestSkippedKeysBounded: only MaxSkippedKeys skipped keys are kept, the
// oldest are dropped.
func TestSkippedKeysBounded(t *testing.T) {
	s := suite1(t)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{MaxSkippedKeys: 3})
	if err := tr.Open(0, Application, 5, ok); err != nil { // skips 0..4, keeps 2,3,4
		t.Fatal(err)
	}
	for _, g := range []uint32{0, 1} {
		if err := tr.Open(0, Application, g, ok); !errors.Is(err, ErrGenerationConsumed) {
			t.Errorf("dropped generation %d: err = %v", g, err)
		}
	}
	if err := tr.Open(0, Application, 7, ok); err != nil { // skips 6: drops 2
		t.Fatal(err)
	}
	if err := tr.Open(0, Application, 2, ok); !errors.Is(err, ErrGenerationConsumed) {
		t.Errorf("evicted generation 2: err = %v", err)
	}
	for _, g := range []uint32{3, 4, 6} {
		if err := tr.Open(0, Application, g, ok); err != nil {
			t.Errorf("kept generation %d: %v", g, err)
		}
	}
	if n := len(tr.ratchets[0].application.skipped); n != 0 {
		t.Errorf("%d skipped keys left", n)
	}
	none := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{MaxSkippedKeys: -1})
	none.Open(0, Application, 3, ok)
	if err := none.Open(0, Application, 1, ok); !errors.Is(err, ErrGenerationConsumed) {
		t.Errorf("MaxSkippedKeys < 0 kept a key: %v", err)
	}
}

// TestFailedOpenLeavesStateUnchanged attempts to burn keys with a message
// that does not decrypt (a forged far-ahead generation): the tree must be
// unchanged afterwards.
func TestFailedOpenLeavesStateUnchanged(t *testing.T) {
	s := suite1(t)
	keys := sendKeys(t, s, 1, 3)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{MaxSkippedKeys: 2})
	if err := tr.Open(1, Application, 1, ok); err != nil { // keep gen 0
		t.Fatal(err)
	}
	forged := errors.New("aead: authentication failed")
	if err := tr.Open(1, Application, 900, func(k, n []byte) error { return forged }); !errors.Is(err, forged) {
		t.Fatalf("err = %v", err)
	}
	if err := tr.Open(1, Application, 0, func(k, n []byte) error { return forged }); !errors.Is(err, forged) {
		t.Fatalf("err = %v", err)
	}
	if err := tr.Open(1, Application, 0, expect(t, "gen 0 after forgeries", keys[0].key, keys[0].nonce)); err != nil {
		t.Errorf("generation 0 after forgeries: %v", err)
	}
	if err := tr.Open(1, Application, 2, expect(t, "gen 2 after forgeries", keys[2].key, keys[2].nonce)); err != nil {
		t.Errorf("generation 2 after forgeries: %v", err)
	}
}

// TestDeletionSchedule checks RFC 9420, Section 9.2 on the example of
// Figure 27: after a message from leaf D (3) of a 4-leaf tree, the node
// secrets G (root), F and D are deleted, E and C are kept, and D's consumed
// ratchet secrets are gone.
func TestDeletionSchedule(t *testing.T) {
	s := suite1(t)
	enc, _ := keyschedule.NewEncryptionSecret(s, bytes.Repeat([]byte{5}, 32))
	tr, err := New(s, enc, 4, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !isZero(enc.Bytes()) {
		t.Error("encryption_secret not destroyed by New")
	}
	if err := tr.Open(3, Application, 1, ok); err != nil {
		t.Fatal(err)
	}
	for node, want := range map[uint32]bool{3: false, 5: false, 6: false, 1: true, 4: true} {
		if _, has := tr.nodes[node]; has != want {
			t.Errorf("node %d secret present = %v, want %v", node, has, want)
		}
	}
	r := tr.ratchets[3]
	if r.application.next != 2 || len(r.application.skipped) != 1 {
		t.Errorf("ratchet state next=%d skipped=%d", r.application.next, len(r.application.skipped))
	}
	tr.Destroy()
	if len(tr.nodes) != 0 || len(tr.ratchets) != 0 {
		t.Error("Destroy left secrets")
	}
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestLeafOutOfRange(t *testing.T) {
	s := suite1(t)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 4, Config{})
	if err := tr.Open(4, Application, 0, ok); !errors.Is(err, ErrLeafOutOfRange) {
		t.Errorf("leaf 4 of 4: %v", err)
	}
	if _, _, _, err := tr.Next(9, Handshake); !errors.Is(err, ErrLeafOutOfRange) {
		t.Errorf("Next leaf 9 of 4: %v", err)
	}
	if tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 5, Config{}); tr.LeafCount() != 8 {
		t.Errorf("5 leaves rounded to %d", tr.LeafCount())
	}
}

func TestConcurrentUse(t *testing.T) {
	s := suite1(t)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 64, Config{})
	var wg sync.WaitGroup
	for leaf := range uint32(64) {
		wg.Go(func() {
			for g := range uint32(20) {
				if err := tr.Open(leaf, Application, g, ok); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkNextKey measures one per-message key derivation (key, nonce and
// next ratchet secret) on suite 1.
func BenchmarkNextKey(b *testing.B) {
	s := suite1(b)
	tr := newTree(b, s, bytes.Repeat([]byte{3}, 32), 1024, Config{})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := tr.Next(7, Application); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewTreeFirstKey measures a fresh epoch's first key for one sender
// in a 1,024-leaf tree (path derivation plus one ratchet step).
func BenchmarkNewTreeFirstKey(b *testing.B) {
	s := suite1(b)
	secret := bytes.Repeat([]byte{3}, 32)
	b.ReportAllocs()
	for b.Loop() {
		enc, _ := keyschedule.NewEncryptionSecret(s, secret)
		tr, _ := New(s, enc, 1024, Config{})
		if err := tr.Open(517, Application, 0, ok); err != nil {
			b.Fatal(err)
		}
	}
}
