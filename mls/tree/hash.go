package tree

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

func (t *Tree) isValid(x NodeIndex) bool { return t.valid[x>>6]&(1<<(x&63)) != 0 }

// TreeHash returns the tree hash of the root (RFC 9420, Section 7.8), or nil
// for an empty tree. The result is a copy.
func (t *Tree) TreeHash() []byte {
	if len(t.leaves) == 0 {
		return nil
	}
	return slices.Clone(t.nodeHash(t.Root()))
}

// NodeTreeHash returns the tree hash of the subtree rooted at x (a copy).
func (t *Tree) NodeTreeHash(x NodeIndex) []byte {
	return slices.Clone(t.nodeHash(x))
}

// nodeHash returns the cached tree hash of x, recomputing stale nodes below.
// The result aliases the cache.
func (t *Tree) nodeHash(x NodeIndex) []byte {
	h := t.hashes[int(x)*t.nh : (int(x)+1)*t.nh]
	if t.isValid(x) {
		return h
	}
	var buf []byte
	if x.IsLeaf() {
		buf = t.appendLeafHashInput(make([]byte, 0, 512), x.Leaf(), !t.leaves[x.Leaf()].blank())
	} else {
		l, _ := treemath.Left(x)
		r, _ := treemath.Right(x)
		lh, rh := t.nodeHash(l), t.nodeHash(r)
		p := &t.parents[x>>1]
		buf = appendParentHashInput(make([]byte, 0, 256), p, nil, lh, rh)
	}
	copy(h, t.s.Hash(buf))
	t.valid[x>>6] |= 1 << (x & 63)
	return h
}

// appendLeafHashInput encodes TreeHashInput for a leaf (Section 7.8).
func (t *Tree) appendLeafHashInput(b []byte, l LeafIndex, present bool) []byte {
	b = append(b, byte(wire.NodeTypeLeaf))
	b = codec.AppendUint32(b, uint32(l))
	if !present {
		return append(b, 0)
	}
	return append(append(b, 1), t.leaves[l].node.Raw...)
}

// appendParentHashInput encodes TreeHashInput for a parent (Section 7.8);
// leaves listed in exclude are dropped from unmerged_leaves.
func appendParentHashInput(b []byte, p *parentSlot, exclude []uint32, lh, rh []byte) []byte {
	b = append(b, byte(wire.NodeTypeParent))
	if p.blank() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = codec.AppendOpaque(b, p.key)
		b = codec.AppendOpaque(b, p.parentHash)
		b = codec.AppendVector(b, func(b []byte) []byte {
			for _, u := range p.unmerged {
				if !slices.Contains(exclude, u) {
					b = codec.AppendUint32(b, u)
				}
			}
			return b
		})
	}
	b = codec.AppendOpaque(b, lh)
	return codec.AppendOpaque(b, rh)
}

// hashExcluding computes the tree hash of x in the tree where the leaves in
// exclude are blanked and removed from every unmerged_leaves list (the
// "original sibling tree hash" of Section 7.9). Subtrees containing no
// excluded leaf use the cache.
func (t *Tree) hashExcluding(x NodeIndex, exclude []uint32) []byte {
	touched := false
	for _, u := range exclude {
		if treemath.IsInSubtree(LeafIndex(u).Node(), x) {
			touched = true
			break
		}
	}
	if !touched {
		return t.nodeHash(x)
	}
	if x.IsLeaf() {
		return t.s.Hash(t.appendLeafHashInput(nil, x.Leaf(), false))
	}
	l, _ := treemath.Left(x)
	r, _ := treemath.Right(x)
	lh, rh := t.hashExcluding(l, exclude), t.hashExcluding(r, exclude)
	return t.s.Hash(appendParentHashInput(nil, &t.parents[x>>1], exclude, lh, rh))
}

// parentHash computes the parent hash of parent p with copath child s
// (Section 7.9): Hash(ParentHashInput{encryption_key, parent_hash,
// original_sibling_tree_hash}).
func (t *Tree) parentHash(p, s NodeIndex) []byte {
	ps := &t.parents[p>>1]
	osth := t.hashExcluding(s, ps.unmerged)
	b := make([]byte, 0, 16+len(ps.key)+len(ps.parentHash)+len(osth))
	b = codec.AppendOpaque(b, ps.key)
	b = codec.AppendOpaque(b, ps.parentHash)
	b = codec.AppendOpaque(b, osth)
	return t.s.Hash(b)
}

// nodeParentHash returns the parent_hash field of node d (a commit-source
// leaf or a parent), or nil if it has none.
func (t *Tree) nodeParentHash(d NodeIndex) ([]byte, bool) {
	if t.IsBlank(d) {
		return nil, false
	}
	if d.IsLeaf() {
		ln := t.leaves[d.Leaf()].node
		if ln.Source != wire.LeafNodeSourceCommit {
			return nil, false
		}
		return ln.ParentHash, true
	}
	return t.parents[d>>1].parentHash, true
}

// parentHashValidFrom reports whether some node D below child c of p has a
// parent hash valid with respect to p (Section 7.9.2): D is in the
// resolution of c, the unmerged leaves of p under c are exactly the rest of
// that resolution, and D.parent_hash is the parent hash of p with copath
// child s.
func (t *Tree) parentHashValidFrom(p, c, s NodeIndex, scratch []NodeIndex) (bool, []NodeIndex) {
	res := t.Resolution(scratch[:0], c)
	unmerged := t.parents[p>>1].unmerged
	var d NodeIndex
	found := 0
	for _, r := range res {
		if r.IsLeaf() && slices.Contains(unmerged, uint32(r.Leaf())) {
			continue
		}
		d = r
		found++
	}
	if found != 1 {
		return false, res
	}
	// Every unmerged leaf of p under c must appear in the resolution.
	for _, u := range unmerged {
		un := LeafIndex(u).Node()
		if treemath.IsInSubtree(un, c) && !slices.Contains(res, un) {
			return false, res
		}
	}
	ph, ok := t.nodeParentHash(d)
	if !ok {
		return false, res
	}
	return bytes.Equal(ph, t.parentHash(p, s)), res
}

// VerifyParentHashes checks that every non-blank parent node is parent-hash
// valid (RFC 9420, Section 7.9.2), top down: each has exactly one child
// side holding a node whose parent hash is valid with respect to it.
func (t *Tree) VerifyParentHashes() error {
	var scratch []NodeIndex
	for i := range t.parents {
		if t.parents[i].blank() {
			continue
		}
		p := NodeIndex(2*i + 1)
		l, _ := treemath.Left(p)
		r, _ := treemath.Right(p)
		var okL, okR bool
		okL, scratch = t.parentHashValidFrom(p, l, r, scratch)
		okR, scratch = t.parentHashValidFrom(p, r, l, scratch)
		if okL == okR {
			return fmt.Errorf("%w: node %d is not parent-hash valid", ErrInvalidParentHash, p)
		}
	}
	return nil
}

// ParentHashValid reports whether node p (non-blank parent) is covered by
// exactly one valid parent-hash link from below.
func (t *Tree) ParentHashValid(p NodeIndex) bool {
	if p.IsLeaf() || t.IsBlank(p) {
		return false
	}
	l, _ := treemath.Left(p)
	r, _ := treemath.Right(p)
	okL, _ := t.parentHashValidFrom(p, l, r, nil)
	okR, _ := t.parentHashValidFrom(p, r, l, nil)
	return okL != okR
}
