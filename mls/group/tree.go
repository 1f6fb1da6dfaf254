package group

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// ratchetTree is the group layer's handle on an mls/tree ratchet tree (RFC 9420,
// Section 7): compact leaves, tree hashes cached per node, parent hashes,
// resolutions. Node indices are uint32 here (leaf L is node 2L).
// Leaves are mls/wire LeafNodes; mls/tree stores a canonical copy of each.
type ratchetTree struct {
	t *tree.Tree
}

// newRatchetTree returns a one-leaf tree holding first.
func newRatchetTree(s *suite.Suite, first *leafNode) (*ratchetTree, error) {
	rt := &ratchetTree{t: tree.New(s)}
	if _, err := rt.addLeaf(first); err != nil {
		return nil, err
	}
	return rt, nil
}

// parseRatchetTree decodes a ratchet_tree extension body (Section 12.4.3.3) with
// mls/tree's strict parser.
func parseRatchetTree(s *suite.Suite, b []byte) (*ratchetTree, error) {
	t, err := tree.Parse(s, b)
	if err != nil {
		return nil, fmt.Errorf("mls/group: ratchet_tree: %w", err)
	}
	return &ratchetTree{t: t}, nil
}

func (rt *ratchetTree) nLeaves() uint32 { return rt.t.NumLeaves() }

// width returns the number of nodes.
func (rt *ratchetTree) width() uint32 { return rt.t.Width() }

func (rt *ratchetTree) clone() *ratchetTree { return &ratchetTree{t: rt.t.Clone()} }

// marshal encodes vector<optional<Node>> without trailing blanks (Section 12.4.3.3).
func (rt *ratchetTree) marshal() []byte { return rt.t.Marshal() }

// wireLeaf returns leaf l, or nil if blank or out of range (not to be modified).
func (rt *ratchetTree) wireLeaf(l uint32) *wire.LeafNode {
	wl, ok := rt.t.Leaf(tree.LeafIndex(l))
	if !ok {
		return nil
	}
	return wl
}

func (rt *ratchetTree) hasLeaf(l uint32) bool { return rt.wireLeaf(l) != nil }

// leaf returns leaf l, or nil if blank (shared with the tree: copy before
// changing it).
func (rt *ratchetTree) leaf(l uint32) *leafNode { return rt.wireLeaf(l) }

// signatureKey returns leaf l's signature key, or nil if blank.
func (rt *ratchetTree) signatureKey(l uint32) []byte {
	if wl := rt.wireLeaf(l); wl != nil {
		return wl.SignatureKey
	}
	return nil
}

// identity returns leaf l's credential identity, or nil if blank.
func (rt *ratchetTree) identity(l uint32) []byte {
	if wl := rt.wireLeaf(l); wl != nil {
		return wl.Credential.Identity
	}
	return nil
}

// encKey returns the HPKE public key of node x, or nil if blank.
func (rt *ratchetTree) encKey(x uint32) []byte { return rt.t.EncryptionKey(treemath.NodeIndex(x)) }

// parent returns the parent node at x, or false if x is a leaf or blank.
func (rt *ratchetTree) parent(x uint32) (wire.ParentNode, bool) {
	return rt.t.ParentNode(treemath.NodeIndex(x))
}

// leaves returns the non-blank leaf indices in order.
func (rt *ratchetTree) leaves() []uint32 {
	var out []uint32
	rt.t.Members(func(l tree.LeafIndex, _ *wire.LeafNode) bool {
		out = append(out, uint32(l))
		return true
	})
	return out
}

// resolution implements the resolution of node x (Section 4.1.1).
func (rt *ratchetTree) resolution(x uint32) []uint32 {
	res := rt.t.Resolution(nil, treemath.NodeIndex(x))
	out := make([]uint32, len(res))
	for i, n := range res {
		out[i] = uint32(n)
	}
	return out
}

// filteredDirectPath returns the filtered direct path of leaf l (Section 4.1.2)
// and, for each entry, the copath child.
func (rt *ratchetTree) filteredDirectPath(l uint32) (path, copathChild []uint32) {
	fdp := rt.t.FilteredDirectPath(tree.LeafIndex(l))
	path = make([]uint32, len(fdp))
	copathChild = make([]uint32, len(fdp))
	for i, p := range fdp {
		path[i] = uint32(p)
		copathChild[i] = uint32(tree.CopathChild(p, tree.LeafIndex(l)))
	}
	return path, copathChild
}

// addLeaf places ln in the leftmost blank leaf, growing the tree if needed, and adds
// the leaf to unmerged_leaves of its non-blank ancestors (Sections 7.7, 12.1.1).
func (rt *ratchetTree) addLeaf(ln *leafNode) (uint32, error) {
	l, err := rt.t.AddLeaf(ln)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return uint32(l), nil
}

// removeLeaf blanks leaf l and its direct path, then truncates (Section 12.1.3).
func (rt *ratchetTree) removeLeaf(l uint32) error {
	if err := rt.t.RemoveLeaf(tree.LeafIndex(l)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// updateLeaf replaces leaf l and blanks its direct path (Section 12.1.2).
func (rt *ratchetTree) updateLeaf(l uint32, ln *leafNode) error {
	if err := rt.t.UpdateLeaf(tree.LeafIndex(l), ln); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// rootHash returns the tree hash of the root (Section 7.8), from mls/tree's cache.
func (rt *ratchetTree) rootHash() []byte { return rt.t.TreeHash() }

// verifyParentHashes checks that every non-blank parent node is parent-hash valid
// (Section 7.9.2).
func (rt *ratchetTree) verifyParentHashes() error { return rt.t.VerifyParentHashes() }

func leafIndices(ls []uint32) []tree.LeafIndex {
	out := make([]tree.LeafIndex, len(ls))
	for i, l := range ls {
		out[i] = tree.LeafIndex(l)
	}
	return out
}

// Tree arithmetic (RFC 9420, Appendix C) comes from mls/treemath; these adapters
// keep the group layer's uint32 node indices.

func isLeafNode(x uint32) bool { return treemath.NodeIndex(x).IsLeaf() }

// isAncestor reports whether a is an ancestor of (or equal to) d.
func isAncestor(a, d uint32) bool {
	na, nd := treemath.NodeIndex(a), treemath.NodeIndex(d)
	return treemath.Level(na) >= treemath.Level(nd) && treemath.IsInSubtree(nd, na)
}
