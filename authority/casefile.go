package authority

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee/service"
)

// caseFile is a Case on disk (JSON; byte fields base64, proofs C2SP
// tlog-proof text). It holds no private key.
type caseFile struct {
	Format   string                 `json:"format"`
	Policy   []byte                 `json:"policy"`
	Request  service.ReleaseRequest `json:"request"`
	Releases []caseRelease          `json:"releases"`
	Refusals []Refusal              `json:"refusals"`
}

type caseRelease struct {
	Trustee      string          `json:"trustee"`
	ReleaseEntry []byte          `json:"release_entry"`
	ReleaseProof string          `json:"release_proof"`
	Shares       []service.Share `json:"shares"`
}

const caseFormat = "daylight-authority-case/1"

// MarshalCase encodes a case for storage between the steps of the
// authority's tool.
func MarshalCase(c *Case) ([]byte, error) {
	pb, err := c.Policy.Marshal()
	if err != nil {
		return nil, err
	}
	f := caseFile{Format: caseFormat, Policy: pb, Request: *service.FromTrustee(c.Request()), Releases: []caseRelease{}, Refusals: c.Refusals}
	if f.Refusals == nil {
		f.Refusals = []Refusal{}
	}
	for _, r := range c.Releases {
		cr := caseRelease{Trustee: r.Trustee, ReleaseEntry: r.Entry.Entry, ReleaseProof: service.ProofText(r.Entry)}
		for _, s := range r.Shares {
			cr.Shares = append(cr.Shares, service.Share{RecordID: append([]byte(nil), s.RecordID[:]...), Trustee: s.Trustee, Sealed: s.Sealed, Signature: s.Signature})
		}
		f.Releases = append(f.Releases, cr)
	}
	return json.MarshalIndent(f, "", "  ")
}

// ParseCase decodes a stored case strictly. It verifies nothing: Collect
// and Recover check what they use.
func ParseCase(data []byte) (*Case, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var f caseFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("authority: case: %w", err)
	}
	if f.Format != caseFormat {
		return nil, fmt.Errorf("authority: case: format %q, want %q", f.Format, caseFormat)
	}
	ps, err := policy.ParseSigned(f.Policy)
	if err != nil {
		return nil, fmt.Errorf("authority: case: policy: %w", err)
	}
	req, err := f.Request.ToTrustee()
	if err != nil {
		return nil, fmt.Errorf("authority: case: request: %w", err)
	}
	c := &Case{Policy: ps, Warrant: req.Warrant, Salt: req.Salt, WarrantEntry: req.WarrantEntry, Records: req.Records, Refusals: f.Refusals}
	for i, r := range f.Releases {
		resp := service.ReleaseResponse{Trustee: r.Trustee, ReleaseEntry: r.ReleaseEntry, ReleaseProof: r.ReleaseProof, Shares: r.Shares}
		shares, err := resp.SealedShares()
		if err != nil {
			return nil, fmt.Errorf("authority: case: releases[%d]: %w", i, err)
		}
		in, err := resp.Release()
		if err != nil {
			return nil, fmt.Errorf("authority: case: releases[%d]: %w", i, err)
		}
		c.Releases = append(c.Releases, Release{Trustee: r.Trustee, Entry: in, Shares: shares})
	}
	return c, nil
}
