package franking

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// TestStampEncodingUnchanged recomputes a stamp's tag and encoding with an
// independent cryptobyte construction (the v1 format of docs/franking.md), so
// the allocation-free encoder cannot drift from stamps already stored.
func TestStampEncodingUnchanged(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	st, _ := NewStamper(key)
	var c Commitment
	rand.Read(c[:])
	s, err := st.Stamp(c, alice, g1, 1_700_000_000_123)
	if err != nil {
		t.Fatal(err)
	}
	var tbs cryptobyte.Builder
	tbs.AddBytes(c[:])
	for _, f := range []string{alice.Account, alice.Device, string(g1)} {
		tbs.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(f)) })
	}
	tbs.AddUint64(1_700_000_000_123)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("daylight franking stamp v1"))
	m.Write(tbs.BytesOrPanic())
	if want := m.Sum(nil); !bytes.Equal(want, s.Tag[:]) {
		t.Fatalf("tag %x, want %x", s.Tag, want)
	}
	want := append(append([]byte{1}, tbs.BytesOrPanic()...), s.Tag[:]...)
	if got := s.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("encoding %x, want %x", got, want)
	}
}

// TestDeliveredStampRebuilds: the recipient rebuilds the full stamp from the
// delivered time and tag and what it knows; the provider verifies a report
// made from it.
func TestDeliveredStampRebuilds(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "delivered compactly", 42)
	d, err := AppendDelivered(nil, r.Stamp.Marshal())
	if err != nil || len(d) != DeliveredSize {
		t.Fatalf("AppendDelivered: %d bytes, %v", len(d), err)
	}
	s, err := Rebuild(d, r.Stamp.Commitment, g1, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Marshal(), r.Stamp.Marshal()) {
		t.Fatal("rebuilt stamp differs from the provider's")
	}
	if _, err := st.VerifyReport(&Report{Plaintext: r.Plaintext, Key: r.Key, Stamp: *s}); err != nil {
		t.Fatal(err)
	}
}

// TestAttackDeliveredStampOtherMessage: a delivered stamp replayed onto another
// message, or rebuilt for another sender or group (a swapped sender), yields a
// report the provider refuses.
func TestAttackDeliveredStampOtherMessage(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "first", 1)
	d, _ := AppendDelivered(nil, r.Stamp.Marshal())
	other := send(t, st, alice, g1, "second", 2)
	cases := []struct {
		name   string
		c      Commitment
		group  []byte
		sender Sender
		rep    *Report
	}{
		{"replayed onto another message", other.Stamp.Commitment, g1, alice, other},
		{"swapped sender", r.Stamp.Commitment, g1, bob, r},
		{"other group", r.Stamp.Commitment, g2, alice, r},
	}
	for _, tc := range cases {
		s, err := Rebuild(d, tc.c, tc.group, tc.sender)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.VerifyReport(&Report{Plaintext: tc.rep.Plaintext, Key: tc.rep.Key, Stamp: *s}); !errors.Is(err, ErrStamp) {
			t.Fatalf("%s: report verified: %v", tc.name, err)
		}
	}
}

func TestDeliveredStrict(t *testing.T) {
	st := newStamper(t)
	r := send(t, st, alice, g1, "x", 1)
	full := r.Stamp.Marshal()
	d, _ := AppendDelivered(nil, full)
	for cut := 0; cut < len(d); cut++ {
		if _, err := Rebuild(d[:cut], r.Stamp.Commitment, g1, alice); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix %d: %v", cut, err)
		}
	}
	if _, err := Rebuild(append(bytes.Clone(d), 0), r.Stamp.Commitment, g1, alice); !errors.Is(err, ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	if _, err := Rebuild(full, r.Stamp.Commitment, g1, alice); !errors.Is(err, ErrMalformed) {
		t.Fatal("full stamp accepted as a delivered one")
	}
	if _, err := AppendDelivered(nil, d); !errors.Is(err, ErrMalformed) {
		t.Fatal("delivered stamp accepted as a full one")
	}
}

func FuzzRebuild(f *testing.F) {
	st := newStamper(f)
	r := send(f, st, alice, g1, "fuzz seed", 7)
	d, _ := AppendDelivered(nil, r.Stamp.Marshal())
	f.Add(d)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Rebuild(data, r.Stamp.Commitment, g1, alice)
		if err != nil {
			return
		}
		b, err := AppendDelivered(nil, s.Marshal())
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// BenchmarkStampMarshal is the DS's per-message stamping: tag and encoding.
func BenchmarkStampMarshal(b *testing.B) {
	st := newStamper(b)
	var c Commitment
	b.ReportAllocs()
	for b.Loop() {
		s, _ := st.Stamp(c, alice, g1, 1)
		s.Marshal()
	}
}
