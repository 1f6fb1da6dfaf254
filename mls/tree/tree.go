// Package tree holds the MLS ratchet tree (RFC 9420, Sections 4 and 7): leaf
// and parent nodes in array order, blanks, unmerged leaves, resolutions, tree
// hashes with a per-node cache, parent hashes and their verification, leaf
// node and KeyPackage validation, and the ratchet_tree extension encoding.
//
// Storage is compact: leaves and parents live in two slices of small structs
// (no per-node maps or pointers); each leaf keeps the exact encoding it was
// set from with its fields aliasing it. Tree hashes are cached per node and
// invalidated along the direct path of every change, so recomputing the root
// hash after a path update touches O(log n) nodes.
//
// A Tree is not safe for concurrent mutation; Clone it to stage a commit.
package tree

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// NodeIndex and LeafIndex are the array positions of treemath.
type (
	NodeIndex = treemath.NodeIndex
	LeafIndex = treemath.LeafIndex
)

// Sentinel errors.
var (
	ErrInvalidTree       = errors.New("mls/tree: invalid ratchet tree")
	ErrBlankLeaf         = errors.New("mls/tree: blank leaf")
	ErrLeafOutOfRange    = errors.New("mls/tree: leaf index out of range")
	ErrInvalidLeafNode   = errors.New("mls/tree: invalid leaf node")
	ErrInvalidParentHash = errors.New("mls/tree: invalid parent hash")
	ErrInvalidKeyPackage = errors.New("mls/tree: invalid key package")
)

// leafSlot holds an immutable leaf (nil means blank): Clone copies one
// pointer per leaf, so staging a commit on a large tree is cheap.
type leafSlot struct {
	node *wire.LeafNode
}

func (l *leafSlot) blank() bool { return l.node == nil }

type parentSlot struct {
	key        []byte // nil means blank
	parentHash []byte
	unmerged   []uint32
}

func (p *parentSlot) blank() bool { return p.key == nil }

// Tree is a ratchet tree for one cipher suite. The zero value is not usable;
// use New, FromWire or Parse.
type Tree struct {
	s       *suite.Suite
	leaves  []leafSlot   // len = number of leaves (a power of two, or 0)
	parents []parentSlot // parent node x (odd) at x>>1; len = leaves-1
	hashes  []byte       // tree hash cache, node x at [x*nh:(x+1)*nh]
	valid   []uint64     // bitset: hashes[x] is current
	nh      int
}

// New returns an empty tree for suite s.
func New(s *suite.Suite) *Tree { return &Tree{s: s, nh: s.Nh()} }

// Suite returns the tree's cipher suite.
func (t *Tree) Suite() *suite.Suite { return t.s }

// NumLeaves returns the number of leaf positions (a power of two).
func (t *Tree) NumLeaves() uint32 { return uint32(len(t.leaves)) }

// Width returns the number of nodes.
func (t *Tree) Width() uint32 { return treemath.NodeWidth(t.NumLeaves()) }

// Root returns the root node index.
func (t *Tree) Root() NodeIndex { return treemath.Root(t.NumLeaves()) }

// Clone returns a deep-enough copy: node contents are immutable once set, so
// they are shared; slices describing the structure are copied.
func (t *Tree) Clone() *Tree {
	c := &Tree{s: t.s, nh: t.nh}
	c.leaves = append([]leafSlot(nil), t.leaves...)
	c.parents = append([]parentSlot(nil), t.parents...)
	c.hashes = append([]byte(nil), t.hashes...)
	c.valid = append([]uint64(nil), t.valid...)
	return c
}

// Leaf returns the leaf node at l, or false if l is blank or out of range.
// The returned node must not be modified.
func (t *Tree) Leaf(l LeafIndex) (*wire.LeafNode, bool) {
	if int(l) >= len(t.leaves) || t.leaves[l].blank() {
		return nil, false
	}
	return t.leaves[l].node, true
}

// IsBlank reports whether node x is blank (or outside the tree).
func (t *Tree) IsBlank(x NodeIndex) bool {
	if uint32(x) >= t.Width() {
		return true
	}
	if x.IsLeaf() {
		return t.leaves[x.Leaf()].blank()
	}
	return t.parents[x>>1].blank()
}

// EncryptionKey returns the HPKE public key of node x, or nil if blank.
func (t *Tree) EncryptionKey(x NodeIndex) []byte {
	if t.IsBlank(x) {
		return nil
	}
	if x.IsLeaf() {
		return t.leaves[x.Leaf()].node.EncryptionKey
	}
	return t.parents[x>>1].key
}

// ParentNode returns the parent node at x, or false if blank.
func (t *Tree) ParentNode(x NodeIndex) (wire.ParentNode, bool) {
	if x.IsLeaf() || t.IsBlank(x) {
		return wire.ParentNode{}, false
	}
	p := &t.parents[x>>1]
	return wire.ParentNode{EncryptionKey: p.key, ParentHash: p.parentHash, UnmergedLeaves: p.unmerged}, true
}

// UnmergedLeaves returns the unmerged leaves of parent x (not to be modified).
func (t *Tree) UnmergedLeaves(x NodeIndex) []uint32 {
	if x.IsLeaf() || t.IsBlank(x) {
		return nil
	}
	return t.parents[x>>1].unmerged
}

// Members calls f for every non-blank leaf in index order; f returns false to stop.
func (t *Tree) Members(f func(LeafIndex, *wire.LeafNode) bool) {
	for i := range t.leaves {
		if !t.leaves[i].blank() && !f(LeafIndex(i), t.leaves[i].node) {
			return
		}
	}
}

// MemberCount returns the number of non-blank leaves.
func (t *Tree) MemberCount() int {
	n := 0
	for i := range t.leaves {
		if !t.leaves[i].blank() {
			n++
		}
	}
	return n
}

// invalidate marks x and its ancestors' tree hashes stale.
func (t *Tree) invalidate(x NodeIndex) {
	n := t.NumLeaves()
	for {
		if int(x>>6) < len(t.valid) {
			t.valid[x>>6] &^= 1 << (x & 63)
		}
		p, ok := treemath.Parent(x, n)
		if !ok {
			return
		}
		x = p
	}
}

// canonicalLeaf returns a copy of ln whose fields alias its own fresh
// encoding, so the tree never shares memory with the caller.
func canonicalLeaf(ln *wire.LeafNode) (*wire.LeafNode, error) {
	return wire.ParseLeafNode(ln.Marshal())
}

// setLeaf stores ln (nil blanks the leaf).
func (t *Tree) setLeaf(l LeafIndex, ln *wire.LeafNode) error {
	if ln == nil {
		t.leaves[l] = leafSlot{}
	} else {
		c, err := canonicalLeaf(ln)
		if err != nil {
			return err
		}
		t.leaves[l] = leafSlot{node: c}
	}
	t.invalidate(l.Node())
	return nil
}

// setParent stores a parent node (key nil blanks it).
func (t *Tree) setParent(x NodeIndex, p parentSlot) {
	t.parents[x>>1] = p
	t.invalidate(x)
}

// grow extends the tree to n leaves (a power of two, at least the current size).
func (t *Tree) grow(n uint32) {
	if n <= t.NumLeaves() {
		return
	}
	old := t.NumLeaves()
	t.leaves = append(t.leaves, make([]leafSlot, n-old)...)
	np := int(n) - 1
	t.parents = append(t.parents, make([]parentSlot, np-len(t.parents))...)
	w := int(treemath.NodeWidth(n))
	ow := int(treemath.NodeWidth(old))
	t.hashes = append(t.hashes, make([]byte, w*t.nh-len(t.hashes))...)
	t.valid = append(t.valid, make([]uint64, (w+63)/64-len(t.valid))...)
	// Cache bits of the new nodes may survive from before a truncation.
	for x := ow; x < w; x++ {
		t.valid[x>>6] &^= 1 << (x & 63)
	}
	// New root and right subtree are stale; the old root's ancestors too.
	t.invalidate(treemath.Root(n))
}

// extend doubles the tree (RFC 9420, Section 7.7).
func (t *Tree) extend() {
	if t.NumLeaves() == 0 {
		t.grow(1)
		return
	}
	t.grow(2 * t.NumLeaves())
}

// Truncate removes the right half while it is entirely blank (RFC 9420,
// Sections 7.7 and 12.1.3). An empty tree stays empty.
func (t *Tree) Truncate() {
	for len(t.leaves) > 1 {
		half := len(t.leaves) / 2
		for i := half; i < len(t.leaves); i++ {
			if !t.leaves[i].blank() {
				return
			}
		}
		t.shrink(uint32(half))
	}
}

func (t *Tree) shrink(n uint32) {
	t.leaves = t.leaves[:n:n]
	t.parents = t.parents[: n-1 : n-1]
	w := int(treemath.NodeWidth(n))
	t.hashes = t.hashes[: w*t.nh : w*t.nh]
	t.valid = t.valid[: (w+63)/64 : (w+63)/64]
	// Subtree hashes of the kept left half are unchanged.
}

// AddLeaf adds ln at the leftmost blank leaf, extending the tree if there is
// none, and records the new leaf as unmerged at every non-blank ancestor
// (RFC 9420, Section 12.1.1). Validate ln first (ValidateLeafNode or
// VerifyKeyPackage): AddLeaf does not.
func (t *Tree) AddLeaf(ln *wire.LeafNode) (LeafIndex, error) {
	l := -1
	for i := range t.leaves {
		if t.leaves[i].blank() {
			l = i
			break
		}
	}
	if l < 0 {
		l = len(t.leaves)
		t.extend()
	}
	li := LeafIndex(l)
	if err := t.setLeaf(li, ln); err != nil {
		return 0, err
	}
	n := t.NumLeaves()
	for _, p := range treemath.DirectPath(nil, li.Node(), n) {
		if ps := &t.parents[p>>1]; !ps.blank() {
			ps.unmerged = append(ps.unmerged[:len(ps.unmerged):len(ps.unmerged)], uint32(li))
			t.invalidate(p)
		}
	}
	return li, nil
}

// AddKeyPackage adds a verified KeyPackage's leaf (RFC 9420, Section 12.1.1).
func (t *Tree) AddKeyPackage(kp *VerifiedKeyPackage) (LeafIndex, error) {
	return t.AddLeaf(&kp.kp.LeafNode)
}

// UpdateLeaf replaces leaf l and blanks its direct path (RFC 9420, Section
// 12.1.2).
func (t *Tree) UpdateLeaf(l LeafIndex, ln *wire.LeafNode) error {
	if int(l) >= len(t.leaves) || t.leaves[l].blank() {
		return fmt.Errorf("%w: update of leaf %d", ErrBlankLeaf, l)
	}
	if err := t.setLeaf(l, ln); err != nil {
		return err
	}
	t.blankPath(l)
	return nil
}

// RemoveLeaf blanks leaf l and its direct path, then truncates (RFC 9420,
// Section 12.1.3).
func (t *Tree) RemoveLeaf(l LeafIndex) error {
	if int(l) >= len(t.leaves) || t.leaves[l].blank() {
		return fmt.Errorf("%w: remove of leaf %d", ErrBlankLeaf, l)
	}
	_ = t.setLeaf(l, nil)
	t.blankPath(l)
	t.Truncate()
	return nil
}

// blankPath blanks every parent on l's direct path.
func (t *Tree) blankPath(l LeafIndex) {
	n := t.NumLeaves()
	x := l.Node()
	for {
		p, ok := treemath.Parent(x, n)
		if !ok {
			return
		}
		if !t.parents[p>>1].blank() {
			t.parents[p>>1] = parentSlot{}
		}
		x = p
	}
}

// Resolution appends the resolution of x to dst (RFC 9420, Section 4.1.1):
// a non-blank node followed by its unmerged leaves, or the resolutions of a
// blank parent's children; a blank leaf resolves to nothing.
func (t *Tree) Resolution(dst []NodeIndex, x NodeIndex) []NodeIndex {
	if x.IsLeaf() {
		if !t.IsBlank(x) {
			dst = append(dst, x)
		}
		return dst
	}
	if p := &t.parents[x>>1]; !p.blank() {
		dst = append(dst, x)
		for _, u := range p.unmerged {
			dst = append(dst, LeafIndex(u).Node())
		}
		return dst
	}
	l, _ := treemath.Left(x)
	r, _ := treemath.Right(x)
	return t.Resolution(t.Resolution(dst, l), r)
}

// resolutionEmpty reports whether the resolution of x is empty, without
// building it.
func (t *Tree) resolutionEmpty(x NodeIndex) bool {
	if x.IsLeaf() {
		return t.IsBlank(x)
	}
	if !t.parents[x>>1].blank() {
		return false
	}
	// A blank parent resolves to the non-blank nodes below; any non-blank
	// leaf below suffices (parents are non-blank only above some leaf).
	lo, hi := treemath.LeftmostLeaf(x), treemath.RightmostLeaf(x)
	for i := lo; i <= hi; i++ {
		if !t.leaves[i].blank() {
			return false
		}
	}
	// Non-blank parents above only-blank leaves can still exist in a
	// malformed tree; check them too.
	for i := uint32(lo.Node()) + 1; i < uint32(hi.Node()); i += 2 {
		if !t.parents[i>>1].blank() {
			return false
		}
	}
	return true
}

// FilteredDirectPath returns the filtered direct path of leaf l: its direct
// path without the nodes whose copath child has an empty resolution (RFC
// 9420, Section 4.1.2).
func (t *Tree) FilteredDirectPath(l LeafIndex) []NodeIndex {
	n := t.NumLeaves()
	var out []NodeIndex
	x := l.Node()
	for {
		p, ok := treemath.Parent(x, n)
		if !ok {
			return out
		}
		s, _ := treemath.Sibling(x, n)
		if !t.resolutionEmpty(s) {
			out = append(out, p)
		}
		x = p
	}
}

// FromWire builds a tree from a decoded ratchet_tree extension, checking its
// structure (RFC 9420, Section 12.4.3.3): the last node is non-blank, leaves
// sit at even and parents at odd positions, and the tree is padded with blanks
// to 2^(d+1)-1 nodes. Semantic checks are in Validate.
func FromWire(s *suite.Suite, rt wire.RatchetTree) (*Tree, error) {
	t := New(s)
	if len(rt) == 0 {
		return nil, fmt.Errorf("%w: empty tree", ErrInvalidTree)
	}
	if rt[len(rt)-1] == nil {
		return nil, fmt.Errorf("%w: last node is blank", ErrInvalidTree)
	}
	if len(rt) > 1<<31 {
		return nil, fmt.Errorf("%w: too many nodes", ErrInvalidTree)
	}
	// Smallest power-of-two leaf count whose width covers every node.
	leaves := uint32(len(rt)+2) / 2
	n := uint32(1)
	if leaves > 1 {
		n = 1 << bits.Len32(leaves-1)
	}
	t.grow(n)
	for i, node := range rt {
		x := NodeIndex(i)
		if node == nil {
			continue
		}
		if x.IsLeaf() {
			if node.Leaf == nil {
				return nil, fmt.Errorf("%w: node %d: parent node at a leaf position", ErrInvalidTree, i)
			}
			c := *node.Leaf
			if c.Raw == nil {
				cc, err := canonicalLeaf(node.Leaf)
				if err != nil {
					return nil, err
				}
				c = *cc
			}
			t.leaves[x.Leaf()] = leafSlot{node: &c}
			continue
		}
		if node.Parent == nil {
			return nil, fmt.Errorf("%w: node %d: leaf node at a parent position", ErrInvalidTree, i)
		}
		p := node.Parent
		if len(p.EncryptionKey) == 0 {
			return nil, fmt.Errorf("%w: node %d: empty encryption key", ErrInvalidTree, i)
		}
		t.parents[x>>1] = parentSlot{key: p.EncryptionKey, parentHash: p.ParentHash, unmerged: p.UnmergedLeaves}
	}
	return t, nil
}

// Parse decodes a ratchet_tree extension body and builds the tree (FromWire).
func Parse(s *suite.Suite, b []byte) (*Tree, error) {
	rt, err := wire.ParseRatchetTree(b)
	if err != nil {
		return nil, err
	}
	return FromWire(s, rt)
}

// Wire returns the ratchet_tree extension content: nodes in array order with
// trailing blanks removed (RFC 9420, Section 12.4.3.3). Nodes alias the tree.
func (t *Tree) Wire() wire.RatchetTree {
	w := int(t.Width())
	last := -1
	for x := w - 1; x >= 0; x-- {
		if !t.IsBlank(NodeIndex(x)) {
			last = x
			break
		}
	}
	rt := make(wire.RatchetTree, last+1)
	for x := 0; x <= last; x++ {
		xi := NodeIndex(x)
		if t.IsBlank(xi) {
			continue
		}
		if xi.IsLeaf() {
			rt[x] = &wire.Node{Leaf: t.leaves[xi.Leaf()].node}
		} else {
			p := &t.parents[x>>1]
			rt[x] = &wire.Node{Parent: &wire.ParentNode{EncryptionKey: p.key, ParentHash: p.parentHash, UnmergedLeaves: p.unmerged}}
		}
	}
	return rt
}

// Append appends the ratchet_tree extension body.
func (t *Tree) Append(b []byte) []byte { return t.Wire().Append(b) }

// Marshal returns the ratchet_tree extension body.
func (t *Tree) Marshal() []byte { return t.Append(nil) }
