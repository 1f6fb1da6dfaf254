// Package prefix implements the Merkle prefix tree of the key directory: an
// authenticated map from 32-byte labels (VRF outputs) to 32-byte values
// (commitments to account records).
//
// The tree is a compressed binary trie. A leaf sits at the shortest prefix of
// its label that no other label shares; an inner node exists only where two
// labels diverge, and records the bit position (depth) at which they do.
// Hashes, SHA-256 with a one-byte domain tag:
//
//	empty tree  H(0x00)
//	leaf        H(0x01 || label || value)
//	inner node  H(0x02 || depth || left || right)
//
// Binding the depth into inner nodes makes a lookup unique: from a given root,
// a label's path is fixed (each node names the bit to branch on), so a root
// proves at most one value, or absence, for each label. This is the property
// the directory needs against equivocation. The design follows the prefix
// trees of CONIKS and of torchwood's prefix package (read, not copied).
//
// Trees are immutable: Insert returns a new tree sharing unchanged subtrees
// with the old one, so the directory keeps every epoch's tree for history
// proofs at the cost of only the changed paths.
package prefix

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
)

// Size of labels, values and hashes in bytes.
const Size = 32

const (
	tagEmpty = 0x00
	tagLeaf  = 0x01
	tagNode  = 0x02
)

// node is an immutable tree node: a leaf when leaf is non-nil, else an
// inner node (64 bytes; leaf data lives apart so inner nodes, most of the
// path-copied nodes, stay small).
type node struct {
	hash  [Size]byte
	left  *node
	right *node
	leaf  *Entry
	depth uint8 // inner: the bit on which children differ
}

func (n *node) inner() bool { return n.leaf == nil }

// Tree is an immutable Merkle prefix tree. The zero Tree is empty.
type Tree struct {
	root *node
	n    int
}

// EmptyRoot is the root hash of the empty tree.
func EmptyRoot() [Size]byte { return sha256.Sum256([]byte{tagEmpty}) }

// LeafHash returns the hash of a leaf.
func LeafHash(label, value [Size]byte) [Size]byte {
	var b [1 + 2*Size]byte
	b[0] = tagLeaf
	copy(b[1:], label[:])
	copy(b[1+Size:], value[:])
	return sha256.Sum256(b[:])
}

// NodeHash returns the hash of an inner node that branches on bit depth.
func NodeHash(depth uint8, left, right [Size]byte) [Size]byte {
	var b [2 + 2*Size]byte
	b[0] = tagNode
	b[1] = depth
	copy(b[2:], left[:])
	copy(b[2+Size:], right[:])
	return sha256.Sum256(b[:])
}

// bit returns bit i of label, most significant bit of byte 0 first.
func bit(label *[Size]byte, i int) int { return int(label[i/8]>>(7-uint(i%8))) & 1 }

// firstDiff returns the first bit position where a and b differ, or -1.
func firstDiff(a, b *[Size]byte) int {
	for i := range Size {
		if x := a[i] ^ b[i]; x != 0 {
			for j := range 8 {
				if x&(0x80>>uint(j)) != 0 {
					return i*8 + j
				}
			}
		}
	}
	return -1
}

func newLeaf(label, value [Size]byte) *node {
	return &node{hash: LeafHash(label, value), leaf: &Entry{label, value}}
}

func newInner(depth int, left, right *node) *node {
	return &node{hash: NodeHash(uint8(depth), left.hash, right.hash), depth: uint8(depth), left: left, right: right}
}

// Root returns the root hash of t.
func (t *Tree) Root() [Size]byte {
	if t == nil || t.root == nil {
		return EmptyRoot()
	}
	return t.root.hash
}

// Len returns the number of labels in t.
func (t *Tree) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Get returns the value of label and whether it is present.
func (t *Tree) Get(label [Size]byte) ([Size]byte, bool) {
	if t == nil || t.root == nil {
		return [Size]byte{}, false
	}
	n := t.root
	for n.inner() {
		if bit(&label, int(n.depth)) == 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	if n.leaf.Label != label {
		return [Size]byte{}, false
	}
	return n.leaf.Value, true
}

// Entry is one label and value.
type Entry struct {
	Label [Size]byte
	Value [Size]byte
}

// ErrDuplicateLabel is returned by Insert when a batch names a label twice.
var ErrDuplicateLabel = errors.New("keydir/prefix: duplicate label in batch")

// Insert returns a new tree with every entry of batch set (added or replaced).
// t is unchanged. The batch is applied in one pass, so each changed inner node
// is hashed once whatever the batch size.
func (t *Tree) Insert(batch []Entry) (*Tree, error) {
	es := slices.Clone(batch)
	slices.SortFunc(es, compareEntries)
	for i := 1; i < len(es); i++ {
		if es[i].Label == es[i-1].Label {
			return nil, ErrDuplicateLabel
		}
	}
	var root *node
	n := 0
	if t != nil {
		root, n = t.root, t.n
	}
	root, added := insert(root, es)
	return &Tree{root: root, n: n + added}, nil
}

// insert merges the sorted entries es into the subtree n and returns the new
// subtree and the number of labels added.
func insert(n *node, es []Entry) (*node, int) {
	switch {
	case len(es) == 0:
		return n, 0
	case n == nil:
		return build(es), len(es)
	case !n.inner():
		for _, e := range es {
			if e.Label == n.leaf.Label {
				if len(es) == 1 {
					return newLeaf(e.Label, e.Value), 0
				}
				return build(es), len(es) - 1
			}
		}
		all := make([]Entry, 0, len(es)+1)
		all = append(append(all, es...), *n.leaf)
		slices.SortFunc(all, compareEntries)
		return build(all), len(es)
	}
	// The labels under n share their bits before n.depth. The longest prefix
	// common to them and to the batch is that of the smallest and the largest
	// of all (es is sorted; ref stands for the subtree).
	ref := leftmost(n).leaf.Label
	lo, hi := es[0].Label, es[len(es)-1].Label
	if bytes.Compare(ref[:], lo[:]) < 0 {
		lo = ref
	}
	if bytes.Compare(ref[:], hi[:]) > 0 {
		hi = ref
	}
	if p := firstDiff(&lo, &hi); p >= 0 && p < int(n.depth) {
		// The batch diverges above n: a new inner node at bit p.
		i := partition(es, p)
		if bit(&ref, p) == 0 {
			l, a := insert(n, es[:i])
			return newInner(p, l, build(es[i:])), a + len(es) - i
		}
		r, a := insert(n, es[i:])
		return newInner(p, build(es[:i]), r), a + i
	}
	i := partition(es, int(n.depth))
	l, a := insert(n.left, es[:i])
	r, b := insert(n.right, es[i:])
	return newInner(int(n.depth), l, r), a + b
}

func compareEntries(a, b Entry) int { return bytes.Compare(a.Label[:], b.Label[:]) }

func leftmost(n *node) *node {
	for n.inner() {
		n = n.left
	}
	return n
}

// partition returns the index of the first entry with bit d set; es is sorted
// and its labels share their bits before d, so bit d is 0s then 1s.
func partition(es []Entry, d int) int {
	i, _ := slices.BinarySearchFunc(es, 1, func(e Entry, t int) int { return bit(&e.Label, d) - t })
	return i
}

// build returns the compressed subtree of the sorted, distinct entries es
// (at least one).
func build(es []Entry) *node {
	if len(es) == 1 {
		return newLeaf(es[0].Label, es[0].Value)
	}
	// In a sorted list the first bit on which the first and last differ is
	// the first bit on which any two differ.
	d := firstDiff(&es[0].Label, &es[len(es)-1].Label)
	i := partition(es, d)
	return newInner(d, build(es[:i]), build(es[i:]))
}
