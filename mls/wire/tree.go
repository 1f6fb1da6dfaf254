package wire

import (
	"github.com/daylight-im/daylight/mls/codec"
)

// ParentNode (RFC 9420, Section 7.1).
type ParentNode struct {
	EncryptionKey  []byte
	ParentHash     []byte
	UnmergedLeaves []uint32
}

// Append encodes the ParentNode.
func (p *ParentNode) Append(b []byte) []byte {
	b = codec.AppendOpaque(b, p.EncryptionKey)
	b = codec.AppendOpaque(b, p.ParentHash)
	b = codec.AppendVarint(b, 4*len(p.UnmergedLeaves))
	for _, l := range p.UnmergedLeaves {
		b = codec.AppendUint32(b, l)
	}
	return b
}

func (p *ParentNode) decode(r *codec.Reader) {
	p.EncryptionKey = r.Opaque("encryption_key")
	p.ParentHash = r.Opaque("parent_hash")
	p.UnmergedLeaves = []uint32{}
	r.Vector("unmerged_leaves", func(r *codec.Reader) {
		p.UnmergedLeaves = append(p.UnmergedLeaves, r.Uint32("leaf_index"))
	})
}

// Node (RFC 9420, Section 7.8): exactly one of Leaf and Parent is set.
type Node struct {
	Leaf   *LeafNode
	Parent *ParentNode
}

// Type returns the node type.
func (n *Node) Type() NodeType {
	if n.Leaf != nil {
		return NodeTypeLeaf
	}
	return NodeTypeParent
}

// Append encodes the Node.
func (n *Node) Append(b []byte) []byte {
	if n.Leaf != nil {
		return n.Leaf.Append(codec.AppendUint8(b, uint8(NodeTypeLeaf)))
	}
	return n.Parent.Append(codec.AppendUint8(b, uint8(NodeTypeParent)))
}

func (n *Node) decode(r *codec.Reader) {
	switch t := NodeType(r.Uint8("node_type")); t {
	case NodeTypeLeaf:
		n.Leaf = new(LeafNode)
		r.Enter("leaf_node")
		n.Leaf.decode(r)
		r.Leave()
	case NodeTypeParent:
		n.Parent = new(ParentNode)
		r.Enter("parent_node")
		n.Parent.decode(r)
		r.Leave()
	default:
		if r.Err() == nil {
			badEnum(r, "node_type", uint64(t))
		}
	}
}

// RatchetTree is the content of the ratchet_tree extension (RFC 9420,
// Section 12.4.3.3): optional<Node> ratchet_tree<V>, in array-tree order; a
// nil entry is a blank node. Structural checks (odd length, leaves at even
// positions, no trailing blank) belong to mls/tree.
type RatchetTree []*Node

// Append encodes the tree.
func (t RatchetTree) Append(b []byte) []byte {
	return codec.AppendVector(b, func(b []byte) []byte {
		for _, n := range t {
			if n == nil {
				b = append(b, 0)
				continue
			}
			b = n.Append(append(b, 1))
		}
		return b
	})
}

// Marshal returns the encoding of the tree.
func (t RatchetTree) Marshal() []byte { return t.Append(nil) }

// ParseRatchetTree decodes a ratchet_tree extension body.
func ParseRatchetTree(b []byte) (RatchetTree, error) {
	r := codec.NewReader(b)
	t := RatchetTree{}
	r.Vector("ratchet_tree", func(r *codec.Reader) {
		if !r.Optional("node") {
			t = append(t, nil)
			return
		}
		n := new(Node)
		n.decode(r)
		t = append(t, n)
	})
	if err := r.Finish("mls/wire: RatchetTree"); err != nil {
		return nil, err
	}
	return t, nil
}

// HPKECiphertext (RFC 9420, Section 7.6).
type HPKECiphertext struct {
	KEMOutput  []byte
	Ciphertext []byte
}

// Append encodes the ciphertext.
func (c *HPKECiphertext) Append(b []byte) []byte {
	return codec.AppendOpaque(codec.AppendOpaque(b, c.KEMOutput), c.Ciphertext)
}

func (c *HPKECiphertext) decode(r *codec.Reader) {
	c.KEMOutput = r.Opaque("kem_output")
	c.Ciphertext = r.Opaque("ciphertext")
}

// UpdatePathNode (RFC 9420, Section 7.6).
type UpdatePathNode struct {
	EncryptionKey       []byte
	EncryptedPathSecret []HPKECiphertext
}

// UpdatePath (RFC 9420, Section 7.6).
type UpdatePath struct {
	LeafNode LeafNode
	Nodes    []UpdatePathNode
}

// Append encodes the UpdatePath.
func (u *UpdatePath) Append(b []byte) []byte {
	b = u.LeafNode.Append(b)
	return codec.AppendVector(b, func(b []byte) []byte {
		for i := range u.Nodes {
			n := &u.Nodes[i]
			b = codec.AppendOpaque(b, n.EncryptionKey)
			b = codec.AppendVector(b, func(b []byte) []byte {
				for j := range n.EncryptedPathSecret {
					b = n.EncryptedPathSecret[j].Append(b)
				}
				return b
			})
		}
		return b
	})
}

// Marshal returns the encoding of the UpdatePath.
func (u *UpdatePath) Marshal() []byte { return u.Append(nil) }

func (u *UpdatePath) decode(r *codec.Reader) {
	r.Enter("leaf_node")
	u.LeafNode.decode(r)
	r.Leave()
	u.Nodes = []UpdatePathNode{}
	r.Vector("nodes", func(r *codec.Reader) {
		var n UpdatePathNode
		n.EncryptionKey = r.Opaque("encryption_key")
		n.EncryptedPathSecret = []HPKECiphertext{}
		r.Vector("encrypted_path_secret", func(r *codec.Reader) {
			var c HPKECiphertext
			c.decode(r)
			n.EncryptedPathSecret = append(n.EncryptedPathSecret, c)
		})
		u.Nodes = append(u.Nodes, n)
	})
}

// ParseUpdatePath decodes an UpdatePath.
func ParseUpdatePath(b []byte) (*UpdatePath, error) {
	return parse("UpdatePath", b, func(u *UpdatePath, r *codec.Reader) { u.decode(r) })
}
