package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/warrant"
)

// MaxRequestSize bounds a release request body (records are ~6 KiB each).
const MaxRequestSize = 16 << 20

// ReleaseRequest is the JSON body of POST /v1/release (docs/trustee.md).
// Byte fields are base64 (encoding/json); proofs are C2SP tlog-proof text.
type ReleaseRequest struct {
	Warrant      []byte          `json:"warrant"`       // warrant.Signed encoding
	Salt         []byte          `json:"salt"`          // 32 bytes
	WarrantEntry []byte          `json:"warrant_entry"` // the encoded WarrantCommitment entry
	WarrantProof string          `json:"warrant_proof"` // tlog-proof of it under a cosigned checkpoint
	Records      []RecordRequest `json:"records"`
}

// RecordRequest is one escrow record asked for, with the member-signed
// evidence of its epoch.
type RecordRequest struct {
	Record        []byte `json:"record"`
	EpochEvidence []byte `json:"epoch_evidence"`
}

// ReleaseResponse is the JSON body of a successful release.
type ReleaseResponse struct {
	Trustee      string  `json:"trustee"`
	ReleaseEntry []byte  `json:"release_entry"` // the trustee's signed Release entry
	ReleaseProof string  `json:"release_proof"` // tlog-proof of it under a cosigned checkpoint
	Shares       []Share `json:"shares"`
}

// Share is a trustee.SealedShare on the wire.
type Share struct {
	RecordID  []byte `json:"record_id"`
	Trustee   string `json:"trustee"`
	Sealed    []byte `json:"sealed"`
	Signature []byte `json:"signature"`
}

// ErrorResponse is the JSON body of a refusal.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON body")
	}
	return nil
}

func inclusionFromProof(entry []byte, proof string) (trustee.Inclusion, error) {
	p, err := accesslog.ParseProof([]byte(proof))
	if err != nil {
		return trustee.Inclusion{}, err
	}
	return trustee.Inclusion{Checkpoint: p.Checkpoint, Index: p.Index, Entry: bytes.Clone(entry), Proof: p.Inclusion}, nil
}

// ProofText encodes an inclusion as C2SP tlog-proof text.
func ProofText(in trustee.Inclusion) string {
	return string((&accesslog.Proof{Index: in.Index, Inclusion: in.Proof, Checkpoint: in.Checkpoint}).Marshal())
}

// ToTrustee converts the wire request into the trustee's Request. It parses
// strictly but verifies nothing (trustee.Decide does).
func (r *ReleaseRequest) ToTrustee() (*trustee.Request, error) {
	s, err := warrant.ParseSigned(r.Warrant)
	if err != nil {
		return nil, fmt.Errorf("warrant: %w", err)
	}
	if len(r.Salt) != 32 {
		return nil, errors.New("salt: want 32 bytes")
	}
	in, err := inclusionFromProof(r.WarrantEntry, r.WarrantProof)
	if err != nil {
		return nil, fmt.Errorf("warrant_proof: %w", err)
	}
	if len(r.Records) == 0 {
		return nil, errors.New("records: none requested")
	}
	req := &trustee.Request{Warrant: s, WarrantEntry: in}
	copy(req.Salt[:], r.Salt)
	for _, rr := range r.Records {
		req.Records = append(req.Records, trustee.RecordRequest{Record: rr.Record, EpochEvidence: rr.EpochEvidence})
	}
	return req, nil
}

// FromTrustee converts a trustee Request into the wire request.
func FromTrustee(req *trustee.Request) *ReleaseRequest {
	r := &ReleaseRequest{Warrant: req.Warrant.Marshal(), Salt: bytes.Clone(req.Salt[:]),
		WarrantEntry: req.WarrantEntry.Entry, WarrantProof: ProofText(req.WarrantEntry)}
	for _, rr := range req.Records {
		r.Records = append(r.Records, RecordRequest{Record: rr.Record, EpochEvidence: rr.EpochEvidence})
	}
	return r
}

// SealedShares converts the response's shares.
func (r *ReleaseResponse) SealedShares() ([]trustee.SealedShare, error) {
	var out []trustee.SealedShare
	for i, s := range r.Shares {
		if len(s.RecordID) != 32 {
			return nil, fmt.Errorf("shares[%d].record_id: want 32 bytes", i)
		}
		ss := trustee.SealedShare{Trustee: s.Trustee, Sealed: s.Sealed, Signature: s.Signature}
		copy(ss.RecordID[:], s.RecordID)
		out = append(out, ss)
	}
	return out, nil
}

// Release returns the proved release entry.
func (r *ReleaseResponse) Release() (trustee.Inclusion, error) {
	return inclusionFromProof(r.ReleaseEntry, r.ReleaseProof)
}
