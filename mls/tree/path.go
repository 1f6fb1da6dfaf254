package tree

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// MergePath merges the public part of an UpdatePath for leaf into the tree
// (RFC 9420, Section 7.5, "merges UpdatePath into the tree"): it blanks the
// leaf's direct path, sets each node of the filtered direct path (computed
// before blanking) to the matching key with no unmerged leaves, computes the
// parent hashes from the root down (Section 7.9) and stores them in the
// parent nodes. It returns the parent hash the committer's new leaf must
// carry. keys must have one entry per filtered direct path node.
func (t *Tree) MergePath(leaf LeafIndex, keys [][]byte) ([]byte, error) {
	if int(leaf) >= len(t.leaves) {
		return nil, fmt.Errorf("%w: %d", ErrLeafOutOfRange, leaf)
	}
	fdp := t.FilteredDirectPath(leaf)
	if len(keys) != len(fdp) {
		return nil, fmt.Errorf("%w: %d path nodes for a filtered direct path of %d", ErrInvalidTree, len(keys), len(fdp))
	}
	t.blankPath(leaf)
	for i, x := range fdp {
		if len(keys[i]) == 0 {
			return nil, fmt.Errorf("%w: empty encryption key for node %d", ErrInvalidTree, x)
		}
		t.parents[x>>1] = parentSlot{key: keys[i]}
	}
	t.invalidate(leaf.Node())
	// Parent hashes from the root down: node fdp[i] carries the parent hash
	// of fdp[i+1] with its copath child; the root carries "".
	for i := len(fdp) - 1; i >= 0; i-- {
		var ph []byte
		if i+1 < len(fdp) {
			ph = t.parentHash(fdp[i+1], copathChild(fdp[i+1], leaf))
		} else {
			ph = []byte{}
		}
		t.parents[fdp[i]>>1].parentHash = ph
		t.invalidate(fdp[i])
	}
	if len(fdp) == 0 {
		return []byte{}, nil
	}
	return t.parentHash(fdp[0], copathChild(fdp[0], leaf)), nil
}

// copathChild returns the child of p that is not on leaf's direct path.
func copathChild(p NodeIndex, leaf LeafIndex) NodeIndex {
	l, _ := treemath.Left(p)
	r, _ := treemath.Right(p)
	if treemath.IsInSubtree(leaf.Node(), l) {
		return r
	}
	return l
}

// CopathChild returns the child of p (an ancestor of leaf) that is not on
// leaf's direct path.
func CopathChild(p NodeIndex, leaf LeafIndex) NodeIndex { return copathChild(p, leaf) }

// SetLeaf replaces leaf l's node without touching its direct path (used
// after MergePath for the committer's new leaf). Validate ln first.
func (t *Tree) SetLeaf(l LeafIndex, ln *wire.LeafNode) error {
	if int(l) >= len(t.leaves) {
		return fmt.Errorf("%w: %d", ErrLeafOutOfRange, l)
	}
	return t.setLeaf(l, ln)
}

// ResolutionExcluding appends the resolution of x without the leaves in
// exclude (new members added by the same Commit, RFC 9420, Section 7.6).
func (t *Tree) ResolutionExcluding(dst []NodeIndex, x NodeIndex, exclude []LeafIndex) []NodeIndex {
	start := len(dst)
	dst = t.Resolution(dst, x)
	if len(exclude) == 0 {
		return dst
	}
	out := dst[:start]
	for _, r := range dst[start:] {
		skip := false
		if r.IsLeaf() {
			for _, e := range exclude {
				if r.Leaf() == e {
					skip = true
					break
				}
			}
		}
		if !skip {
			out = append(out, r)
		}
	}
	return out
}
