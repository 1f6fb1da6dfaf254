package prefix

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Terminal says how a lookup path ends.
type Terminal uint8

const (
	// TerminalEmpty: the tree is empty (no steps).
	TerminalEmpty Terminal = 0
	// TerminalMember: the path ends at the label's own leaf.
	TerminalMember Terminal = 1
	// TerminalOther: the path ends at the leaf of a different label, which
	// proves the label absent.
	TerminalOther Terminal = 2
)

// Step is one inner node on the path from the root: the bit it branches on
// and the hash of the child the path does not take.
type Step struct {
	Depth   uint8
	Sibling [Size]byte
}

// Proof proves a label's value, or its absence, under a root.
type Proof struct {
	Steps    []Step // from the root down, depths strictly increasing
	Terminal Terminal
	Other    Entry // the leaf met instead, when Terminal is TerminalOther
}

// Prove returns the proof of label's value or absence in t.
func (t *Tree) Prove(label [Size]byte) *Proof {
	p := &Proof{}
	if t == nil || t.root == nil {
		return p
	}
	n := t.root
	for n.inner() {
		if bit(&label, int(n.depth)) == 0 {
			p.Steps = append(p.Steps, Step{n.depth, n.right.hash})
			n = n.left
		} else {
			p.Steps = append(p.Steps, Step{n.depth, n.left.hash})
			n = n.right
		}
	}
	if n.leaf.Label == label {
		p.Terminal = TerminalMember
	} else {
		p.Terminal = TerminalOther
		p.Other = *n.leaf
	}
	return p
}

// Errors returned by Verify.
var (
	ErrRootMismatch = errors.New("keydir/prefix: proof does not match the root")
	ErrMalformed    = errors.New("keydir/prefix: malformed proof")
	ErrWrongKind    = errors.New("keydir/prefix: proof shows presence where absence was claimed, or the reverse")
)

// Verify checks p against root for label. With value non-nil it checks that
// label maps to *value; with value nil it checks that label is absent.
func Verify(root, label [Size]byte, value *[Size]byte, p *Proof) error {
	for i, s := range p.Steps {
		if i > 0 && s.Depth <= p.Steps[i-1].Depth {
			return fmt.Errorf("%w: step %d depth %d not after %d", ErrMalformed, i, s.Depth, p.Steps[i-1].Depth)
		}
	}
	var h [Size]byte
	switch p.Terminal {
	case TerminalEmpty:
		if len(p.Steps) != 0 {
			return fmt.Errorf("%w: empty terminal below inner nodes", ErrMalformed)
		}
		if value != nil {
			return ErrWrongKind
		}
		h = EmptyRoot()
	case TerminalMember:
		if value == nil {
			return ErrWrongKind
		}
		h = LeafHash(label, *value)
	case TerminalOther:
		if value != nil {
			return ErrWrongKind
		}
		if p.Other.Label == label {
			return fmt.Errorf("%w: absence proof ends at the label itself", ErrMalformed)
		}
		for _, s := range p.Steps {
			if bit(&p.Other.Label, int(s.Depth)) != bit(&label, int(s.Depth)) {
				return fmt.Errorf("%w: terminal leaf is off the label's path", ErrMalformed)
			}
		}
		h = LeafHash(p.Other.Label, p.Other.Value)
	default:
		return fmt.Errorf("%w: terminal %d", ErrMalformed, p.Terminal)
	}
	for i := len(p.Steps) - 1; i >= 0; i-- {
		s := p.Steps[i]
		if bit(&label, int(s.Depth)) == 0 {
			h = NodeHash(s.Depth, h, s.Sibling)
		} else {
			h = NodeHash(s.Depth, s.Sibling, h)
		}
	}
	if subtle.ConstantTimeCompare(h[:], root[:]) != 1 {
		return ErrRootMismatch
	}
	return nil
}

// Marshal encodes p:
//
//	struct {
//	  uint8 terminal;                  // 0 empty, 1 member, 2 other
//	  opaque other_label[32];          // terminal == 2 only
//	  opaque other_value[32];          // terminal == 2 only
//	  struct { uint8 depth; opaque sibling[32]; } steps<0..2^16-1>;
//	}
func (p *Proof) Marshal() []byte {
	b := cryptobyte.NewBuilder(make([]byte, 0, 3+65+len(p.Steps)*33))
	b.AddUint8(uint8(p.Terminal))
	if p.Terminal == TerminalOther {
		b.AddBytes(p.Other.Label[:])
		b.AddBytes(p.Other.Value[:])
	}
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range p.Steps {
			b.AddUint8(s.Depth)
			b.AddBytes(s.Sibling[:])
		}
	})
	return b.BytesOrPanic()
}

// ParseProof decodes a proof strictly: unknown terminals, depths that do not
// increase, and trailing bytes are rejected.
func ParseProof(data []byte) (*Proof, error) {
	s := cryptobyte.String(data)
	p, err := ReadProof(&s)
	if err != nil {
		return nil, err
	}
	if !s.Empty() {
		return nil, fmt.Errorf("keydir/prefix: Proof: %d trailing bytes", len(s))
	}
	return p, nil
}

// ReadProof decodes one proof from s, for callers that embed proofs in
// larger structures.
func ReadProof(s *cryptobyte.String) (*Proof, error) {
	p := &Proof{}
	var t uint8
	if !s.ReadUint8(&t) {
		return nil, errors.New("keydir/prefix: Proof.terminal: truncated")
	}
	p.Terminal = Terminal(t)
	switch p.Terminal {
	case TerminalEmpty, TerminalMember:
	case TerminalOther:
		if !s.CopyBytes(p.Other.Label[:]) || !s.CopyBytes(p.Other.Value[:]) {
			return nil, errors.New("keydir/prefix: Proof.other: truncated")
		}
	default:
		return nil, fmt.Errorf("keydir/prefix: Proof.terminal: unknown value %d", t)
	}
	var steps cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&steps) {
		return nil, errors.New("keydir/prefix: Proof.steps: truncated")
	}
	if len(steps)%(1+Size) != 0 {
		return nil, errors.New("keydir/prefix: Proof.steps: length not a multiple of 33")
	}
	p.Steps = make([]Step, 0, len(steps)/(1+Size))
	for !steps.Empty() {
		var st Step
		steps.ReadUint8(&st.Depth)
		steps.CopyBytes(st.Sibling[:])
		if n := len(p.Steps); n > 0 && st.Depth <= p.Steps[n-1].Depth {
			return nil, fmt.Errorf("keydir/prefix: Proof.steps[%d].depth: %d not after %d", n, st.Depth, p.Steps[n-1].Depth)
		}
		p.Steps = append(p.Steps, st)
	}
	if p.Terminal == TerminalEmpty && len(p.Steps) != 0 {
		return nil, errors.New("keydir/prefix: Proof.steps: empty terminal below inner nodes")
	}
	return p, nil
}
