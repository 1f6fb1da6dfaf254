// Package policy is daylight's access policy: who the trustees are (and their
// escrow keys per key period), the threshold k, the courts whose warrants
// count, the witnesses and how many must cosign (w), and the budgets that
// bound lawful access (docs/lawful-access.md, A4–A6, A10).
//
// A policy is encoded canonically; its id is SHA-256 of that encoding; it is
// valid only when signed by every trustee and by the provider. "No escrow" is
// a valid policy (no trustees, no courts): a deployment that offers none says
// so in the same format.
package policy

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
)

// Version is the encoding version of a policy body.
const Version = 1

// Sentinel errors.
var (
	ErrMalformed  = errors.New("policy: malformed")
	ErrInvalid    = errors.New("policy: invalid")
	ErrSignatures = errors.New("policy: signatures")
	ErrNoPeriod   = errors.New("policy: no trustee keys for key period")
)

// ID names a policy: SHA-256("daylight policy v1\x00" || body).
type ID [32]byte

// PeriodKey is a trustee's X-Wing escrow public key for one key period.
type PeriodKey struct {
	Period uint32
	Key    []byte // X-Wing public key, escrow.PublicKeySize bytes
}

// Trustee is one of the n trustees; its index in Policy.Trustees is its share
// index in escrow records.
type Trustee struct {
	ID           string
	Jurisdiction string
	SigningKey   ed25519.PublicKey // signs the policy, release entries, shares
	PeriodKeys   []PeriodKey       // strictly ascending periods, same set for all trustees
}

// Court is an issuing court whose warrants trustees honour.
type Court struct {
	ID           string
	Jurisdiction string
	Key          ed25519.PublicKey
}

// Witness is a log witness, by its signed-note verifier key
// (C2SP signed-note: "name+hash+base64key").
type Witness struct {
	Name        string
	VerifierKey string
}

// LogKey names the access log: its checkpoint origin and its signed-note
// verifier key (C2SP tlog-checkpoint, signed-note).
type LogKey struct {
	Origin      string
	VerifierKey string
}

// Budgets bound lawful access (A5, A6). Durations are in seconds.
type Budgets struct {
	RecordsPerWarrant         uint32
	RecordsPerJurisdiction30d uint32
	RecordsOverall30d         uint32
	MaxTargets                uint16
	MaxWindow                 uint64
	MaxEmbargo                uint64
	Lookback                  uint64 // period keys older than this are destroyed
	EpochMaxAge               uint64
	RetentionGrace            uint64
	HistoricRetention         uint64 // default 0: no historic ciphertext retention
}

// KeyPeriods defines key period p as [Genesis + p*Length, Genesis + (p+1)*Length).
type KeyPeriods struct {
	Genesis uint64 // unix seconds
	Length  uint64 // seconds, > 0
}

// Policy is the decoded body of an access policy.
type Policy struct {
	Name      string
	NoEscrow  bool
	Provider  ed25519.PublicKey
	K         uint8
	Trustees  []Trustee
	Courts    []Court
	Log       LogKey
	Witnesses []Witness
	W         uint8
	Periods   KeyPeriods
	Budgets   Budgets
}

func addString(b *cryptobyte.Builder, s string) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

// Marshal returns the canonical encoding of p (which must be valid).
func (p *Policy) Marshal() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16(Version)
	addString(&b, p.Name)
	noEscrow := uint8(0)
	if p.NoEscrow {
		noEscrow = 1
	}
	b.AddUint8(noEscrow)
	b.AddBytes(p.Provider)
	b.AddUint8(p.K)
	b.AddUint8(uint8(len(p.Trustees)))
	for _, t := range p.Trustees {
		addString(&b, t.ID)
		addString(&b, t.Jurisdiction)
		b.AddBytes(t.SigningKey)
		b.AddUint16(uint16(len(t.PeriodKeys)))
		for _, k := range t.PeriodKeys {
			b.AddUint32(k.Period)
			b.AddBytes(k.Key)
		}
	}
	b.AddUint8(uint8(len(p.Courts)))
	for _, c := range p.Courts {
		addString(&b, c.ID)
		addString(&b, c.Jurisdiction)
		b.AddBytes(c.Key)
	}
	addString(&b, p.Log.Origin)
	addString(&b, p.Log.VerifierKey)
	b.AddUint8(uint8(len(p.Witnesses)))
	for _, w := range p.Witnesses {
		addString(&b, w.Name)
		addString(&b, w.VerifierKey)
	}
	b.AddUint8(p.W)
	b.AddUint64(p.Periods.Genesis)
	b.AddUint64(p.Periods.Length)
	bu := p.Budgets
	b.AddUint32(bu.RecordsPerWarrant)
	b.AddUint32(bu.RecordsPerJurisdiction30d)
	b.AddUint32(bu.RecordsOverall30d)
	b.AddUint16(bu.MaxTargets)
	for _, v := range []uint64{bu.MaxWindow, bu.MaxEmbargo, bu.Lookback, bu.EpochMaxAge, bu.RetentionGrace, bu.HistoricRetention} {
		b.AddUint64(v)
	}
	return b.Bytes()
}

func checkString(field, s string) error {
	if len(s) == 0 || len(s) > 255 || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s: must be 1..255 bytes of UTF-8", ErrInvalid, field)
	}
	return nil
}

// Validate checks the policy's internal consistency.
func (p *Policy) Validate() error {
	if err := checkString("name", p.Name); err != nil {
		return err
	}
	if len(p.Provider) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: provider: key size", ErrInvalid)
	}
	if len(p.Trustees) > 255 || len(p.Courts) > 255 || len(p.Witnesses) > 255 {
		return fmt.Errorf("%w: too many trustees, courts or witnesses", ErrInvalid)
	}
	if p.Periods.Length == 0 {
		return fmt.Errorf("%w: periods.length: zero", ErrInvalid)
	}
	if int(p.W) > len(p.Witnesses) {
		return fmt.Errorf("%w: w=%d exceeds %d witnesses", ErrInvalid, p.W, len(p.Witnesses))
	}
	if p.NoEscrow {
		if p.K != 0 || len(p.Trustees) != 0 || len(p.Courts) != 0 {
			return fmt.Errorf("%w: a no-escrow policy has no trustees, courts or threshold", ErrInvalid)
		}
	} else {
		if p.K < 1 || int(p.K) > len(p.Trustees) {
			return fmt.Errorf("%w: k=%d with %d trustees", ErrInvalid, p.K, len(p.Trustees))
		}
		if p.W < 1 {
			return fmt.Errorf("%w: w: an escrow policy needs at least one witness cosignature", ErrInvalid)
		}
		if len(p.Courts) == 0 {
			return fmt.Errorf("%w: courts: none", ErrInvalid)
		}
	}
	ids := map[string]bool{"provider": true}
	for i, t := range p.Trustees {
		field := fmt.Sprintf("trustees[%d]", i)
		if err := checkString(field+".id", t.ID); err != nil {
			return err
		}
		if err := checkString(field+".jurisdiction", t.Jurisdiction); err != nil {
			return err
		}
		if ids[t.ID] {
			return fmt.Errorf("%w: %s.id: %q repeated or reserved", ErrInvalid, field, t.ID)
		}
		ids[t.ID] = true
		if len(t.SigningKey) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: %s.signing_key: size", ErrInvalid, field)
		}
		if len(t.PeriodKeys) == 0 || len(t.PeriodKeys) > 65535 {
			return fmt.Errorf("%w: %s.period_keys: need 1..65535", ErrInvalid, field)
		}
		for j, k := range t.PeriodKeys {
			if len(k.Key) != escrow.PublicKeySize {
				return fmt.Errorf("%w: %s.period_keys[%d]: size", ErrInvalid, field, j)
			}
			if j > 0 && k.Period <= t.PeriodKeys[j-1].Period {
				return fmt.Errorf("%w: %s.period_keys[%d]: periods not strictly ascending", ErrInvalid, field, j)
			}
			if i > 0 && (len(t.PeriodKeys) != len(p.Trustees[0].PeriodKeys) || k.Period != p.Trustees[0].PeriodKeys[j].Period) {
				return fmt.Errorf("%w: %s.period_keys: periods differ from trustees[0]", ErrInvalid, field)
			}
		}
	}
	courts := map[string]bool{}
	for i, c := range p.Courts {
		field := fmt.Sprintf("courts[%d]", i)
		if err := checkString(field+".id", c.ID); err != nil {
			return err
		}
		if err := checkString(field+".jurisdiction", c.Jurisdiction); err != nil {
			return err
		}
		if courts[c.ID] {
			return fmt.Errorf("%w: %s.id: %q repeated", ErrInvalid, field, c.ID)
		}
		courts[c.ID] = true
		if len(c.Key) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: %s.key: size", ErrInvalid, field)
		}
	}
	if err := checkString("log.origin", p.Log.Origin); err != nil {
		return err
	}
	if err := checkString("log.verifier_key", p.Log.VerifierKey); err != nil {
		return err
	}
	wit := map[string]bool{}
	for i, w := range p.Witnesses {
		field := fmt.Sprintf("witnesses[%d]", i)
		if err := checkString(field+".name", w.Name); err != nil {
			return err
		}
		if err := checkString(field+".verifier_key", w.VerifierKey); err != nil {
			return err
		}
		if wit[w.Name] {
			return fmt.Errorf("%w: %s.name: %q repeated", ErrInvalid, field, w.Name)
		}
		wit[w.Name] = true
	}
	return nil
}

func readString(s *cryptobyte.String, field string) (string, error) {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) {
		return "", fmt.Errorf("%w: %s: truncated", ErrMalformed, field)
	}
	return string(v), nil
}

// Parse decodes a policy body strictly and validates it; it rejects unknown
// versions, trailing bytes and any non-canonical encoding.
func Parse(body []byte) (*Policy, error) {
	s := cryptobyte.String(body)
	var ver uint16
	if !s.ReadUint16(&ver) {
		return nil, fmt.Errorf("%w: version: truncated", ErrMalformed)
	}
	if ver != Version {
		return nil, fmt.Errorf("%w: version: unknown %d", ErrMalformed, ver)
	}
	var p Policy
	var err error
	if p.Name, err = readString(&s, "name"); err != nil {
		return nil, err
	}
	var ne, nt, nc, nw uint8
	if !s.ReadUint8(&ne) || ne > 1 {
		return nil, fmt.Errorf("%w: no_escrow: truncated or not 0/1", ErrMalformed)
	}
	p.NoEscrow = ne == 1
	var key []byte
	if !s.ReadBytes(&key, ed25519.PublicKeySize) {
		return nil, fmt.Errorf("%w: provider: truncated", ErrMalformed)
	}
	p.Provider = bytes.Clone(key)
	if !s.ReadUint8(&p.K) || !s.ReadUint8(&nt) {
		return nil, fmt.Errorf("%w: k: truncated", ErrMalformed)
	}
	for i := 0; i < int(nt); i++ {
		field := fmt.Sprintf("trustees[%d]", i)
		var t Trustee
		if t.ID, err = readString(&s, field+".id"); err != nil {
			return nil, err
		}
		if t.Jurisdiction, err = readString(&s, field+".jurisdiction"); err != nil {
			return nil, err
		}
		var np uint16
		if !s.ReadBytes(&key, ed25519.PublicKeySize) || !s.ReadUint16(&np) {
			return nil, fmt.Errorf("%w: %s.signing_key: truncated", ErrMalformed, field)
		}
		t.SigningKey = bytes.Clone(key)
		for j := 0; j < int(np); j++ {
			var pk PeriodKey
			if !s.ReadUint32(&pk.Period) || !s.ReadBytes(&key, escrow.PublicKeySize) {
				return nil, fmt.Errorf("%w: %s.period_keys[%d]: truncated", ErrMalformed, field, j)
			}
			pk.Key = bytes.Clone(key)
			t.PeriodKeys = append(t.PeriodKeys, pk)
		}
		p.Trustees = append(p.Trustees, t)
	}
	if !s.ReadUint8(&nc) {
		return nil, fmt.Errorf("%w: courts: truncated", ErrMalformed)
	}
	for i := 0; i < int(nc); i++ {
		field := fmt.Sprintf("courts[%d]", i)
		var c Court
		if c.ID, err = readString(&s, field+".id"); err != nil {
			return nil, err
		}
		if c.Jurisdiction, err = readString(&s, field+".jurisdiction"); err != nil {
			return nil, err
		}
		if !s.ReadBytes(&key, ed25519.PublicKeySize) {
			return nil, fmt.Errorf("%w: %s.key: truncated", ErrMalformed, field)
		}
		c.Key = bytes.Clone(key)
		p.Courts = append(p.Courts, c)
	}
	if p.Log.Origin, err = readString(&s, "log.origin"); err != nil {
		return nil, err
	}
	if p.Log.VerifierKey, err = readString(&s, "log.verifier_key"); err != nil {
		return nil, err
	}
	if !s.ReadUint8(&nw) {
		return nil, fmt.Errorf("%w: witnesses: truncated", ErrMalformed)
	}
	for i := 0; i < int(nw); i++ {
		field := fmt.Sprintf("witnesses[%d]", i)
		var w Witness
		if w.Name, err = readString(&s, field+".name"); err != nil {
			return nil, err
		}
		if w.VerifierKey, err = readString(&s, field+".verifier_key"); err != nil {
			return nil, err
		}
		p.Witnesses = append(p.Witnesses, w)
	}
	bu := &p.Budgets
	if !s.ReadUint8(&p.W) || !s.ReadUint64(&p.Periods.Genesis) || !s.ReadUint64(&p.Periods.Length) ||
		!s.ReadUint32(&bu.RecordsPerWarrant) || !s.ReadUint32(&bu.RecordsPerJurisdiction30d) ||
		!s.ReadUint32(&bu.RecordsOverall30d) || !s.ReadUint16(&bu.MaxTargets) {
		return nil, fmt.Errorf("%w: budgets: truncated", ErrMalformed)
	}
	for _, v := range []*uint64{&bu.MaxWindow, &bu.MaxEmbargo, &bu.Lookback, &bu.EpochMaxAge, &bu.RetentionGrace, &bu.HistoricRetention} {
		if !s.ReadUint64(v) {
			return nil, fmt.Errorf("%w: budgets: truncated", ErrMalformed)
		}
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// IDOf returns the id of an encoded policy body.
func IDOf(body []byte) ID {
	h := sha256.New()
	h.Write([]byte("daylight policy v1\x00"))
	h.Write(body)
	var id ID
	h.Sum(id[:0])
	return id
}

// Period returns the key period containing unix time t (0 before genesis).
func (p *Policy) Period(t uint64) uint32 {
	if t < p.Periods.Genesis {
		return 0
	}
	return uint32((t - p.Periods.Genesis) / p.Periods.Length)
}

// PeriodStart returns the first second of key period n.
func (p *Policy) PeriodStart(n uint32) uint64 { return p.Periods.Genesis + uint64(n)*p.Periods.Length }

// EscrowParams returns k and the trustees' period keys for key period n, in
// trustee order, for escrow.Build and escrow.Recover.
func (p *Policy) EscrowParams(n uint32) (escrow.Params, error) {
	if p.NoEscrow {
		return escrow.Params{}, fmt.Errorf("%w %d: the policy has no escrow", ErrNoPeriod, n)
	}
	out := escrow.Params{K: int(p.K)}
	for _, t := range p.Trustees {
		var key []byte
		for _, pk := range t.PeriodKeys {
			if pk.Period == n {
				key = pk.Key
			}
		}
		if key == nil {
			return escrow.Params{}, fmt.Errorf("%w %d (trustee %q)", ErrNoPeriod, n, t.ID)
		}
		out.TrusteeKeys = append(out.TrusteeKeys, key)
	}
	return out, nil
}

// Court returns the court with the given id.
func (p *Policy) Court(id string) (*Court, bool) {
	for i := range p.Courts {
		if p.Courts[i].ID == id {
			return &p.Courts[i], true
		}
	}
	return nil, false
}

// TrusteeIndex returns the index of the trustee with the given id.
func (p *Policy) TrusteeIndex(id string) (int, bool) {
	for i := range p.Trustees {
		if p.Trustees[i].ID == id {
			return i, true
		}
	}
	return -1, false
}

// CheckpointPolicy returns what the policy says to trust about the access
// log: its origin and key, its witnesses, and w (A3).
func (p *Policy) CheckpointPolicy() (*accesslog.CheckpointPolicy, error) {
	var keys []string
	for _, w := range p.Witnesses {
		keys = append(keys, w.VerifierKey)
	}
	cp, err := accesslog.NewCheckpointPolicy(p.Log.Origin, p.Log.VerifierKey, keys, int(p.W))
	if err != nil {
		return nil, fmt.Errorf("%w: log or witness keys: %w", ErrInvalid, err)
	}
	return cp, nil
}
