package accesslog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// proofHeader is the first line of a C2SP tlog-proof.
const proofHeader = "c2sp.org/tlog-proof@v1"

// Proof is an offline-verifiable proof that an entry is in the log
// (C2SP tlog-proof): the entry's index, its RFC 6962 inclusion proof and the
// cosigned checkpoint it is proven against. A trustee can be handed a Proof
// for a WarrantCommitment instead of reading the log itself (A3).
type Proof struct {
	Extra      []byte // optional, unauthenticated (tlog-proof: "MUST NOT implicitly trust")
	Index      uint64
	Inclusion  [][]byte // 32-byte hashes, leaf's sibling first
	Checkpoint []byte   // the signed checkpoint note, verbatim
}

// Marshal encodes p in the tlog-proof text format.
func (p *Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(proofHeader + "\n")
	if len(p.Extra) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatUint(p.Index, 10) + "\n")
	for _, h := range p.Inclusion {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ErrMalformedProof is wrapped by ParseProof errors.
var ErrMalformedProof = errors.New("malformed tlog-proof")

// ParseProof decodes a tlog-proof strictly (C2SP tlog-proof, "Format"): the
// header line, an optional extra line, the index as a minimal decimal, at
// most 63 base64 SHA-256 hashes, an empty line, then the checkpoint. It does
// not verify anything; use CheckpointPolicy.VerifyProof.
func ParseProof(b []byte) (*Proof, error) {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("accesslog: tlog-proof.%s: %s: %w", field, fmt.Sprintf(format, args...), ErrMalformedProof)
	}
	next := func() (string, bool) {
		line, rest, ok := bytes.Cut(b, []byte("\n"))
		if !ok {
			return "", false
		}
		b = rest
		return string(line), true
	}
	line, ok := next()
	if !ok || line != proofHeader {
		return nil, fail("header", "want %q", proofHeader)
	}
	p := &Proof{}
	if line, ok = next(); !ok {
		return nil, fail("index", "missing")
	}
	if v, found := strings.CutPrefix(line, "extra "); found {
		e, err := base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(e) == 0 {
			return nil, fail("extra", "not base64")
		}
		p.Extra = e
		if line, ok = next(); !ok {
			return nil, fail("index", "missing")
		}
	}
	v, found := strings.CutPrefix(line, "index ")
	if !found || v == "" || (len(v) > 1 && v[0] == '0') || strings.TrimLeft(v, "0123456789") != "" {
		return nil, fail("index", "%q is not a minimal decimal", line)
	}
	idx, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, fail("index", "%v", err)
	}
	p.Index = idx
	for {
		if line, ok = next(); !ok {
			return nil, fail("inclusion", "no empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		if len(p.Inclusion) == 63 {
			return nil, fail("inclusion", "more than 63 hashes")
		}
		h, err := base64.StdEncoding.Strict().DecodeString(line)
		if err != nil || len(h) != 32 {
			return nil, fail("inclusion", "line %d is not a base64 SHA-256 hash", len(p.Inclusion)+1)
		}
		p.Inclusion = append(p.Inclusion, h)
	}
	if len(b) == 0 {
		return nil, fail("checkpoint", "missing")
	}
	p.Checkpoint = append([]byte(nil), b...)
	return p, nil
}

// VerifyProof checks a tlog-proof for an encoded entry (C2SP tlog-proof,
// "Verifying a tlog proof"): the checkpoint passes the policy (log key,
// origin, w cosignatures) and the inclusion proof binds the entry's leaf hash
// to its root at p.Index. It returns the verified checkpoint.
func (pol *CheckpointPolicy) VerifyProof(p *Proof, entry []byte) (*Checkpoint, error) {
	cp, err := pol.Verify(p.Checkpoint)
	if err != nil {
		return nil, err
	}
	if err := VerifyInclusion(cp, p.Index, entry, p.Inclusion); err != nil {
		return nil, err
	}
	return cp, nil
}
