package secrettree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/daylight-im/daylight/mls/suite"
)

// The persisted form of a Tree (for a client's encrypted state store; it
// holds secrets and must be stored encrypted). Canonical and strictly
// decoded:
//
//	uint8  version = 1
//	uint16 cipher_suite
//	uint32 leaf_count
//	uint32 n_nodes;    n_nodes × { uint32 node; opaque secret[Nh] }      (node ascending)
//	uint32 n_leaves;   n_leaves × { uint32 leaf; Ratchet handshake; Ratchet application } (leaf ascending)
//	Ratchet = { uint8 done; uint32 next; opaque secret[Nh];
//	            uint32 n_skipped; n_skipped × { uint32 generation; opaque key[Nk]; opaque nonce[Nn] } } (generation ascending)
const persistVersion = 1

// MarshalBinary returns the tree's state. The output contains secrets.
func (t *Tree) MarshalBinary() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := []byte{persistVersion}
	b = binary.BigEndian.AppendUint16(b, uint16(t.s.ID()))
	b = binary.BigEndian.AppendUint32(b, t.leaves)
	b = binary.BigEndian.AppendUint32(b, uint32(len(t.nodes)))
	for _, n := range slices.Sorted(maps.Keys(t.nodes)) {
		b = binary.BigEndian.AppendUint32(b, n)
		b = append(b, t.nodes[n]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(t.ratchets)))
	for _, l := range slices.Sorted(maps.Keys(t.ratchets)) {
		b = binary.BigEndian.AppendUint32(b, l)
		lr := t.ratchets[l]
		for _, r := range []*ratchet{&lr.handshake, &lr.application} {
			done := byte(0)
			if r.done {
				done = 1
			}
			b = append(b, done)
			b = binary.BigEndian.AppendUint32(b, r.next)
			b = append(b, r.secret...)
			b = binary.BigEndian.AppendUint32(b, uint32(len(r.skipped)))
			for _, g := range slices.Sorted(maps.Keys(r.skipped)) {
				b = binary.BigEndian.AppendUint32(b, g)
				b = append(b, r.skipped[g].key...)
				b = append(b, r.skipped[g].nonce...)
			}
		}
	}
	return b, nil
}

type persistReader struct {
	b   []byte
	err error
}

func (r *persistReader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("%s: truncated", field)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *persistReader) u32(field string) uint32 {
	v := r.take(field, 4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *persistReader) failf(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
}

// ErrCorrupt is returned (wrapped) by Unmarshal for state that does not
// decode strictly or is inconsistent.
var ErrCorrupt = errors.New("mls/secrettree: corrupt tree state")

// Unmarshal restores a Tree from MarshalBinary output. s must be the suite
// the state was written with; cfg applies to the restored tree.
func Unmarshal(s *suite.Suite, data []byte, cfg Config) (*Tree, error) {
	r := &persistReader{b: data}
	if v := r.take("version", 1); v != nil && v[0] != persistVersion {
		r.failf("version %d", v[0])
	}
	if v := r.take("cipher_suite", 2); v != nil && suite.ID(binary.BigEndian.Uint16(v)) != s.ID() {
		r.failf("cipher_suite %#04x, want %#04x", binary.BigEndian.Uint16(v), uint16(s.ID()))
	}
	leaves := r.u32("leaf_count")
	if r.err == nil && (leaves == 0 || leaves > 1<<31 || leaves&(leaves-1) != 0) {
		r.failf("leaf_count %d is not a power of two", leaves)
	}
	t := &Tree{s: s, leaves: leaves, nodes: map[uint32][]byte{}, ratchets: map[uint32]*leafRatchets{}}
	nh, nk, nn := s.Nh(), s.Nk(), s.Nn()
	nNodes := r.u32("n_nodes")
	if r.err == nil && uint64(nNodes)*uint64(4+nh) > uint64(len(r.b)) {
		r.failf("n_nodes %d exceeds the data", nNodes)
	}
	prev := int64(-1)
	for i := uint32(0); i < nNodes && r.err == nil; i++ {
		n := r.u32("node")
		if r.err == nil && (int64(n) <= prev || uint64(n) >= 2*uint64(leaves)-1) {
			r.failf("node %d out of order or range", n)
		}
		prev = int64(n)
		if sec := r.take("node secret", nh); sec != nil {
			t.nodes[n] = append([]byte(nil), sec...)
		}
	}
	nLeaves := r.u32("n_leaves")
	if r.err == nil && uint64(nLeaves)*uint64(4+2*(9+nh)) > uint64(len(r.b)) {
		r.failf("n_leaves %d exceeds the data", nLeaves)
	}
	prev = -1
	for i := uint32(0); i < nLeaves && r.err == nil; i++ {
		l := r.u32("leaf")
		if r.err == nil && (int64(l) <= prev || l >= leaves) {
			r.failf("leaf %d out of order or range", l)
		}
		prev = int64(l)
		lr := &leafRatchets{}
		for _, rt := range []*ratchet{&lr.handshake, &lr.application} {
			if d := r.take("done", 1); d != nil {
				if d[0] > 1 {
					r.failf("done flag %d", d[0])
				}
				rt.done = d[0] == 1
			}
			rt.next = r.u32("next")
			if sec := r.take("ratchet secret", nh); sec != nil {
				rt.secret = append([]byte(nil), sec...)
			}
			nSkip := r.u32("n_skipped")
			if r.err == nil && uint64(nSkip)*uint64(4+nk+nn) > uint64(len(r.b)) {
				r.failf("n_skipped %d exceeds the data", nSkip)
			}
			prevG := int64(-1)
			for j := uint32(0); j < nSkip && r.err == nil; j++ {
				g := r.u32("generation")
				if r.err == nil && (int64(g) <= prevG || (g >= rt.next && !rt.done)) {
					r.failf("skipped generation %d out of order or not below next %d", g, rt.next)
				}
				prevG = int64(g)
				k, n := r.take("key", nk), r.take("nonce", nn)
				if r.err == nil {
					if rt.skipped == nil {
						rt.skipped = map[uint32]keyNonce{}
					}
					rt.skipped[g] = keyNonce{key: append([]byte(nil), k...), nonce: append([]byte(nil), n...)}
				}
			}
		}
		if r.err == nil {
			if _, ok := t.nodes[2*l]; ok {
				r.failf("leaf %d has both a node secret and ratchets", l)
			}
			t.ratchets[l] = lr
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.failf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		t.Destroy()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, r.err)
	}
	t.maxFwd, t.maxSkip = cfg.MaxForwardDistance, cfg.MaxSkippedKeys
	if t.maxFwd == 0 {
		t.maxFwd = DefaultMaxForwardDistance
	}
	if t.maxSkip == 0 {
		t.maxSkip = DefaultMaxSkippedKeys
	}
	return t, nil
}
