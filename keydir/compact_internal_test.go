package keydir

import (
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

// TestSharedNode: for leaves i < j of trees of many sizes, the node
// sharedNode computes from i's entry and proof is the hash at the position
// it names in j's inclusion proof, and proofLen matches the real proofs.
func TestSharedNode(t *testing.T) {
	tree := testonly.New(rfc6962.DefaultHasher)
	var entries [][]byte
	for x := range 70 {
		e := []byte(fmt.Sprintf("entry %d", x))
		entries = append(entries, e)
		tree.AppendData(e)
	}
	proofOf := func(m, n uint64) [][32]byte {
		p, err := tree.InclusionProof(m, n)
		if err != nil {
			t.Fatal(err)
		}
		out := make([][32]byte, len(p))
		for x := range p {
			copy(out[x][:], p[x])
		}
		return out
	}
	checked := 0
	for n := uint64(2); n <= 70; n++ {
		for j := uint64(1); j < n; j++ {
			pj := proofOf(j, n)
			if proofLen(j, n) != len(pj) {
				t.Fatalf("proofLen(%d, %d) = %d, proof has %d", j, n, proofLen(j, n), len(pj))
			}
			for i := uint64(0); i < j; i++ {
				pos, h, ok := sharedNode(i, j, n, entries[i], proofOf(i, n))
				if !ok || pos >= len(pj) || pj[pos] != h {
					t.Fatalf("i=%d j=%d n=%d: pos %d ok %v", i, j, n, pos, ok)
				}
				checked++
			}
		}
	}
	if _, _, ok := sharedNode(3, 3, 10, entries[3], proofOf(3, 10)); ok {
		t.Fatal("shared node for i == j")
	}
	t.Logf("%d pairs", checked)
}
