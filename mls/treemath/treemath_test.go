package treemath

import (
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

// TestTreeMathVectors checks root, left, right, parent and sibling of every
// node of tree-math.json (RFC 9420, Appendix C).
func TestTreeMathVectors(t *testing.T) {
	var vs []struct {
		NLeaves uint32    `json:"n_leaves"`
		NNodes  uint32    `json:"n_nodes"`
		Root    uint32    `json:"root"`
		Left    []*uint32 `json:"left"`
		Right   []*uint32 `json:"right"`
		Parent  []*uint32 `json:"parent"`
		Sibling []*uint32 `json:"sibling"`
	}
	testkit.LoadVectors(t, "tree-math.json", &vs)
	if len(vs) != 10 {
		t.Fatalf("%d cases, want 10", len(vs))
	}
	check := func(name string, n uint32, x int, got NodeIndex, ok bool, want *uint32) {
		t.Helper()
		if want == nil {
			if ok {
				t.Fatalf("n=%d %s(%d) = %d, want none", n, name, x, got)
			}
			return
		}
		if !ok || uint32(got) != *want {
			t.Fatalf("n=%d %s(%d) = %d,%v want %d", n, name, x, got, ok, *want)
		}
	}
	nodes := 0
	for _, v := range vs {
		if NodeWidth(v.NLeaves) != v.NNodes || uint32(Root(v.NLeaves)) != v.Root {
			t.Fatalf("n=%d: width %d root %d", v.NLeaves, NodeWidth(v.NLeaves), Root(v.NLeaves))
		}
		for x := 0; x < int(v.NNodes); x++ {
			l, ok := Left(NodeIndex(x))
			check("left", v.NLeaves, x, l, ok, v.Left[x])
			r, ok := Right(NodeIndex(x))
			check("right", v.NLeaves, x, r, ok, v.Right[x])
			p, ok := Parent(NodeIndex(x), v.NLeaves)
			check("parent", v.NLeaves, x, p, ok, v.Parent[x])
			s, ok := Sibling(NodeIndex(x), v.NLeaves)
			check("sibling", v.NLeaves, x, s, ok, v.Sibling[x])
			nodes++
		}
	}
	t.Logf("%d nodes checked", nodes)
}

func TestPathsAndAncestors(t *testing.T) {
	const n = 16
	for a := range LeafIndex(n) {
		dp := DirectPath(nil, a.Node(), n)
		cp := Copath(nil, a.Node(), n)
		if len(dp) != 4 || len(cp) != 4 || dp[3] != Root(n) {
			t.Fatalf("leaf %d: dp %v cp %v", a, dp, cp)
		}
		for i, s := range cp {
			var child NodeIndex = a.Node()
			if i > 0 {
				child = dp[i-1]
			}
			if sib, _ := Sibling(child, n); sib != s {
				t.Fatalf("copath mismatch")
			}
		}
		for b := range LeafIndex(n) {
			c := CommonAncestor(a.Node(), b.Node())
			if !IsInSubtree(a.Node(), c) || !IsInSubtree(b.Node(), c) {
				t.Fatalf("ancestor(%d,%d)=%d", a, b, c)
			}
			if a != b {
				l, _ := Left(c)
				r, _ := Right(c)
				if IsInSubtree(a.Node(), l) == IsInSubtree(b.Node(), l) || IsInSubtree(a.Node(), r) == IsInSubtree(b.Node(), r) {
					t.Fatalf("ancestor(%d,%d)=%d not lowest", a, b, c)
				}
			}
		}
	}
	if LeftmostLeaf(7) != 0 || RightmostLeaf(7) != 7 || LeftmostLeaf(11) != 4 || RightmostLeaf(11) != 7 {
		t.Fatal("leaf bounds")
	}
}
