package treekem

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/codec"
)

// TestPrivateStateRoundTrip saves the committer's state after Create and a
// receiver's after Decrypt, restores both and checks that the restored
// receiver still decrypts the next UpdatePath (RFC 9420, Section 7.5).
func TestPrivateStateRoundTrip(t *testing.T) {
	f, up, gc, pend := committed(t, 8, false)
	for _, p := range []*PrivateState{pend.Private(), f.private(5)} {
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		q, err := UnmarshalPrivateState(f.s, enc)
		if err != nil {
			t.Fatal(err)
		}
		if q.Leaf() != p.Leaf() || !slicesEqual(q.Nodes(), p.Nodes()) {
			t.Fatalf("restored nodes %v, want %v", q.Nodes(), p.Nodes())
		}
		for _, x := range p.Nodes() {
			a, _ := p.Key(x)
			b, _ := q.Key(x)
			if !bytes.Equal(a, b) {
				t.Fatalf("node %d: key differs", x)
			}
		}
		again, _ := q.MarshalBinary()
		if !bytes.Equal(again, enc) {
			t.Fatal("re-encoding differs")
		}
		keys := make([][]byte, 0)
		for _, x := range p.Nodes() {
			k, _ := p.Key(x)
			keys = append(keys, k)
		}
		r, err := RestorePrivateState(f.s, p.Leaf(), p.Nodes(), keys)
		if err != nil {
			t.Fatal(err)
		}
		if enc2, _ := r.MarshalBinary(); !bytes.Equal(enc2, enc) {
			t.Fatal("RestorePrivateState differs from UnmarshalPrivateState")
		}
	}
	// A receiver restored from storage decrypts the commit.
	enc, _ := f.private(3).MarshalBinary()
	q, err := UnmarshalPrivateState(f.s, enc)
	if err != nil {
		t.Fatal(err)
	}
	tr := f.tree.Clone()
	if err := Merge(tr, 0, up, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := q.Decrypt(tr, 0, up, gc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cs, pend.CommitSecret()) {
		t.Fatal("restored state derives another commit secret")
	}
}

// TestPrivateStateRejectsMalformed checks the strict decoder: unsorted or
// duplicate nodes, nodes off the leaf's direct path, a missing leaf key,
// empty keys and trailing bytes are refused.
func TestPrivateStateRejectsMalformed(t *testing.T) {
	f := newFixture(t, 8, false)
	enc := func(leaf uint32, entries ...any) []byte {
		b := codec.AppendUint32(nil, leaf)
		return codec.AppendVector(b, func(b []byte) []byte {
			for i := 0; i < len(entries); i += 2 {
				b = codec.AppendUint32(b, uint32(entries[i].(int)))
				b = codec.AppendOpaque(b, entries[i+1].([]byte))
			}
			return b
		})
	}
	k := []byte{1, 2, 3}
	if _, err := UnmarshalPrivateState(f.s, enc(2, 4, k, 5, k, 7, k)); err != nil {
		t.Fatalf("valid state rejected: %v", err)
	}
	for name, data := range map[string][]byte{
		"unsorted":        enc(2, 5, k, 4, k),
		"duplicate":       enc(2, 4, k, 4, k),
		"not an ancestor": enc(2, 4, k, 1, k),
		"other leaf":      enc(2, 4, k, 6, k),
		"no leaf key":     enc(2, 5, k),
		"empty key":       enc(2, 4, []byte{}),
		"trailing":        append(enc(2, 4, k), 0),
		"truncated":       enc(2, 4, k)[:8],
	} {
		if _, err := UnmarshalPrivateState(f.s, data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := RestorePrivateState(f.s, 2, []NodeIndex{4, 1}, [][]byte{k, k}); err == nil {
		t.Error("RestorePrivateState accepted a node off the direct path")
	}
	if _, err := RestorePrivateState(f.s, 2, []NodeIndex{5}, [][]byte{k}); err == nil {
		t.Error("RestorePrivateState accepted a state without the leaf key")
	}
}

// FuzzUnmarshalPrivateState: parse, re-marshal, compare bytes.
func FuzzUnmarshalPrivateState(f *testing.F) {
	fx := newFixture(f, 8, true)
	for l := LeafIndex(0); l < 8; l++ {
		b, _ := fx.private(l).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := UnmarshalPrivateState(fx.s, data)
		if err != nil {
			return
		}
		out, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip: %x -> %x (%v)", data, out, err)
		}
	})
}
