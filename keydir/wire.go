package keydir

import (
	"errors"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/keydir/prefix"
	"golang.org/x/crypto/cryptobyte"
)

// LogProof proves that a log entry (an epoch head) is in the access log
// under the checkpoint of the response that carries it (RFC 6962 inclusion
// proof over the tlog-tiles tree, C2SP tlog-tiles).
type LogProof struct {
	Index  uint64
	Entry  []byte     // the entry bytes at Index; decodes to the epoch head
	Hashes [][32]byte // inclusion proof, leaf to root
}

// LookupResponse answers a lookup: the account's chain and the proofs that
// tie it to a witnessed checkpoint. An account that does not exist is
// answered with an absence proof and no records.
type LookupResponse struct {
	Username   string
	VRFProof   []byte // proves the label (C2SP vrf-r255)
	Checkpoint []byte // the access log's checkpoint, a cosigned signed note
	HeadProof  LogProof
	TreeProof  *prefix.Proof
	Opening    [32]byte // when present
	Records    [][]byte // versions 0..n, when present
}

// HistoryEpoch is one epoch of a monitoring history.
type HistoryEpoch struct {
	HeadProof LogProof
	// TreeProof proves the account's leaf in this epoch. It is nil when the
	// root equals that of the previous epoch in the response.
	TreeProof *prefix.Proof
}

// HistoryResponse serves an account's own history for monitoring: every
// version the directory holds for it and its leaf in every epoch of a range.
type HistoryResponse struct {
	Username   string
	VRFProof   []byte
	Checkpoint []byte
	// FirstVersion is the version of Records[0] (0: the whole chain; more
	// when the monitor asked only for versions it does not hold).
	FirstVersion uint64
	Records      [][]byte
	Openings     [][32]byte // one per record
	Epochs       []HistoryEpoch
}

func addLogProof(b *cryptobyte.Builder, p *LogProof) {
	b.AddUint64(p.Index)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.Entry) })
	b.AddUint8(uint8(len(p.Hashes)))
	for _, h := range p.Hashes {
		b.AddBytes(h[:])
	}
}

func readLogProof(s *cryptobyte.String, field string) (LogProof, error) {
	var p LogProof
	var entry cryptobyte.String
	var n uint8
	if !s.ReadUint64(&p.Index) || !s.ReadUint24LengthPrefixed(&entry) || !s.ReadUint8(&n) {
		return p, fmt.Errorf("keydir: %s: truncated", field)
	}
	if n > 64 {
		return p, fmt.Errorf("keydir: %s.hashes: %d hashes, at most 64", field, n)
	}
	p.Entry = slices.Clone([]byte(entry))
	p.Hashes = make([][32]byte, n)
	for i := range p.Hashes {
		if !s.CopyBytes(p.Hashes[i][:]) {
			return p, fmt.Errorf("keydir: %s.hashes: truncated", field)
		}
	}
	return p, nil
}

func addRecords(b *cryptobyte.Builder, rs [][]byte) {
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, r := range rs {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r) })
		}
	})
}

func readRecords(s *cryptobyte.String, field string) ([][]byte, error) {
	var list cryptobyte.String
	if !readU32Prefixed(s, &list) {
		return nil, fmt.Errorf("keydir: %s: truncated", field)
	}
	var out [][]byte
	for !list.Empty() {
		var r cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&r) {
			return nil, fmt.Errorf("keydir: %s[%d]: truncated", field, len(out))
		}
		out = append(out, slices.Clone([]byte(r)))
	}
	return out, nil
}

func addPreamble(b *cryptobyte.Builder, user string, vrfProof, cp []byte) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(user)) })
	if len(vrfProof) != VRFProofSize {
		b.SetError(errors.New("keydir: vrf_proof: not 80 bytes"))
	}
	b.AddBytes(vrfProof)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cp) })
}

func readPreamble(s *cryptobyte.String, msg string) (string, []byte, []byte, error) {
	var user, cp cryptobyte.String
	var vp []byte
	if !s.ReadUint8LengthPrefixed(&user) || len(user) == 0 {
		return "", nil, nil, fmt.Errorf("keydir: %s.username: truncated or empty", msg)
	}
	if !s.ReadBytes(&vp, VRFProofSize) {
		return "", nil, nil, fmt.Errorf("keydir: %s.vrf_proof: truncated", msg)
	}
	if !s.ReadUint16LengthPrefixed(&cp) {
		return "", nil, nil, fmt.Errorf("keydir: %s.checkpoint: truncated", msg)
	}
	return string(user), slices.Clone(vp), slices.Clone([]byte(cp)), nil
}

// Marshal encodes r:
//
//	struct {
//	  opaque username<1..255>; opaque vrf_proof[80]; opaque checkpoint<0..2^16-1>;
//	  LogProof head_proof;     // uint64 index; opaque entry<0..2^24-1>; uint8 n; opaque hashes[32*n]
//	  prefix.Proof tree_proof;
//	  select (tree_proof.terminal) {
//	    case member: opaque opening[32]; opaque records<0..2^32-1> (each opaque<0..2^24-1>);
//	  };
//	} LookupResponse;
func (r *LookupResponse) Marshal() ([]byte, error) {
	b := cryptobyte.NewBuilder(nil)
	addPreamble(b, r.Username, r.VRFProof, r.Checkpoint)
	addLogProof(b, &r.HeadProof)
	if r.TreeProof == nil {
		return nil, errors.New("keydir: LookupResponse.tree_proof: missing")
	}
	b.AddBytes(r.TreeProof.Marshal())
	if r.TreeProof.Terminal == prefix.TerminalMember {
		b.AddBytes(r.Opening[:])
		addRecords(b, r.Records)
	}
	return b.Bytes()
}

// ParseLookupResponse decodes strictly; it verifies nothing.
func ParseLookupResponse(data []byte) (*LookupResponse, error) {
	s := cryptobyte.String(data)
	r := &LookupResponse{}
	var err error
	if r.Username, r.VRFProof, r.Checkpoint, err = readPreamble(&s, "LookupResponse"); err != nil {
		return nil, err
	}
	if r.HeadProof, err = readLogProof(&s, "LookupResponse.head_proof"); err != nil {
		return nil, err
	}
	if r.TreeProof, err = prefix.ReadProof(&s); err != nil {
		return nil, fmt.Errorf("keydir: LookupResponse.tree_proof: %w", err)
	}
	if r.TreeProof.Terminal == prefix.TerminalMember {
		if !s.CopyBytes(r.Opening[:]) {
			return nil, errors.New("keydir: LookupResponse.opening: truncated")
		}
		if r.Records, err = readRecords(&s, "LookupResponse.records"); err != nil {
			return nil, err
		}
	}
	if !s.Empty() {
		return nil, fmt.Errorf("keydir: LookupResponse: %d trailing bytes", len(s))
	}
	return r, nil
}

// Marshal encodes r:
//
//	struct {
//	  opaque username<1..255>; opaque vrf_proof[80]; opaque checkpoint<0..2^16-1>;
//	  opaque records<0..2^32-1> (each opaque<0..2^24-1>);
//	  opaque openings<0..2^32-1> (32 bytes each, one per record);
//	  struct { LogProof head_proof; uint8 has_tree_proof; [prefix.Proof tree_proof;] } epochs<0..2^32-1>;
//	} HistoryResponse;
//
// This is the plain (version 1) form, kept to measure what the compact form
// (compact.go) saves.
func (r *HistoryResponse) marshalPlain() ([]byte, error) {
	if r.FirstVersion != 0 {
		return nil, errors.New("keydir: HistoryResponse.first_version: the plain form has only whole chains")
	}
	if len(r.Openings) != len(r.Records) {
		return nil, errors.New("keydir: HistoryResponse.openings: not one per record")
	}
	b := cryptobyte.NewBuilder(nil)
	addPreamble(b, r.Username, r.VRFProof, r.Checkpoint)
	addRecords(b, r.Records)
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, o := range r.Openings {
			b.AddBytes(o[:])
		}
	})
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) {
		for i := range r.Epochs {
			e := &r.Epochs[i]
			addLogProof(b, &e.HeadProof)
			if e.TreeProof == nil {
				b.AddUint8(0)
			} else {
				b.AddUint8(1)
				b.AddBytes(e.TreeProof.Marshal())
			}
		}
	})
	return b.Bytes()
}

// Marshal encodes r in the compact form (compact.go): version 2, the
// preamble, records and openings as in the plain form, then per epoch the
// head's log index (delta), its KeyDirectory entry by parts, and the
// inclusion and prefix proofs with every hash after its first occurrence
// sent as a back-reference.
func (r *HistoryResponse) Marshal() ([]byte, error) { return r.marshalCompact() }

// ParseHistoryResponse decodes the compact form strictly; it verifies
// nothing.
func ParseHistoryResponse(data []byte) (*HistoryResponse, error) { return parseHistoryCompact(data) }

// parseHistoryPlain decodes the plain (version 1) form.
func parseHistoryPlain(data []byte) (*HistoryResponse, error) {
	s := cryptobyte.String(data)
	r := &HistoryResponse{}
	var err error
	if r.Username, r.VRFProof, r.Checkpoint, err = readPreamble(&s, "HistoryResponse"); err != nil {
		return nil, err
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
	for !eps.Empty() {
		var e HistoryEpoch
		field := fmt.Sprintf("HistoryResponse.epochs[%d]", len(r.Epochs))
		if e.HeadProof, err = readLogProof(&eps, field+".head_proof"); err != nil {
			return nil, err
		}
		var has uint8
		if !eps.ReadUint8(&has) || has > 1 {
			return nil, fmt.Errorf("keydir: %s.has_tree_proof: truncated or not 0/1", field)
		}
		if has == 1 {
			if e.TreeProof, err = prefix.ReadProof(&eps); err != nil {
				return nil, fmt.Errorf("keydir: %s.tree_proof: %w", field, err)
			}
		}
		r.Epochs = append(r.Epochs, e)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("keydir: HistoryResponse: %d trailing bytes", len(s))
	}
	return r, nil
}

func readU32Prefixed(s *cryptobyte.String, out *cryptobyte.String) bool {
	var n uint32
	var b []byte
	if !s.ReadUint32(&n) || !s.ReadBytes(&b, int(n)) {
		return false
	}
	*out = b
	return true
}
