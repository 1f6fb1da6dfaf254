package keydir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/daylight-im/daylight/keydir/prefix"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/crypto/cryptobyte"
)

// Compact monitoring encoding (HistoryResponse, wire version 2).
//
// A monitoring answer carries, for every epoch since the last sync, the
// epoch head's log entry with its inclusion proof and the account's prefix
// proof. Most of those hashes repeat: consecutive heads' inclusion proofs
// share every sibling above their common ancestor in the log, and an
// account's prefix proofs of consecutive epochs share every sibling subtree
// that no change of the epoch touched (all but about log2(changes per
// epoch) + 1 of them). The encoding sends each distinct hash once and later
// occurrences as a back-reference, and a KeyDirectory head as its parts
// (epoch and time as deltas, the root as a hash). It is only an encoding:
// the decoded HistoryResponse is exactly the uncompressed one and is
// verified as before (kdclient), so it changes nothing that is checked.
// One more hash per epoch is not sent at all: in a head's inclusion proof,
// the sibling subtree that holds the previous head of the response (a
// perfect subtree, since the previous head is to the left) is computed from
// the previous head's entry and the bottom of its proof, as a multi-leaf
// inclusion proof would (flag 0x80 on the hash count). If the server's
// proofs are inconsistent, the hash computed differs from the one that
// would have been sent and the head's inclusion fails in kdclient, so this
// too changes nothing that is accepted.
// The encoding is canonical (a hash is sent literally only the first time;
// varints are minimal; the shared subtree is left out whenever it can be),
// so decoding and re-encoding gives the same bytes.

// historyWireVersion is the first byte of a HistoryResponse.
const historyWireVersion = 2

// maxHashRefs bounds the distinct hashes of one response (decoding).
const maxHashRefs = 1 << 20

func addUvarint(b *cryptobyte.Builder, v uint64) { b.AddBytes(binary.AppendUvarint(nil, v)) }

// readUvarint reads a minimal unsigned varint.
func readUvarint(s *cryptobyte.String) (uint64, bool) {
	v, n := binary.Uvarint(*s)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		return 0, false
	}
	s.Skip(n)
	return v, true
}

// hashWriter sends a hash literally (0, then 32 bytes) the first time and
// afterwards as its distance back in the list of literals sent (>= 1).
type hashWriter struct {
	seen map[[32]byte]int
	n    int
}

func (w *hashWriter) add(b *cryptobyte.Builder, h [32]byte) {
	if i, ok := w.seen[h]; ok {
		addUvarint(b, uint64(w.n-i))
		return
	}
	b.AddUint8(0)
	b.AddBytes(h[:])
	w.seen[h] = w.n
	w.n++
}

type hashReader struct {
	list [][32]byte
	seen map[[32]byte]bool
}

func (r *hashReader) read(s *cryptobyte.String, field string) ([32]byte, error) {
	var h [32]byte
	v, ok := readUvarint(s)
	if !ok {
		return h, fmt.Errorf("keydir: %s: truncated or non-minimal reference", field)
	}
	if v > 0 {
		if v > uint64(len(r.list)) {
			return h, fmt.Errorf("keydir: %s: reference %d beyond the %d hashes sent", field, v, len(r.list))
		}
		return r.list[len(r.list)-int(v)], nil
	}
	if !s.CopyBytes(h[:]) {
		return h, fmt.Errorf("keydir: %s: truncated", field)
	}
	if r.seen[h] {
		return h, fmt.Errorf("keydir: %s: hash sent twice (not canonical)", field)
	}
	if len(r.list) >= maxHashRefs {
		return h, fmt.Errorf("keydir: %s: too many hashes", field)
	}
	r.seen[h] = true
	r.list = append(r.list, h)
	return h, nil
}

// omitFlag on a head proof's hash count: the hash shared with the previous
// head's proof is left out (computed by the decoder).
const omitFlag = 0x80

// checkpointSize reads the tree size of a checkpoint's note text (second
// line), unverified: it only places the hashes; kdclient verifies.
func checkpointSize(cp []byte) (uint64, bool) {
	lines := strings.SplitN(string(cp), "\n", 3)
	if len(lines) < 3 {
		return 0, false
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	return n, err == nil && strconv.FormatUint(n, 10) == lines[1]
}

// sharedNode returns where, in the inclusion proof of leaf j in a tree of
// size n (RFC 6962 order, leaf upwards), the sibling subtree holding leaf i
// < j sits, and its hash computed from i's entry and proof. ok is false
// when it cannot be computed (i's proof too short or n inconsistent).
func sharedNode(i, j, n uint64, entryI []byte, proofI [][32]byte) (pos int, h [32]byte, ok bool) {
	if i >= j || j >= n {
		return 0, h, false
	}
	// Walk down from the root to the node where i and j part.
	lo, hi := uint64(0), n
	for hi-lo > 1 {
		k := uint64(1) << (bits.Len64(hi-lo-1) - 1) // largest power of 2 < hi-lo
		mid := lo + k
		if i < mid && j >= mid {
			// j's sibling here is [lo, mid): perfect, of size k, holding i.
			depth := bits.Len64(k) - 1 // i's proof levels inside it
			// j's proof has one hash per level below this node, then this one.
			below := proofLen(j-mid, hi-mid)
			if len(proofI) < depth {
				return 0, h, false
			}
			hashes := make([][]byte, depth)
			for x := range depth {
				hashes[x] = proofI[x][:]
			}
			root, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, i-lo, k, rfc6962.DefaultHasher.HashLeaf(entryI), hashes)
			if err != nil || len(root) != 32 {
				return 0, h, false
			}
			copy(h[:], root)
			return below, h, true
		}
		if j < mid {
			hi = mid
		} else {
			lo = mid
		}
	}
	return 0, h, false
}

// proofLen is the length of the inclusion proof of leaf m in a tree of
// size n (RFC 6962, Section 2.1.1).
func proofLen(m, n uint64) int {
	l := 0
	for n > 1 {
		k := uint64(1) << (bits.Len64(n-1) - 1)
		if m < k {
			n = k
		} else {
			m, n = m-k, n-k
		}
		l++
	}
	return l
}

// Head entry kinds in the compact encoding.
const (
	entryRaw  = 0 // opaque entry<0..2^24-1>
	entryHead = 1 // a canonical KeyDirectory entry, by its parts
)

// headState is what the previous epoch of the response fixes for the next.
type headState struct {
	index, epoch, time uint64
	first              bool
}

func (r *HistoryResponse) marshalCompact() ([]byte, error) {
	if len(r.Openings) != len(r.Records) {
		return nil, errors.New("keydir: HistoryResponse.openings: not one per record")
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(historyWireVersion)
	addPreamble(b, r.Username, r.VRFProof, r.Checkpoint)
	addUvarint(b, r.FirstVersion)
	addRecords(b, r.Records)
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, o := range r.Openings {
			b.AddBytes(o[:])
		}
	})
	w := &hashWriter{seen: map[[32]byte]int{}}
	prev := headState{first: true}
	size, sizeOK := checkpointSize(r.Checkpoint)
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) {
		for i := range r.Epochs {
			e := &r.Epochs[i]
			if !prev.first && e.HeadProof.Index <= prev.index {
				b.SetError(fmt.Errorf("keydir: HistoryResponse.epochs[%d].head_proof.index: not after the previous epoch's", i))
				return
			}
			addUvarint(b, e.HeadProof.Index-prev.index) // prev.index is 0 for the first
			prev.index = e.HeadProof.Index
			h, err := ParseHeadEntry(e.HeadProof.Entry)
			switch {
			case err == nil && len(h.Signature) == 64 && h.Time >= prev.time && (prev.first || h.Epoch > prev.epoch) &&
				bytes.Equal(MarshalHeadEntry(h), e.HeadProof.Entry):
				b.AddUint8(entryHead)
				addUvarint(b, h.Epoch-prev.epoch)
				addUvarint(b, h.Time-prev.time)
				w.add(b, h.Root)
				b.AddBytes(h.Signature)
				prev.epoch, prev.time = h.Epoch, h.Time
			default:
				b.AddUint8(entryRaw)
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.HeadProof.Entry) })
			}
			prev.first = false
			if len(e.HeadProof.Hashes) > 64 {
				b.SetError(fmt.Errorf("keydir: HistoryResponse.epochs[%d].head_proof: %d hashes", i, len(e.HeadProof.Hashes)))
				return
			}
			skip := -1
			if i > 0 && sizeOK {
				p := &r.Epochs[i-1].HeadProof
				if pos, h, ok := sharedNode(p.Index, e.HeadProof.Index, size, p.Entry, p.Hashes); ok && pos < len(e.HeadProof.Hashes) && e.HeadProof.Hashes[pos] == h {
					skip = pos
				}
			}
			if skip >= 0 {
				b.AddUint8(uint8(len(e.HeadProof.Hashes)) | omitFlag)
			} else {
				b.AddUint8(uint8(len(e.HeadProof.Hashes)))
			}
			for x, hh := range e.HeadProof.Hashes {
				if x != skip {
					w.add(b, hh)
				}
			}
			if e.TreeProof == nil {
				b.AddUint8(0)
				continue
			}
			p := e.TreeProof
			if p.Terminal > prefix.TerminalOther {
				b.SetError(fmt.Errorf("keydir: HistoryResponse.epochs[%d].tree_proof: unknown terminal %d", i, p.Terminal))
				return
			}
			b.AddUint8(1 + uint8(p.Terminal))
			if p.Terminal == prefix.TerminalOther {
				b.AddBytes(p.Other.Label[:])
				b.AddBytes(p.Other.Value[:])
			}
			if len(p.Steps) > 256 {
				b.SetError(fmt.Errorf("keydir: HistoryResponse.epochs[%d].tree_proof: %d steps", i, len(p.Steps)))
				return
			}
			b.AddUint16(uint16(len(p.Steps)))
			for _, s := range p.Steps {
				b.AddUint8(s.Depth)
				w.add(b, s.Sibling)
			}
		}
	})
	return b.Bytes()
}

func parseHistoryCompact(data []byte) (*HistoryResponse, error) {
	s := cryptobyte.String(data)
	var v uint8
	if !s.ReadUint8(&v) || v != historyWireVersion {
		return nil, fmt.Errorf("keydir: HistoryResponse.version: want %d", historyWireVersion)
	}
	r := &HistoryResponse{}
	var err error
	if r.Username, r.VRFProof, r.Checkpoint, err = readPreamble(&s, "HistoryResponse"); err != nil {
		return nil, err
	}
	var ok bool
	if r.FirstVersion, ok = readUvarint(&s); !ok {
		return nil, errors.New("keydir: HistoryResponse.first_version: truncated or non-minimal")
	}
	if r.Records, err = readRecords(&s, "HistoryResponse.records"); err != nil {
		return nil, err
	}
	var ops, eps cryptobyte.String
	if !readU32Prefixed(&s, &ops) || len(ops)%32 != 0 {
		return nil, errors.New("keydir: HistoryResponse.openings: truncated")
	}
	for !ops.Empty() {
		var o [32]byte
		ops.CopyBytes(o[:])
		r.Openings = append(r.Openings, o)
	}
	if len(r.Openings) != len(r.Records) {
		return nil, errors.New("keydir: HistoryResponse.openings: not one per record")
	}
	if !readU32Prefixed(&s, &eps) {
		return nil, errors.New("keydir: HistoryResponse.epochs: truncated")
	}
	hr := &hashReader{seen: map[[32]byte]bool{}}
	prev := headState{first: true}
	size, sizeOK := checkpointSize(r.Checkpoint)
	for !eps.Empty() {
		var e HistoryEpoch
		field := fmt.Sprintf("HistoryResponse.epochs[%d]", len(r.Epochs))
		d, ok := readUvarint(&eps)
		if !ok || (!prev.first && d == 0) || prev.index+d < prev.index {
			return nil, fmt.Errorf("keydir: %s.head_proof.index: truncated, non-minimal or not increasing", field)
		}
		e.HeadProof.Index = prev.index + d
		prev.index = e.HeadProof.Index
		var kind uint8
		if !eps.ReadUint8(&kind) {
			return nil, fmt.Errorf("keydir: %s.head_proof.entry: truncated", field)
		}
		switch kind {
		case entryHead:
			de, ok1 := readUvarint(&eps)
			dt, ok2 := readUvarint(&eps)
			if !ok1 || !ok2 || (!prev.first && de == 0) || prev.epoch+de < prev.epoch || prev.time+dt < prev.time {
				return nil, fmt.Errorf("keydir: %s.head_proof.entry: bad epoch or time", field)
			}
			h := EpochHead{Epoch: prev.epoch + de, Time: prev.time + dt}
			if h.Root, err = hr.read(&eps, field+".head_proof.entry.root"); err != nil {
				return nil, err
			}
			if !eps.ReadBytes(&h.Signature, 64) {
				return nil, fmt.Errorf("keydir: %s.head_proof.entry.signature: truncated", field)
			}
			h.Signature = bytes.Clone(h.Signature)
			e.HeadProof.Entry = MarshalHeadEntry(h)
			prev.epoch, prev.time = h.Epoch, h.Time
		case entryRaw:
			var entry cryptobyte.String
			if !eps.ReadUint24LengthPrefixed(&entry) {
				return nil, fmt.Errorf("keydir: %s.head_proof.entry: truncated", field)
			}
			e.HeadProof.Entry = bytes.Clone(entry)
			if h, err := ParseHeadEntry(entry); err == nil && len(h.Signature) == 64 && h.Time >= prev.time &&
				(prev.first || h.Epoch > prev.epoch) && bytes.Equal(MarshalHeadEntry(h), e.HeadProof.Entry) {
				return nil, fmt.Errorf("keydir: %s.head_proof.entry: a head sent raw (not canonical)", field)
			}
		default:
			return nil, fmt.Errorf("keydir: %s.head_proof.entry: unknown kind %d", field, kind)
		}
		prev.first = false
		var n uint8
		if !eps.ReadUint8(&n) || n&^omitFlag > 64 {
			return nil, fmt.Errorf("keydir: %s.head_proof.hashes: truncated or more than 64", field)
		}
		omitted := n&omitFlag != 0
		n &^= omitFlag
		pos, shared, canShare := -1, [32]byte{}, false
		if len(r.Epochs) > 0 && sizeOK {
			p := &r.Epochs[len(r.Epochs)-1].HeadProof
			if pos, shared, canShare = sharedNode(p.Index, e.HeadProof.Index, size, p.Entry, p.Hashes); !canShare || pos >= int(n) {
				canShare = false
			}
		}
		if omitted && !canShare {
			return nil, fmt.Errorf("keydir: %s.head_proof.hashes: shared hash left out where none can be computed", field)
		}
		for j := range int(n) {
			if omitted && j == pos {
				e.HeadProof.Hashes = append(e.HeadProof.Hashes, shared)
				continue
			}
			x, err := hr.read(&eps, fmt.Sprintf("%s.head_proof.hashes[%d]", field, j))
			if err != nil {
				return nil, err
			}
			if !omitted && canShare && j == pos && x == shared {
				return nil, fmt.Errorf("keydir: %s.head_proof.hashes[%d]: sent though it can be computed (not canonical)", field, j)
			}
			e.HeadProof.Hashes = append(e.HeadProof.Hashes, x)
		}
		var tp uint8
		if !eps.ReadUint8(&tp) || tp > 1+uint8(prefix.TerminalOther) {
			return nil, fmt.Errorf("keydir: %s.tree_proof: truncated or unknown terminal", field)
		}
		if tp > 0 {
			p := &prefix.Proof{Terminal: prefix.Terminal(tp - 1)}
			if p.Terminal == prefix.TerminalOther {
				if !eps.CopyBytes(p.Other.Label[:]) || !eps.CopyBytes(p.Other.Value[:]) {
					return nil, fmt.Errorf("keydir: %s.tree_proof.other: truncated", field)
				}
			}
			var ns uint16
			if !eps.ReadUint16(&ns) || ns > 256 {
				return nil, fmt.Errorf("keydir: %s.tree_proof.steps: truncated or more than 256", field)
			}
			for j := range int(ns) {
				var st prefix.Step
				if !eps.ReadUint8(&st.Depth) {
					return nil, fmt.Errorf("keydir: %s.tree_proof.steps[%d]: truncated", field, j)
				}
				if j > 0 && st.Depth <= p.Steps[j-1].Depth {
					return nil, fmt.Errorf("keydir: %s.tree_proof.steps[%d].depth: %d not after %d", field, j, st.Depth, p.Steps[j-1].Depth)
				}
				if st.Sibling, err = hr.read(&eps, fmt.Sprintf("%s.tree_proof.steps[%d]", field, j)); err != nil {
					return nil, err
				}
				p.Steps = append(p.Steps, st)
			}
			if p.Terminal == prefix.TerminalEmpty && len(p.Steps) != 0 {
				return nil, fmt.Errorf("keydir: %s.tree_proof.steps: empty terminal below inner nodes", field)
			}
			e.TreeProof = p
		}
		r.Epochs = append(r.Epochs, e)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("keydir: HistoryResponse: %d trailing bytes", len(s))
	}
	return r, nil
}
