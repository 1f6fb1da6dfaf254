package warrant

import (
	"crypto/hpke"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// ErrNotForMe is returned by TryOpen for an opening sealed to another account
// (or not an opening at all): trial decryption failed.
var ErrNotForMe = errors.New("warrant: opening is not for this key")

// Opening is the notice a target receives when a warrant's embargo ends (A7):
// which window of its account was accessed, under which warrant and court.
type Opening struct {
	WarrantCommitment [32]byte
	Target            string
	Court             string
	Jurisdiction      string
	CaseNumber        string
	LegalBasis        string
	WindowStart       uint64
	WindowEnd         uint64
	Records           uint32 // records released for the warrant
	Opened            uint64 // when the opening entry was made
}

// OpeningFor returns the opening notice of v for one of its targets.
func (v *Verified) OpeningFor(target string, salt [32]byte, records uint32, opened uint64) (*Opening, error) {
	if !v.HasTarget(target) {
		return nil, fmt.Errorf("%w: %q is not a target", ErrInvalid, target)
	}
	return &Opening{
		WarrantCommitment: Commitment(v.Signed, salt), Target: target, Court: v.Court,
		Jurisdiction: v.Jurisdiction, CaseNumber: v.CaseNumber, LegalBasis: v.LegalBasis,
		WindowStart: v.WindowStart, WindowEnd: v.WindowEnd, Records: records, Opened: opened,
	}, nil
}

// Marshal encodes the opening body.
func (o *Opening) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint16(Version)
	b.AddBytes(o.WarrantCommitment[:])
	for _, s := range []string{o.Target, o.Court, o.Jurisdiction, o.CaseNumber, o.LegalBasis} {
		if s == "" {
			return nil, fmt.Errorf("%w: opening: empty field", ErrInvalid)
		}
		addString(&b, s)
	}
	b.AddUint64(o.WindowStart)
	b.AddUint64(o.WindowEnd)
	b.AddUint32(o.Records)
	b.AddUint64(o.Opened)
	return b.Bytes()
}

// ParseOpening decodes an opening body strictly.
func ParseOpening(data []byte) (*Opening, error) {
	s := cryptobyte.String(data)
	var ver uint16
	var o Opening
	var c []byte
	if !s.ReadUint16(&ver) || ver != Version {
		return nil, fmt.Errorf("%w: opening.version", ErrMalformed)
	}
	if !s.ReadBytes(&c, 32) {
		return nil, fmt.Errorf("%w: opening.warrant_commitment: truncated", ErrMalformed)
	}
	copy(o.WarrantCommitment[:], c)
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"target", &o.Target}, {"court", &o.Court}, {"jurisdiction", &o.Jurisdiction}, {"case_number", &o.CaseNumber}, {"legal_basis", &o.LegalBasis}} {
		if *f.dst, err = readString(&s, "opening."+f.name); err != nil {
			return nil, err
		}
	}
	if !s.ReadUint64(&o.WindowStart) || !s.ReadUint64(&o.WindowEnd) || !s.ReadUint32(&o.Records) || !s.ReadUint64(&o.Opened) {
		return nil, fmt.Errorf("%w: opening.times: truncated", ErrMalformed)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: opening: %d trailing bytes", ErrMalformed, len(s))
	}
	return &o, nil
}

const openingInfo = "daylight opening v1"

func suite() (hpke.KEM, hpke.KDF, hpke.AEAD) {
	return hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
}

// SealOpening encrypts o to the target account's X-Wing public key (1216
// bytes, as in the key directory) with HPKE base mode (RFC 9180; KEM X-Wing
// 0x647a, HKDF-SHA256, ChaCha20-Poly1305). The result is the body of the
// opening entry in the access log: it reveals nothing about the target.
func SealOpening(targetKey []byte, o *Opening) ([]byte, error) {
	kem, kdf, aead := suite()
	pk, err := kem.NewPublicKey(targetKey)
	if err != nil {
		return nil, fmt.Errorf("warrant: opening: target key: %w", err)
	}
	pt, err := o.Marshal()
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, kdf, aead, []byte(openingInfo), pt)
}

// TryOpen trial-decrypts an opening entry body with the account's X-Wing
// private key (32-byte seed). It returns ErrNotForMe unless the entry was
// sealed to this key and names account as its target.
func TryOpen(accountKey []byte, account string, sealed []byte) (*Opening, error) {
	kem, kdf, aead := suite()
	sk, err := kem.NewPrivateKey(accountKey)
	if err != nil {
		return nil, fmt.Errorf("warrant: opening: account key: %w", err)
	}
	pt, err := hpke.Open(sk, kdf, aead, []byte(openingInfo), sealed)
	if err != nil {
		return nil, ErrNotForMe
	}
	o, err := ParseOpening(pt)
	if err != nil {
		return nil, err
	}
	if o.Target != account {
		return nil, fmt.Errorf("%w: sealed to this key but names %q", ErrNotForMe, o.Target)
	}
	return o, nil
}
