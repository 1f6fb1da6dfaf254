// Package treemath implements array-based binary tree arithmetic (RFC 9420,
// Section 4.1 and Appendix C). Leaves sit at even node indices (leaf i is
// node 2i), parents at odd indices; a tree with n leaves (a power of two for
// ratchet trees, Section 7.8) has 2n-1 nodes.
package treemath

import "math/bits"

// NodeIndex is a position in the array representation of a tree.
type NodeIndex uint32

// LeafIndex is the index of a leaf among the leaves.
type LeafIndex uint32

// Node returns the node index of leaf l.
func (l LeafIndex) Node() NodeIndex { return NodeIndex(2 * l) }

// IsLeaf reports whether x is a leaf position.
func (x NodeIndex) IsLeaf() bool { return x&1 == 0 }

// Leaf returns the leaf index of the leaf node x (x must be a leaf).
func (x NodeIndex) Leaf() LeafIndex { return LeafIndex(x >> 1) }

// Level returns the level of x: 0 for leaves, the number of trailing one bits
// otherwise (Appendix C, level).
func Level(x NodeIndex) uint { return uint(bits.TrailingZeros32(^uint32(x))) }

// NodeWidth returns the number of nodes of a tree with n leaves (Appendix C).
func NodeWidth(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return 2*(n-1) + 1
}

// Root returns the root of a tree with n leaves (Appendix C, root).
func Root(n uint32) NodeIndex {
	w := NodeWidth(n)
	if w == 0 {
		return 0
	}
	return NodeIndex(1<<(bits.Len32(w)-1) - 1)
}

// Left returns the left child of x; ok is false for leaves.
func Left(x NodeIndex) (NodeIndex, bool) {
	k := Level(x)
	if k == 0 {
		return 0, false
	}
	return x ^ (1 << (k - 1)), true
}

// Right returns the right child of x; ok is false for leaves.
func Right(x NodeIndex) (NodeIndex, bool) {
	k := Level(x)
	if k == 0 {
		return 0, false
	}
	return x ^ (3 << (k - 1)), true
}

// parentStep returns the parent of x in an unbounded tree.
func parentStep(x NodeIndex) NodeIndex {
	k := Level(x)
	b := (x >> (k + 1)) & 1
	return (x | (1 << k)) ^ (b << (k + 1))
}

// Parent returns the parent of x in a tree with n leaves; ok is false for
// the root and for nodes outside the tree.
func Parent(x NodeIndex, n uint32) (NodeIndex, bool) {
	if x == Root(n) || uint32(x) >= NodeWidth(n) {
		return 0, false
	}
	return parentStep(x), true
}

// Sibling returns the other child of x's parent; ok is false for the root.
func Sibling(x NodeIndex, n uint32) (NodeIndex, bool) {
	p, ok := Parent(x, n)
	if !ok {
		return 0, false
	}
	if x < p {
		return Right(p)
	}
	return Left(p)
}

// DirectPath appends to dst the direct path of x (its ancestors, root last,
// excluding x) in a tree with n leaves (Section 4.1.2).
func DirectPath(dst []NodeIndex, x NodeIndex, n uint32) []NodeIndex {
	r := Root(n)
	if uint32(x) >= NodeWidth(n) {
		return dst
	}
	for x != r {
		x = parentStep(x)
		dst = append(dst, x)
	}
	return dst
}

// Copath appends to dst the copath of x: the sibling of x and of each node
// of its direct path except the root (Section 4.1.2).
func Copath(dst []NodeIndex, x NodeIndex, n uint32) []NodeIndex {
	r := Root(n)
	if uint32(x) >= NodeWidth(n) {
		return dst
	}
	for x != r {
		p := parentStep(x)
		if x < p {
			s, _ := Right(p)
			dst = append(dst, s)
		} else {
			s, _ := Left(p)
			dst = append(dst, s)
		}
		x = p
	}
	return dst
}

// CommonAncestor returns the lowest common ancestor of x and y (Appendix C,
// common_ancestor_direct).
func CommonAncestor(x, y NodeIndex) NodeIndex {
	lx, ly := Level(x)+1, Level(y)+1
	if lx <= ly && x>>ly == y>>ly {
		return y
	}
	if ly <= lx && x>>lx == y>>lx {
		return x
	}
	xn, yn := x, y
	k := uint(0)
	for xn != yn {
		xn >>= 1
		yn >>= 1
		k++
	}
	return (xn << k) + (1 << (k - 1)) - 1
}

// IsInSubtree reports whether x is in the subtree rooted at a.
func IsInSubtree(x, a NodeIndex) bool {
	k := Level(a)
	return x>>(k+1) == a>>(k+1)
}

// LeftmostLeaf and RightmostLeaf bound the leaves under node x.
func LeftmostLeaf(x NodeIndex) LeafIndex {
	k := Level(x)
	return LeafIndex((uint32(x) - (1<<k - 1)) >> 1)
}

// RightmostLeaf returns the last leaf under x.
func RightmostLeaf(x NodeIndex) LeafIndex {
	k := Level(x)
	return LeafIndex((uint32(x) + (1<<k - 1)) >> 1)
}
