package secrettree

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/mls/suite"
)

// persistedSample returns the state of a tree with derived nodes, ratchets
// at various generations and skipped keys.
func persistedSample(t testing.TB) (*suite.Suite, []byte) {
	s := suite1(t)
	tr := newTree(t, s, bytes.Repeat([]byte{3}, 32), 8, Config{})
	tr.Open(3, Application, 4, ok)
	tr.Open(3, Handshake, 0, ok)
	tr.Next(6, Application)
	tr.Open(1, Application, 2, ok)
	b, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

// TestPersistRoundTrip: a restored tree continues exactly where the original
// stopped (same keys, same skipped keys, same consumed generations).
func TestPersistRoundTrip(t *testing.T) {
	s := suite1(t)
	a := newTree(t, s, bytes.Repeat([]byte{3}, 32), 8, Config{})
	b := newTree(t, s, bytes.Repeat([]byte{3}, 32), 8, Config{})
	for _, tr := range []*Tree{a, b} {
		if err := tr.Open(3, Application, 4, ok); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := b.MarshalBinary()
	c, err := Unmarshal(s, data, Config{})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.MarshalBinary()
	if !bytes.Equal(again, data) {
		t.Error("state does not re-marshal identically")
	}
	var keyA, keyC []byte
	for _, g := range []uint32{2, 7} {
		a.Open(3, Application, g, func(k, n []byte) error { keyA = bytes.Clone(k); return nil })
		if err := c.Open(3, Application, g, func(k, n []byte) error { keyC = bytes.Clone(k); return nil }); err != nil {
			t.Fatalf("restored tree, generation %d: %v", g, err)
		}
		if !bytes.Equal(keyA, keyC) {
			t.Errorf("generation %d: restored key differs", g)
		}
	}
	if err := c.Open(3, Application, 4, ok); !errors.Is(err, ErrGenerationConsumed) {
		t.Errorf("consumed generation usable after restore: %v", err)
	}
	_, k1, _, _ := a.Next(5, Handshake)
	_, k2, _, _ := c.Next(5, Handshake)
	if !bytes.Equal(k1, k2) {
		t.Error("lazily derived leaf differs after restore")
	}
}

// TestUnmarshalRejectsCorruptState: wrong suite, truncations, trailing bytes
// and inconsistent indices are rejected.
func TestUnmarshalRejectsCorruptState(t *testing.T) {
	s, data := persistedSample(t)
	for n := range len(data) {
		if _, err := Unmarshal(s, data[:n], Config{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d bytes: err = %v", n, err)
		}
	}
	if _, err := Unmarshal(s, append(bytes.Clone(data), 0), Config{}); !errors.Is(err, ErrCorrupt) {
		t.Error("trailing byte accepted")
	}
	s2, _ := suite.Lookup(suite.X25519ChaCha20Poly1305SHA256Ed25519)
	if _, err := Unmarshal(s2, data, Config{}); !errors.Is(err, ErrCorrupt) {
		t.Error("state of another suite accepted")
	}
	bad := bytes.Clone(data)
	bad[3+3] = 7 // leaf_count 7: not a power of two
	if _, err := Unmarshal(s, bad, Config{}); !errors.Is(err, ErrCorrupt) {
		t.Error("leaf_count 7 accepted")
	}
}

// FuzzUnmarshal: parse, re-marshal, compare bytes.
func FuzzUnmarshal(f *testing.F) {
	s, data := persistedSample(f)
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := Unmarshal(s, data, Config{})
		if err != nil {
			return
		}
		re, err := tr.MarshalBinary()
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("round trip mismatch: %v", err)
		}
	})
}
