package group

import (
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

// TestTreeMathVectors checks the group layer's tree arithmetic against tree-math.json.
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
	for _, v := range vs {
		if nodeWidth(v.NLeaves) != v.NNodes || rootOf(v.NLeaves) != v.Root {
			t.Fatalf("n_leaves %d: width/root mismatch", v.NLeaves)
		}
		for x := uint32(0); x < v.NNodes; x++ {
			if v.Left[x] != nil && left(x) != *v.Left[x] {
				t.Fatalf("left(%d)", x)
			}
			if v.Right[x] != nil && right(x) != *v.Right[x] {
				t.Fatalf("right(%d)", x)
			}
			if v.Parent[x] != nil && parentOf(x) != *v.Parent[x] {
				t.Fatalf("parent(%d)", x)
			}
			if v.Sibling[x] != nil && siblingOf(x) != *v.Sibling[x] {
				t.Fatalf("sibling(%d)", x)
			}
		}
	}
}
