package intake

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Target is one account a request names, with the facts the agreement's
// restrictions are checked against (the authority attests them; a false
// attestation is the authority's legal responsibility and is on the record).
type Target struct {
	Account     string `json:"account"`     // Daylight username
	Nationality string `json:"nationality"` // jurisdiction code, "" if unknown
	Location    string `json:"location"`    // jurisdiction code, "" if unknown
}

// Review is the domestic review a request went through before it was sent.
type Review struct {
	Kind      string `json:"kind"`      // e.g. "judicial"
	Body      string `json:"body"`      // e.g. "Westminster Magistrates' Court"
	Reference string `json:"reference"` // the reviewing body's reference
	Time      uint64 `json:"time"`      // unix seconds
}

// Request is a legal request as the authority signs it.
type Request struct {
	Version   int      `json:"version"`
	Agreement string   `json:"agreement"` // Agreement.ID
	Authority string   `json:"authority"` // Authority.ID within the agreement
	Category  Category `json:"category"`
	Targets   []Target `json:"targets"`
	Offence   string   `json:"offence"`
	Case      string   `json:"case"` // the authority's case reference
	Review    *Review  `json:"review,omitempty"`
	Issued    uint64   `json:"issued"`    // unix seconds
	AnswerBy  uint64   `json:"answer_by"` // unix seconds: no answer is useful after this
	Nonce     string   `json:"nonce"`     // makes otherwise equal requests distinct
	// WarrantCommitment (hex, content requests only, optional at filing):
	// the warrant commitment logged for the trustee flow.
	WarrantCommitment string `json:"warrant_commitment,omitempty"`
}

// Signed is a request body with the authority's signature, as sent to the
// intake API. Body is the canonical JSON encoding of a Request (Marshal);
// Signature is Ed25519 over SignedMessage(Body).
type Signed struct {
	Body      []byte `json:"body"`      // base64 in JSON
	Signature []byte `json:"signature"` // base64 in JSON
}

// ID identifies a request: a hash of its signed body.
type ID [32]byte

// String returns the hex form used in URLs and the CLI.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses the hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%w: request id: want 64 hex digits", ErrMalformed)
	}
	copy(id[:], b)
	return id, nil
}

const (
	requestLabel = "daylight intake request v1\x00"
	idLabel      = "daylight intake request id v1\x00"
)

// SignedMessage is what an authority signs: a label, then the body.
func SignedMessage(body []byte) []byte {
	return append([]byte(requestLabel), body...)
}

// IDOf returns the id of a signed body.
func IDOf(body []byte) ID {
	h := sha256.New()
	h.Write([]byte(idLabel))
	h.Write(body)
	var id ID
	h.Sum(id[:0])
	return id
}

// Marshal returns the canonical encoding of r.
func (r *Request) Marshal() ([]byte, error) {
	return json.Marshal(r)
}

// ParseRequest decodes a request body strictly: unknown fields, trailing
// data and any encoding other than the canonical one (Marshal's: no
// whitespace, fields in order, exact key case) are refused, so one request
// has exactly one body and one id. It does not check the request against an
// agreement (Service does).
func ParseRequest(body []byte) (*Request, error) {
	var r Request
	if err := decodeStrict(body, &r); err != nil {
		return nil, fmt.Errorf("%w: request: %w", ErrMalformed, err)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	canon, err := r.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: request: %w", ErrMalformed, err)
	}
	if !bytes.Equal(canon, body) {
		return nil, fmt.Errorf("%w: request: not in canonical form (hint: encode with intake.Request.Marshal)", ErrMalformed)
	}
	return &r, nil
}

// check validates the request's own fields (not against an agreement).
func (r *Request) check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: request.%s: %s", ErrMalformed, field, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Version != FormatVersion:
		return bad("version", "unsupported version %d (want %d)", r.Version, FormatVersion)
	case !validName(r.Agreement):
		return bad("agreement", "missing or not a name")
	case !validName(r.Authority):
		return bad("authority", "missing or not a name")
	case !r.Category.valid():
		return bad("category", "unknown category %q (want subscriber, metadata or content)", r.Category)
	case len(r.Targets) == 0:
		return bad("targets", "empty")
	case len(r.Targets) > 1000:
		return bad("targets", "more than 1000")
	case r.Issued == 0:
		return bad("issued", "missing")
	case r.AnswerBy == 0:
		return bad("answer_by", "missing")
	case len(r.Case) > 256 || len(r.Offence) > 64 || len(r.Nonce) > 64:
		return bad("case", "case, offence or nonce too long")
	}
	for i, t := range r.Targets {
		if t.Account == "" || len(t.Account) > 256 {
			return bad(fmt.Sprintf("targets[%d].account", i), "missing or too long")
		}
		if t.Nationality != "" && !validName(t.Nationality) {
			return bad(fmt.Sprintf("targets[%d].nationality", i), "not a jurisdiction code")
		}
		if t.Location != "" && !validName(t.Location) {
			return bad(fmt.Sprintf("targets[%d].location", i), "not a jurisdiction code")
		}
	}
	if r.Review != nil && (r.Review.Kind == "" || len(r.Review.Kind) > 64 || len(r.Review.Body) > 256 || len(r.Review.Reference) > 256) {
		return bad("review", "kind missing, or a field too long")
	}
	if r.WarrantCommitment != "" {
		if b, err := hex.DecodeString(r.WarrantCommitment); err != nil || len(b) != 32 {
			return bad("warrant_commitment", "want 64 hex digits")
		}
		if r.Category != Content {
			return bad("warrant_commitment", "only content requests carry a warrant commitment")
		}
	}
	return nil
}

// Sign encodes r canonically and signs it with the authority's key.
func Sign(r *Request, key ed25519.PrivateKey) (*Signed, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	body, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return &Signed{Body: body, Signature: ed25519.Sign(key, SignedMessage(body))}, nil
}

// Marshal returns the JSON encoding of s as sent to the API.
func (s *Signed) Marshal() ([]byte, error) { return json.Marshal(s) }

// ParseSigned decodes a signed request strictly and parses its body. It does
// not verify the signature (that needs the agreement: Service.Submit).
func ParseSigned(data []byte) (*Signed, *Request, error) {
	var s Signed
	if err := decodeStrict(data, &s); err != nil {
		return nil, nil, fmt.Errorf("%w: signed request: %w", ErrMalformed, err)
	}
	if len(s.Signature) != ed25519.SignatureSize {
		return nil, nil, fmt.Errorf("%w: signed request.signature: want %d bytes, got %d", ErrMalformed, ed25519.SignatureSize, len(s.Signature))
	}
	r, err := ParseRequest(s.Body)
	if err != nil {
		return nil, nil, err
	}
	return &s, r, nil
}

// MarshalText encodes id in hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hex id.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
