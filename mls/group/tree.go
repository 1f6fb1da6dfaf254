package group

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treemath"
)

// treeNode is one node of a ratchet tree: a leaf, a parent, or blank (both nil).
type treeNode struct {
	leaf   *leafNode
	parent *parentNode
}

func (n treeNode) blank() bool { return n.leaf == nil && n.parent == nil }

// ratchetTree is the array representation of a ratchet tree (RFC 9420, Section 7,
// Appendix C); len(nodes) is always 2^k*2-1.
type ratchetTree struct {
	nodes []treeNode
}

func (t *ratchetTree) nLeaves() uint32 { return uint32(len(t.nodes)+1) / 2 }

func (t *ratchetTree) leaf(l uint32) *leafNode {
	if 2*l >= uint32(len(t.nodes)) {
		return nil
	}
	return t.nodes[2*l].leaf
}

func (t *ratchetTree) clone() *ratchetTree {
	c := &ratchetTree{nodes: make([]treeNode, len(t.nodes))}
	for i, n := range t.nodes {
		if n.leaf != nil {
			l := *n.leaf
			c.nodes[i].leaf = &l
		}
		if n.parent != nil {
			p := *n.parent
			p.unmergedLeaves = append([]uint32(nil), n.parent.unmergedLeaves...)
			c.nodes[i].parent = &p
		}
	}
	return c
}

// marshal encodes vector<optional<Node>> without trailing blanks (Section 12.4.3.3).
func (t *ratchetTree) marshal() []byte {
	last := len(t.nodes) - 1
	for last >= 0 && t.nodes[last].blank() {
		last--
	}
	var w builder
	w.vector(func(w *builder) {
		for _, n := range t.nodes[:last+1] {
			switch {
			case n.leaf != nil:
				w.u8(1)
				w.u8(nodeLeaf)
				n.leaf.marshal(w)
			case n.parent != nil:
				w.u8(1)
				w.u8(nodeParent)
				n.parent.marshal(w)
			default:
				w.u8(0)
			}
		}
	})
	return w.b
}

// parseRatchetTree decodes a ratchet_tree (Section 12.4.3.3): the last node must be
// non-blank, leaves at even positions, parents at odd ones.
func parseRatchetTree(b []byte) (*ratchetTree, error) {
	r := &reader{b: b}
	var nodes []treeNode
	r.vector("ratchet_tree", func(r *reader) {
		var n treeNode
		if r.optional("ratchet_tree.node") {
			switch typ := r.u8("node.node_type"); typ {
			case nodeLeaf:
				n.leaf = new(leafNode)
				n.leaf.parse(r)
			case nodeParent:
				n.parent = new(parentNode)
				n.parent.parse(r)
			default:
				r.fail("node.node_type", errEnum)
			}
		}
		nodes = append(nodes, n)
	})
	if err := r.done("ratchet_tree"); err != nil {
		return nil, fmt.Errorf("mls/group: ratchet_tree: %w", err)
	}
	if len(nodes) == 0 || nodes[len(nodes)-1].blank() {
		return nil, fmt.Errorf("mls/group: ratchet_tree: empty or ends with a blank node")
	}
	if len(nodes)%2 == 0 {
		return nil, fmt.Errorf("mls/group: ratchet_tree: even number of nodes")
	}
	for i, n := range nodes {
		if (i%2 == 0 && n.parent != nil) || (i%2 == 1 && n.leaf != nil) {
			return nil, fmt.Errorf("mls/group: ratchet_tree: node %d has the wrong type", i)
		}
	}
	w := uint32(1)
	for nodeWidth(w) < uint32(len(nodes)) {
		w *= 2
	}
	full := make([]treeNode, nodeWidth(w))
	copy(full, nodes)
	return &ratchetTree{nodes: full}, nil
}

// resolution implements the resolution of node x (Section 4.1.1).
func (t *ratchetTree) resolution(x uint32) []uint32 {
	n := t.nodes[x]
	switch {
	case n.leaf != nil:
		return []uint32{x}
	case n.parent != nil:
		out := []uint32{x}
		for _, u := range n.parent.unmergedLeaves {
			out = append(out, 2*u)
		}
		return out
	case isLeafNode(x):
		return nil
	}
	return append(t.resolution(left(x)), t.resolution(right(x))...)
}

// filteredDirectPath returns the filtered direct path of leaf l (Section 4.1.2)
// and, for each entry, the copath child.
func (t *ratchetTree) filteredDirectPath(l uint32) (path, copathChild []uint32) {
	x := 2 * l
	for _, p := range directPath(x, t.nLeaves()) {
		c := left(p)
		if isAncestor(c, x) {
			c = right(p)
		}
		if len(t.resolution(c)) > 0 {
			path = append(path, p)
			copathChild = append(copathChild, c)
		}
	}
	return path, copathChild
}

// addLeaf places ln in the leftmost blank leaf, growing the tree if needed, and adds
// the leaf to unmerged_leaves of its non-blank ancestors (Sections 7.7, 12.1.1).
func (t *ratchetTree) addLeaf(ln *leafNode) uint32 {
	var l uint32
	for l = 0; l < t.nLeaves(); l++ {
		if t.nodes[2*l].blank() {
			break
		}
	}
	if l == t.nLeaves() {
		grown := make([]treeNode, nodeWidth(2*t.nLeaves()))
		copy(grown, t.nodes)
		t.nodes = grown
	}
	t.nodes[2*l] = treeNode{leaf: ln}
	for _, p := range directPath(2*l, t.nLeaves()) {
		if pn := t.nodes[p].parent; pn != nil {
			pn.unmergedLeaves = append(pn.unmergedLeaves, l)
		}
	}
	return l
}

// blankPath blanks leaf l's direct path.
func (t *ratchetTree) blankPath(l uint32) {
	for _, p := range directPath(2*l, t.nLeaves()) {
		t.nodes[p] = treeNode{}
	}
}

// removeLeaf blanks leaf l and its direct path, then truncates (Section 12.1.3).
func (t *ratchetTree) removeLeaf(l uint32) {
	t.nodes[2*l] = treeNode{}
	t.blankPath(l)
	for t.nLeaves() > 1 {
		half := t.nLeaves() / 2
		empty := true
		for i := half; i < t.nLeaves(); i++ {
			if !t.nodes[2*i].blank() {
				empty = false
				break
			}
		}
		if !empty {
			break
		}
		t.nodes = t.nodes[:nodeWidth(half)]
	}
}

// updateLeaf replaces leaf l and blanks its direct path (Section 12.1.2).
func (t *ratchetTree) updateLeaf(l uint32, ln *leafNode) {
	t.nodes[2*l] = treeNode{leaf: ln}
	t.blankPath(l)
}

// treeHash implements the tree hash (Section 7.8).
func (t *ratchetTree) treeHash(s *suite.Suite, x uint32) []byte {
	var w builder
	if isLeafNode(x) {
		w.u8(nodeLeaf)
		w.u32(x / 2)
		n := t.nodes[x]
		w.optional(n.leaf != nil, func(w *builder) { n.leaf.marshal(w) })
	} else {
		w.u8(nodeParent)
		n := t.nodes[x]
		w.optional(n.parent != nil, func(w *builder) { n.parent.marshal(w) })
		w.opaque(t.treeHash(s, left(x)))
		w.opaque(t.treeHash(s, right(x)))
	}
	return s.Hash(w.b)
}

func (t *ratchetTree) rootHash(s *suite.Suite) []byte { return t.treeHash(s, rootOf(t.nLeaves())) }

// parentHash implements the parent hash of p with copath child sibling (Section 7.9):
// the sibling's tree hash is computed over the tree with p's unmerged leaves removed.
func (t *ratchetTree) parentHash(s *suite.Suite, p, sibling uint32) []byte {
	pn := t.nodes[p].parent
	th := t.originalTreeHash(s, sibling, pn.unmergedLeaves)
	var w builder
	w.opaque(pn.encryptionKey)
	w.opaque(pn.parentHash)
	w.opaque(th)
	return s.Hash(w.b)
}

// originalTreeHash is the tree hash of x with the given leaves blanked and removed
// from every unmerged_leaves list.
func (t *ratchetTree) originalTreeHash(s *suite.Suite, x uint32, drop []uint32) []byte {
	if len(drop) == 0 {
		return t.treeHash(s, x)
	}
	c := t.clone()
	dropSet := map[uint32]bool{}
	for _, u := range drop {
		dropSet[u] = true
		c.nodes[2*u] = treeNode{}
	}
	for i := range c.nodes {
		if pn := c.nodes[i].parent; pn != nil {
			kept := pn.unmergedLeaves[:0]
			for _, u := range pn.unmergedLeaves {
				if !dropSet[u] {
					kept = append(kept, u)
				}
			}
			pn.unmergedLeaves = kept
		}
	}
	return c.treeHash(s, x)
}

// setPathParentHashes computes parent hashes along leaf l's filtered direct path from
// the root down, storing them in the parent nodes, and returns the leaf's parent_hash
// (Section 7.9). The path nodes must already hold their new public keys.
func (t *ratchetTree) setPathParentHashes(s *suite.Suite, l uint32) []byte {
	path, cop := t.filteredDirectPath(l)
	ph := []byte{}
	for i := len(path) - 1; i >= 0; i-- {
		t.nodes[path[i]].parent.parentHash = ph
		ph = t.parentHash(s, path[i], cop[i])
	}
	return ph
}

// verifyParentHashes checks that every non-blank parent node is parent-hash valid
// with respect to exactly one descendant (Section 7.9.2, top-down).
func (t *ratchetTree) verifyParentHashes(s *suite.Suite) error {
	for p := uint32(1); p < uint32(len(t.nodes)); p += 2 {
		if t.nodes[p].parent == nil {
			continue
		}
		count := 0
		for _, pair := range [2][2]uint32{{left(p), right(p)}, {right(p), left(p)}} {
			c, sib := pair[0], pair[1]
			ph := t.parentHash(s, p, sib)
			// D must be in the resolution of C, and P's unmerged leaves under C must
			// equal the resolution of C without D.
			res := t.resolution(c)
			unmergedUnderC := map[uint32]bool{}
			for _, u := range t.nodes[p].parent.unmergedLeaves {
				if isAncestor(c, 2*u) {
					unmergedUnderC[2*u] = true
				}
			}
			for _, d := range res {
				var dph []byte
				if n := t.nodes[d]; n.leaf != nil {
					if n.leaf.source != leafSourceCommit {
						continue
					}
					dph = n.leaf.parentHash
				} else {
					dph = n.parent.parentHash
				}
				if !bytes.Equal(dph, ph) {
					continue
				}
				rest := 0
				ok := true
				for _, x := range res {
					if x == d {
						continue
					}
					rest++
					if !unmergedUnderC[x] {
						ok = false
					}
				}
				if ok && rest == len(unmergedUnderC) {
					count++
				}
			}
		}
		if count != 1 {
			return fmt.Errorf("mls/group: ratchet_tree: parent node %d is not parent-hash valid", p)
		}
	}
	return nil
}

var errTree = errors.New("invalid ratchet tree")

// findLeafByEncryptionKey and friends support uniqueness checks (Section 7.3).
func (t *ratchetTree) leaves() []uint32 {
	var out []uint32
	for l := uint32(0); l < t.nLeaves(); l++ {
		if t.nodes[2*l].leaf != nil {
			out = append(out, l)
		}
	}
	return out
}

// Tree arithmetic (RFC 9420, Appendix C) comes from mls/treemath; these adapters
// keep the group layer's uint32 node indices until the tree moves onto mls/tree.

func isLeafNode(x uint32) bool { return treemath.NodeIndex(x).IsLeaf() }

func nodeWidth(nLeaves uint32) uint32 { return treemath.NodeWidth(nLeaves) }

func rootOf(nLeaves uint32) uint32 { return uint32(treemath.Root(nLeaves)) }

func left(x uint32) uint32 {
	c, _ := treemath.Left(treemath.NodeIndex(x))
	return uint32(c)
}

func right(x uint32) uint32 {
	c, _ := treemath.Right(treemath.NodeIndex(x))
	return uint32(c)
}

// directPath returns the direct path of node x (excluding x, including the root).
func directPath(x, nLeaves uint32) []uint32 {
	var buf [32]treemath.NodeIndex
	d := treemath.DirectPath(buf[:0], treemath.NodeIndex(x), nLeaves)
	if len(d) == 0 {
		return nil
	}
	out := make([]uint32, len(d))
	for i, n := range d {
		out[i] = uint32(n)
	}
	return out
}

// isAncestor reports whether a is an ancestor of (or equal to) d.
func isAncestor(a, d uint32) bool {
	na, nd := treemath.NodeIndex(a), treemath.NodeIndex(d)
	return treemath.Level(na) >= treemath.Level(nd) && treemath.IsInSubtree(nd, na)
}

// commonAncestor returns the lowest common ancestor of nodes x and y.
func commonAncestor(x, y uint32) uint32 {
	return uint32(treemath.CommonAncestor(treemath.NodeIndex(x), treemath.NodeIndex(y)))
}
