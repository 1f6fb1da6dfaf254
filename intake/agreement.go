// Package intake receives legal requests from authorities of partner
// jurisdictions, checks each against the bilateral agreement it invokes
// (agreements are data, see Agreements), and tracks it through a state
// machine whose every change is appended to the access log as an
// accesslog.Request entry. Content requests continue in the trustee quorum
// flow (state UnderTrusteeReview with a warrant commitment); non-content
// requests are answered with a provider-signed bundle whose digest is logged
// as an accesslog.Evidence entry (kind non-content-answer).
//
// docs/intake.md documents the agreement, request and bundle formats.
package intake

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// FormatVersion is the version of the agreement and request formats.
const FormatVersion = 1

// Category is a data category a request asks for.
type Category string

// Data categories. Content is only ever obtained through the trustee quorum
// (lawful-access.md); the other two are what the server itself holds.
const (
	Subscriber Category = "subscriber" // account creation time, username
	Metadata   Category = "metadata"   // device list, group memberships the server sees
	Content    Category = "content"    // message content, via a logged warrant and trustees
)

func (c Category) valid() bool { return c == Subscriber || c == Metadata || c == Content }

// Instrument names the legal basis. The set is closed so that the report's
// per-instrument counts stay comparable; docs/intake.md says how to add one.
type Instrument string

// Instruments.
const (
	CloudActDAA     Instrument = "cloud-act-daa"    // executive agreement under the US CLOUD Act (e.g. US-UK Data Access Agreement)
	MLAT            Instrument = "mlat"             // mutual legal assistance treaty
	DomesticWarrant Instrument = "domestic-warrant" // the provider's own jurisdiction
	EEvidence       Instrument = "eu-e-evidence"    // EU e-Evidence Regulation production order
)

func (i Instrument) valid() bool {
	return i == CloudActDAA || i == MLAT || i == DomesticWarrant || i == EEvidence
}

// Key is an Ed25519 public key, base64 in JSON.
type Key []byte

// Authority is a requesting authority allowed by an agreement.
type Authority struct {
	ID  string `json:"id"`  // e.g. "uk-nca"
	Key Key    `json:"key"` // Ed25519 public key (32 bytes, base64)
}

// Agreement is one bilateral agreement with one partner jurisdiction under
// one instrument.
type Agreement struct {
	ID           string      `json:"id"`           // unique, e.g. "uk-cloud-act-2026"
	Jurisdiction string      `json:"jurisdiction"` // the partner, e.g. "UK"
	Instrument   Instrument  `json:"instrument"`
	Authorities  []Authority `json:"authorities"`
	Categories   []Category  `json:"categories"`
	// ProtectedNationalities: no target may be a national of (or located
	// in) one of these jurisdictions, e.g. the provider's home country under
	// a CLOUD Act agreement.
	ProtectedNationalities []string `json:"protected_nationalities"`
	// Offences: when not empty, the request's offence must be one of these
	// (serious crime only).
	Offences []string `json:"offences"`
	// MaxTargets bounds the number of accounts one request names (>= 1).
	MaxTargets int `json:"max_targets"`
	// RequiredReview: when not empty, the request must carry a domestic
	// review of this kind (e.g. "judicial", "independent-authority").
	RequiredReview string `json:"required_review"`
	// AnswerWithin is the provider's answer deadline in seconds after
	// receipt (for the report; requests also carry their own answer_by).
	AnswerWithin uint64 `json:"answer_within"`
}

// Agreements is the versioned set of agreements in force.
type Agreements struct {
	Version int `json:"version"`
	// Provider is the provider's home jurisdiction.
	Provider   string      `json:"provider_jurisdiction"`
	Agreements []Agreement `json:"agreements"`
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("intake: malformed")

// MaxDocumentSize bounds an agreement file or a request.
const MaxDocumentSize = 1 << 20

// decodeStrict decodes exactly one JSON value into v: unknown fields,
// duplicate-free trailing data and oversized input are refused.
func decodeStrict(data []byte, v any) error {
	if len(data) > MaxDocumentSize {
		return fmt.Errorf("larger than %d bytes", MaxDocumentSize)
	}
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// ParseAgreements decodes and validates an agreements document strictly:
// unknown fields, trailing data, unknown versions, instruments or categories,
// bad keys and duplicate ids are refused with an error naming the field.
func ParseAgreements(data []byte) (*Agreements, error) {
	var a Agreements
	if err := decodeStrict(data, &a); err != nil {
		return nil, fmt.Errorf("%w: agreements: %w", ErrMalformed, err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// Marshal encodes a in its canonical form (the form ParseAgreements accepts
// and Marshal reproduces byte for byte).
func (a *Agreements) Marshal() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return json.MarshalIndent(a, "", "  ")
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Validate checks the document's consistency.
func (a *Agreements) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("%w: agreements.%s: %s", ErrMalformed, field, fmt.Sprintf(format, args...))
	}
	if a.Version != FormatVersion {
		return bad("version", "unsupported version %d (want %d)", a.Version, FormatVersion)
	}
	if !validName(a.Provider) {
		return bad("provider_jurisdiction", "missing or not a name")
	}
	ids := map[string]bool{}
	for i, ag := range a.Agreements {
		f := fmt.Sprintf("agreements[%d]", i)
		if !validName(ag.ID) {
			return bad(f+".id", "missing or not a name ([A-Za-z0-9._-], at most 64)")
		}
		if ids[ag.ID] {
			return bad(f+".id", "duplicate id %q", ag.ID)
		}
		ids[ag.ID] = true
		if !validName(ag.Jurisdiction) {
			return bad(f+".jurisdiction", "missing or not a name")
		}
		if !ag.Instrument.valid() {
			return bad(f+".instrument", "unknown instrument %q", ag.Instrument)
		}
		if ag.Instrument == DomesticWarrant && ag.Jurisdiction != a.Provider {
			return bad(f+".instrument", "a domestic warrant comes from the provider's jurisdiction %q", a.Provider)
		}
		if len(ag.Authorities) == 0 {
			return bad(f+".authorities", "empty")
		}
		auth := map[string]bool{}
		for j, au := range ag.Authorities {
			if !validName(au.ID) {
				return bad(fmt.Sprintf("%s.authorities[%d].id", f, j), "missing or not a name")
			}
			if auth[au.ID] {
				return bad(fmt.Sprintf("%s.authorities[%d].id", f, j), "duplicate %q", au.ID)
			}
			auth[au.ID] = true
			if len(au.Key) != ed25519.PublicKeySize {
				return bad(fmt.Sprintf("%s.authorities[%d].key", f, j), "want a %d-byte Ed25519 key, got %d bytes", ed25519.PublicKeySize, len(au.Key))
			}
		}
		if len(ag.Categories) == 0 {
			return bad(f+".categories", "empty")
		}
		for j, c := range ag.Categories {
			if !c.valid() {
				return bad(fmt.Sprintf("%s.categories[%d]", f, j), "unknown category %q", c)
			}
			if slices.Index(ag.Categories, c) != j {
				return bad(fmt.Sprintf("%s.categories[%d]", f, j), "duplicate %q", c)
			}
		}
		for j, n := range ag.ProtectedNationalities {
			if !validName(n) {
				return bad(fmt.Sprintf("%s.protected_nationalities[%d]", f, j), "not a name")
			}
		}
		for j, o := range ag.Offences {
			if !validName(o) {
				return bad(fmt.Sprintf("%s.offences[%d]", f, j), "not a name")
			}
		}
		if ag.MaxTargets < 1 || ag.MaxTargets > 1000 {
			return bad(f+".max_targets", "must be between 1 and 1000")
		}
		if ag.RequiredReview != "" && !validName(ag.RequiredReview) {
			return bad(f+".required_review", "not a name")
		}
		if ag.AnswerWithin == 0 {
			return bad(f+".answer_within", "must be > 0 seconds")
		}
	}
	return nil
}

// Agreement returns the agreement with the given id.
func (a *Agreements) Agreement(id string) (*Agreement, bool) {
	for i := range a.Agreements {
		if a.Agreements[i].ID == id {
			return &a.Agreements[i], true
		}
	}
	return nil, false
}

// authority returns the authority with the given id.
func (ag *Agreement) authority(id string) (*Authority, bool) {
	for i := range ag.Authorities {
		if ag.Authorities[i].ID == id {
			return &ag.Authorities[i], true
		}
	}
	return nil, false
}
