package treekem

import (
	"errors"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treemath"
)

// RestorePrivateState rebuilds the state of the member at leaf from the
// private keys it holds (read back from storage): nodes[i] has key keys[i].
// The leaf's own key must be present and every other node must be an
// ancestor of the leaf (the tree invariant of RFC 9420, Section 7.4); nodes
// may come in any order but not twice. The keys are copied.
func RestorePrivateState(s *suite.Suite, leaf LeafIndex, nodes []NodeIndex, keys [][]byte) (*PrivateState, error) {
	if len(nodes) != len(keys) {
		return nil, fmt.Errorf("mls/treekem: RestorePrivateState: %d nodes, %d keys", len(nodes), len(keys))
	}
	p := &PrivateState{s: s, leaf: leaf}
	for i, x := range nodes {
		if err := p.checkNode(x, keys[i]); err != nil {
			p.Destroy()
			return nil, err
		}
		p.set(x, slices.Clone(keys[i]))
	}
	if _, ok := p.Key(leaf.Node()); !ok {
		p.Destroy()
		return nil, fmt.Errorf("mls/treekem: RestorePrivateState: no key for leaf %d", leaf)
	}
	return p, nil
}

func (p *PrivateState) checkNode(x NodeIndex, key []byte) error {
	if _, dup := p.Key(x); dup {
		return fmt.Errorf("mls/treekem: private state: node %d: %w", x, codec.ErrDuplicate)
	}
	if x != p.leaf.Node() && (x.IsLeaf() || !treemath.IsInSubtree(p.leaf.Node(), x)) {
		return fmt.Errorf("mls/treekem: private state: node %d is not on the direct path of leaf %d", x, p.leaf)
	}
	if len(key) == 0 {
		return fmt.Errorf("mls/treekem: private state: node %d: empty private key", x)
	}
	return nil
}

// SetLeafKey replaces the member's leaf private key (an Update proposal of
// the member's, committed by another member: RFC 9420, Sections 12.1.2 and
// 12.4.2). priv is copied; the old key is zeroed.
func (p *PrivateState) SetLeafKey(priv []byte) { p.set(p.leaf.Node(), slices.Clone(priv)) }

// MarshalBinary encodes the state canonically:
//
//	struct { uint32 leaf; struct { uint32 node; opaque priv<V>; } keys<V>; }
//
// with keys in increasing node order. The output holds private keys: store
// it encrypted.
func (p *PrivateState) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(nil)
}

// AppendBinary appends the MarshalBinary encoding to b.
func (p *PrivateState) AppendBinary(b []byte) ([]byte, error) {
	b = codec.AppendUint32(b, uint32(p.leaf))
	return codec.AppendVector(b, func(b []byte) []byte {
		for i, x := range p.nodes {
			b = codec.AppendUint32(b, uint32(x))
			b = codec.AppendOpaque(b, p.keys[i])
		}
		return b
	}), nil
}

var errUnsorted = errors.New("nodes not in increasing order")

// UnmarshalPrivateState decodes a MarshalBinary encoding strictly (nodes in
// increasing order, the leaf key present, only ancestors of the leaf). The
// keys are copied out of data.
func UnmarshalPrivateState(s *suite.Suite, data []byte) (*PrivateState, error) {
	r := codec.NewReader(data)
	p := &PrivateState{s: s, leaf: LeafIndex(r.Uint32("leaf"))}
	r.Vector("keys", func(r *codec.Reader) {
		x := NodeIndex(r.Uint32("node"))
		key := r.Opaque("priv")
		if r.Err() != nil {
			return
		}
		if n := len(p.nodes); n > 0 && x <= p.nodes[n-1] {
			r.Fail("node", errUnsorted)
			return
		}
		if err := p.checkNode(x, key); err != nil {
			r.Fail("node", err)
			return
		}
		p.nodes = append(p.nodes, x)
		p.keys = append(p.keys, slices.Clone(key))
	})
	if err := r.Finish("mls/treekem: PrivateState"); err != nil {
		p.Destroy()
		return nil, err
	}
	if _, ok := p.Key(p.leaf.Node()); !ok {
		p.Destroy()
		return nil, fmt.Errorf("mls/treekem: PrivateState: no key for leaf %d", p.leaf)
	}
	return p, nil
}
