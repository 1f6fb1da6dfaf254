package keydir_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/keydir"
)

// historyFixture publishes epochs in which other accounts change and other
// log entries are appended, and returns alice's monitoring history.
func historyFixture(t testing.TB, epochs int) *keydir.HistoryResponse {
	t.Helper()
	fx := newFixture(t)
	ctx := context.Background()
	d, err := keydir.New(ctx, fx.cfg)
	if err != nil {
		t.Fatal(err)
	}
	enc, _, _ := registration(t, "alice")
	if err := d.Register(ctx, enc); err != nil {
		t.Fatal(err)
	}
	for e := range epochs {
		for i := range 20 {
			b, _, _ := registration(t, string(rune('a'+e))+strings.Repeat("x", i+1))
			if err := d.Register(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		other := make([]byte, 90)
		rand.Read(other)
		fx.log.AppendEntry(other)
		if _, err := d.Publish(ctx); err != nil {
			t.Fatal(err)
		}
		if e == epochs/2 {
			d.Publish(ctx) // an epoch without changes: no tree proof
		}
	}
	h, err := d.History(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHistoryCompactIsLossless: the compact encoding decodes to exactly the
// response that was encoded (so kdclient verifies the same proofs), is
// smaller than the plain one, and re-encodes to the same bytes.
func TestHistoryCompactIsLossless(t *testing.T) {
	h := historyFixture(t, 12)
	cb, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := keydir.ParseHistoryResponse(cb)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, h) {
		t.Fatal("compact encoding is not lossless")
	}
	again, _ := back.Marshal()
	if !bytes.Equal(again, cb) {
		t.Fatal("re-encoding differs")
	}
	pb, err := keydir.TestingOnlyHistoryPlain(h)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := keydir.TestingOnlyParseHistoryPlain(pb); err != nil || !reflect.DeepEqual(p, h) {
		t.Fatalf("plain form: %v", err)
	}
	if len(cb) >= len(pb)*9/10 {
		t.Fatalf("compact %d bytes, plain %d: saves less than 10%%", len(cb), len(pb))
	}
	t.Logf("%d epochs: compact %d bytes, plain %d", len(h.Epochs), len(cb), len(pb))
}

// TestHistoryCompactRejectsNonCanonical: references beyond the hashes sent,
// a non-minimal varint, a head sent raw that could be sent by parts, a
// truncation and an unknown version are refused. (A hash sent literally
// twice is refused too; the fuzz target's round trip would catch it.)
func TestHistoryCompactRejectsNonCanonical(t *testing.T) {
	h := historyFixture(t, 3)
	cb, _ := h.Marshal()
	empty := *h
	empty.Epochs = nil
	eb, _ := empty.Marshal()
	start := len(eb) // epochs begin here (after their 4-byte length)
	if _, err := keydir.ParseHistoryResponse(append([]byte{1}, cb[1:]...)); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("version 1 accepted: %v", err)
	}
	// First epoch: index (uvarint), kind, epoch delta, time delta, root.
	s := cb[start:]
	_, n1 := binary.Uvarint(s)
	if s[n1] != 1 {
		t.Fatalf("first head not sent by parts (kind %d)", s[n1])
	}
	_, n2 := binary.Uvarint(s[n1+1:])
	_, n3 := binary.Uvarint(s[n1+1+n2:])
	rootAt := start + n1 + 1 + n2 + n3
	if cb[rootAt] != 0 {
		t.Fatalf("first root not literal (tag %d)", cb[rootAt])
	}
	bad := bytes.Clone(cb)
	bad[rootAt] = 5 // a reference to a hash never sent
	if _, err := keydir.ParseHistoryResponse(bad); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Fatalf("dangling reference: %v", err)
	}
	// Non-minimal varint: 0x80 0x00 for 0.
	nm := append(bytes.Clone(cb[:rootAt]), 0x80, 0x00)
	nm = append(nm, cb[rootAt+1:]...)
	fixLen(nm, start)
	if _, err := keydir.ParseHistoryResponse(nm); err == nil || !strings.Contains(err.Error(), "non-minimal") {
		t.Fatalf("non-minimal varint: %v", err)
	}
	// A second head for the same epoch cannot be sent by parts: it is sent
	// raw, and decodes to what was encoded (kdclient then refuses it).
	two := *h
	two.Epochs = append(two.Epochs[:0:0], h.Epochs[0], h.Epochs[0])
	two.Epochs[1].HeadProof.Index++
	tb, err := two.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := keydir.ParseHistoryResponse(tb); err != nil || !reflect.DeepEqual(back, &two) {
		t.Fatalf("repeated head: %v", err)
	}
	// Raw heads are refused when they could be sent by parts.
	raw := bytes.Clone(cb[:start+n1])
	raw = append(raw, 0, byte(len(h.Epochs[0].HeadProof.Entry)>>16), byte(len(h.Epochs[0].HeadProof.Entry)>>8), byte(len(h.Epochs[0].HeadProof.Entry)))
	raw = append(raw, h.Epochs[0].HeadProof.Entry...)
	raw = append(raw, cb[rootAt+33+64:]...) // after the root literal (0 + 32 bytes) and the signature
	fixLen(raw, start)
	if _, err := keydir.ParseHistoryResponse(raw); err == nil || !strings.Contains(err.Error(), "not canonical") {
		t.Fatalf("raw head: %v", err)
	}
	if _, err := keydir.ParseHistoryResponse(cb[:len(cb)-1]); err == nil {
		t.Fatal("truncated response accepted")
	}
}

// fixLen rewrites the epochs' uint32 length prefix (just before start).
func fixLen(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start-4:], uint32(len(b)-start))
}

func FuzzParseHistoryCompact(f *testing.F) {
	h := historyFixture(f, 4)
	b, _ := h.Marshal()
	f.Add(b)
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
