package tree

import (
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/mls/wire"
)

// benchTree builds an n-member tree of realistic leaves (no validation, to
// keep setup fast) with every parent blank.
func benchTree(b *testing.B, n int) (*Tree, []*member) {
	b.Helper()
	s := suite1(b)
	tr := New(s)
	ms := make([]*member, n)
	for i := range n {
		ms[i] = newMember(b, s, i, nil)
		if _, err := tr.AddLeaf(ms[i].leaf); err != nil {
			b.Fatal(err)
		}
	}
	tr.TreeHash()
	return tr, ms
}

var benchSizes = []int{2, 100, 1000, 10000}

// BenchmarkTreeHashAfterPath measures merging a new path (public keys and
// parent hashes) for leaf 0 and recomputing the root tree hash: only the
// path's nodes are rehashed.
func BenchmarkTreeHashAfterPath(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			tr, ms := benchTree(b, n)
			keys := make([][]byte, len(tr.FilteredDirectPath(0)))
			for i := range keys {
				keys[i] = ms[(i+1)%n].kp.InitKey
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.MergePath(0, keys); err != nil {
					b.Fatal(err)
				}
				tr.TreeHash()
			}
		})
	}
}

// BenchmarkJoinValidate measures what a joiner does with the ratchet_tree
// extension: parse it, compute every tree hash, and run the full Section
// 12.4.3.1 validation (leaf signatures dominate).
func BenchmarkJoinValidate(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			tr, _ := benchTree(b, n)
			enc := tr.Marshal()
			th := tr.TreeHash()
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				t2, err := Parse(tr.Suite(), enc)
				if err != nil {
					b.Fatal(err)
				}
				if err := t2.Validate(TreeCheck{TreeHash: th, Now: testNow}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAddValidated measures validating and adding one KeyPackage to an
// n-member tree (signature checks plus the O(n) uniqueness scan).
func BenchmarkAddValidated(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			tr, _ := benchTree(b, n)
			s := tr.Suite()
			joiner := newMember(b, s, n+1, nil)
			b.ReportAllocs()
			for b.Loop() {
				c := tr.Clone()
				vkp, err := VerifyKeyPackage(s, joiner.kp, testNow)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.ValidateLeafNode(&vkp.KeyPackage().LeafNode, LeafCheck{Source: wire.LeafNodeSourceKeyPackage, Now: testNow}); err != nil {
					b.Fatal(err)
				}
				if _, err := c.AddKeyPackage(vkp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
