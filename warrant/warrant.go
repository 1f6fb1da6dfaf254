// Package warrant is daylight's structured, court-signed warrant, its
// commitment H(warrant, salt) and the public metadata that go into the access
// log, and its verification against an access policy (docs/lawful-access.md,
// "Warrant"; threats T5).
package warrant

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/policy"
)

// Version is the encoding version of a warrant body.
const Version = 1

const authorityKEMKeySize = 1216 // X-Wing public key

// Sentinel errors: trustees and tools branch on these.
var (
	ErrMalformed    = errors.New("warrant: malformed")
	ErrInvalid      = errors.New("warrant: invalid")
	ErrUnknownCourt = errors.New("warrant: court is not in the policy")
	ErrSignature    = errors.New("warrant: bad court signature")
	ErrExpired      = errors.New("warrant: expired")
	ErrNotYetValid  = errors.New("warrant: not yet valid")
	ErrPolicy       = errors.New("warrant: issued under another policy")
	ErrBudget       = errors.New("warrant: exceeds the policy's bounds")
)

// Warrant is a structured warrant. Times are unix seconds; the window is
// [WindowStart, WindowEnd).
type Warrant struct {
	PolicyID     policy.ID
	Court        string
	Jurisdiction string
	CaseNumber   string
	LegalBasis   string
	Targets      []string // account ids
	// The requesting authority the court authorizes: released shares are
	// sealed only to its X-Wing key, and only its Ed25519 key may sign the
	// evidence bundle.
	Authority           string
	AuthorityKEMKey     []byte            // X-Wing public key, 1216 bytes
	AuthoritySigningKey ed25519.PublicKey // 32 bytes
	WindowStart         uint64
	WindowEnd           uint64
	EmbargoEnd          uint64
	Issued              uint64
	Expiry              uint64
}

func addString(b *cryptobyte.Builder, s string) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func readString(s *cryptobyte.String, field string) (string, error) {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return "", fmt.Errorf("%w: %s: truncated", ErrMalformed, field)
	}
	if len(v) == 0 || !utf8.Valid(v) {
		return "", fmt.Errorf("%w: %s: empty or not UTF-8", ErrMalformed, field)
	}
	return string(v), nil
}

func (w *Warrant) validate() error {
	if len(w.AuthorityKEMKey) != authorityKEMKeySize || len(w.AuthoritySigningKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: authority keys: sizes %d and %d, want %d and %d", ErrInvalid, len(w.AuthorityKEMKey), len(w.AuthoritySigningKey), authorityKEMKeySize, ed25519.PublicKeySize)
	}
	for _, f := range []struct{ name, v string }{{"court", w.Court}, {"jurisdiction", w.Jurisdiction}, {"case_number", w.CaseNumber}, {"legal_basis", w.LegalBasis}, {"authority", w.Authority}} {
		if len(f.v) == 0 || len(f.v) > 4096 || !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s: must be 1..4096 bytes of UTF-8", ErrInvalid, f.name)
		}
	}
	if len(w.Targets) == 0 || len(w.Targets) > 255 {
		return fmt.Errorf("%w: targets: need 1..255", ErrInvalid)
	}
	seen := map[string]bool{}
	for i, t := range w.Targets {
		if len(t) == 0 || len(t) > 4096 || !utf8.ValidString(t) || seen[t] {
			return fmt.Errorf("%w: targets[%d]: empty, not UTF-8 or repeated", ErrInvalid, i)
		}
		seen[t] = true
	}
	if w.WindowStart >= w.WindowEnd {
		return fmt.Errorf("%w: window: start %d not before end %d", ErrInvalid, w.WindowStart, w.WindowEnd)
	}
	if w.Issued >= w.Expiry {
		return fmt.Errorf("%w: expiry: not after issue time", ErrInvalid)
	}
	if w.EmbargoEnd < w.Issued {
		return fmt.Errorf("%w: embargo_end: before issue time", ErrInvalid)
	}
	return nil
}

// Marshal returns the canonical encoding of w.
func (w *Warrant) Marshal() ([]byte, error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16(Version)
	b.AddBytes(w.PolicyID[:])
	addString(&b, w.Court)
	addString(&b, w.Jurisdiction)
	addString(&b, w.CaseNumber)
	addString(&b, w.LegalBasis)
	b.AddUint8(uint8(len(w.Targets)))
	for _, t := range w.Targets {
		addString(&b, t)
	}
	addString(&b, w.Authority)
	b.AddBytes(w.AuthorityKEMKey)
	b.AddBytes(w.AuthoritySigningKey)
	for _, v := range []uint64{w.WindowStart, w.WindowEnd, w.EmbargoEnd, w.Issued, w.Expiry} {
		b.AddUint64(v)
	}
	return b.Bytes()
}

// Parse decodes a warrant body strictly.
func Parse(data []byte) (*Warrant, error) {
	s := cryptobyte.String(data)
	var ver uint16
	if !s.ReadUint16(&ver) {
		return nil, fmt.Errorf("%w: version: truncated", ErrMalformed)
	}
	if ver != Version {
		return nil, fmt.Errorf("%w: version: unknown %d", ErrMalformed, ver)
	}
	var w Warrant
	var pid []byte
	if !s.ReadBytes(&pid, 32) {
		return nil, fmt.Errorf("%w: policy_id: truncated", ErrMalformed)
	}
	copy(w.PolicyID[:], pid)
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"court", &w.Court}, {"jurisdiction", &w.Jurisdiction}, {"case_number", &w.CaseNumber}, {"legal_basis", &w.LegalBasis}} {
		if *f.dst, err = readString(&s, f.name); err != nil {
			return nil, err
		}
	}
	var nt uint8
	if !s.ReadUint8(&nt) {
		return nil, fmt.Errorf("%w: targets: truncated", ErrMalformed)
	}
	for i := 0; i < int(nt); i++ {
		t, err := readString(&s, fmt.Sprintf("targets[%d]", i))
		if err != nil {
			return nil, err
		}
		w.Targets = append(w.Targets, t)
	}
	if w.Authority, err = readString(&s, "authority"); err != nil {
		return nil, err
	}
	var kem, sig []byte
	if !s.ReadBytes(&kem, authorityKEMKeySize) || !s.ReadBytes(&sig, ed25519.PublicKeySize) {
		return nil, fmt.Errorf("%w: authority keys: truncated", ErrMalformed)
	}
	w.AuthorityKEMKey, w.AuthoritySigningKey = bytes.Clone(kem), bytes.Clone(sig)
	for _, v := range []*uint64{&w.WindowStart, &w.WindowEnd, &w.EmbargoEnd, &w.Issued, &w.Expiry} {
		if !s.ReadUint64(v) {
			return nil, fmt.Errorf("%w: times: truncated", ErrMalformed)
		}
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	if err := w.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &w, nil
}

// Signed is a warrant body with the issuing court's Ed25519 signature.
type Signed struct {
	Body      []byte
	Signature []byte
}

func signedMessage(body []byte) []byte {
	return append([]byte("daylight warrant v1\x00"), body...)
}

// Sign encodes w and signs it with the court's key.
func Sign(w *Warrant, court ed25519.PrivateKey) (*Signed, error) {
	body, err := w.Marshal()
	if err != nil {
		return nil, err
	}
	return &Signed{Body: body, Signature: ed25519.Sign(court, signedMessage(body))}, nil
}

// Marshal encodes s: opaque body<u24> || signature[64].
func (s *Signed) Marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Body) })
	b.AddBytes(s.Signature)
	return b.BytesOrPanic()
}

// ParseSigned decodes a signed warrant strictly (it does not verify it).
func ParseSigned(data []byte) (*Signed, error) {
	s := cryptobyte.String(data)
	var body cryptobyte.String
	var sig []byte
	if !s.ReadUint24LengthPrefixed(&body) {
		return nil, fmt.Errorf("%w: signed.body: truncated", ErrMalformed)
	}
	if !s.ReadBytes(&sig, ed25519.SignatureSize) {
		return nil, fmt.Errorf("%w: signed.signature: truncated", ErrMalformed)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: signed: %d trailing bytes", ErrMalformed, len(s))
	}
	return &Signed{Body: bytes.Clone(body), Signature: bytes.Clone(sig)}, nil
}

// Commitment is H(warrant, salt): SHA-256("daylight warrant commitment v1\x00"
// || signed warrant encoding || salt). The log holds it; the salt keeps a
// guessable warrant (a known target, a likely window) from being confirmed
// by hashing candidates.
func Commitment(s *Signed, salt [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("daylight warrant commitment v1\x00"))
	h.Write(s.Marshal())
	h.Write(salt[:])
	var c [32]byte
	h.Sum(c[:0])
	return c
}

// Verified is a warrant whose court signature, court membership in the
// policy, validity period and bounds have been checked. Only Verify makes one.
type Verified struct {
	*Warrant
	Signed *Signed
}

// Verify checks s against policy pol at time now (unix seconds): the body
// parses; it names pol; its court is one of pol's courts and signed it; the
// jurisdiction is the court's; now is within [Issued, Expiry); and targets,
// window and embargo are within pol's budgets.
func Verify(s *Signed, pol *policy.Verified, now uint64) (*Verified, error) {
	w, err := Parse(s.Body)
	if err != nil {
		return nil, err
	}
	if w.PolicyID != pol.ID {
		return nil, fmt.Errorf("%w: names policy %x, the policy is %x", ErrPolicy, w.PolicyID[:6], pol.ID[:6])
	}
	court, ok := pol.Court(w.Court)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCourt, w.Court)
	}
	if len(s.Signature) != ed25519.SignatureSize || !ed25519.Verify(court.Key, signedMessage(s.Body), s.Signature) {
		return nil, fmt.Errorf("%w: not signed by %q", ErrSignature, w.Court)
	}
	if w.Jurisdiction != court.Jurisdiction {
		return nil, fmt.Errorf("%w: jurisdiction %q is not court %q's (%q)", ErrInvalid, w.Jurisdiction, w.Court, court.Jurisdiction)
	}
	if now < w.Issued {
		return nil, fmt.Errorf("%w: issued at %d, now %d", ErrNotYetValid, w.Issued, now)
	}
	if now >= w.Expiry {
		return nil, fmt.Errorf("%w: at %d, now %d", ErrExpired, w.Expiry, now)
	}
	bu := pol.Budgets
	if len(w.Targets) > int(bu.MaxTargets) {
		return nil, fmt.Errorf("%w: %d targets, at most %d", ErrBudget, len(w.Targets), bu.MaxTargets)
	}
	if w.WindowEnd-w.WindowStart > bu.MaxWindow {
		return nil, fmt.Errorf("%w: window of %ds, at most %ds", ErrBudget, w.WindowEnd-w.WindowStart, bu.MaxWindow)
	}
	if w.EmbargoEnd-w.Issued > bu.MaxEmbargo {
		return nil, fmt.Errorf("%w: embargo of %ds, at most %ds", ErrBudget, w.EmbargoEnd-w.Issued, bu.MaxEmbargo)
	}
	return &Verified{Warrant: w, Signed: s}, nil
}

// Metadata is the public part of a warrant in the access log: enough to
// count warrants per court, jurisdiction and period, nothing that names a
// target. Field names follow accesslog's WarrantCommitment entry.
type Metadata struct {
	Commitment   [32]byte
	PolicyID     [32]byte
	Court        string
	Jurisdiction string
	NumTargets   uint16
	WindowStart  uint64
	WindowEnd    uint64
	EmbargoEnd   uint64
	Filed        uint64
}

// PublicMetadata returns the log metadata of a verified warrant filed at
// time filed with the given salt.
func (v *Verified) PublicMetadata(salt [32]byte, filed uint64) Metadata {
	return Metadata{
		Commitment:   Commitment(v.Signed, salt),
		PolicyID:     v.PolicyID,
		Court:        v.Court,
		Jurisdiction: v.Jurisdiction,
		NumTargets:   uint16(len(v.Targets)),
		WindowStart:  v.WindowStart,
		WindowEnd:    v.WindowEnd,
		EmbargoEnd:   v.EmbargoEnd,
		Filed:        filed,
	}
}

// Matches reports whether m is the metadata of v with salt: the commitment
// opens and every public field agrees (a trustee checks this against the
// logged entry before releasing).
func (v *Verified) Matches(m Metadata, salt [32]byte) error {
	want := v.PublicMetadata(salt, m.Filed)
	if want != m {
		return fmt.Errorf("%w: logged metadata does not match the warrant and salt", ErrInvalid)
	}
	return nil
}

// HasTarget reports whether account is one of the warrant's targets.
func (w *Warrant) HasTarget(account string) bool {
	for _, t := range w.Targets {
		if t == account {
			return true
		}
	}
	return false
}

// LogEntry returns the WarrantCommitment access-log entry of v.
func (v *Verified) LogEntry(salt [32]byte, filed uint64) *accesslog.WarrantCommitment {
	m := v.PublicMetadata(salt, filed)
	return (*accesslog.WarrantCommitment)(&m)
}
