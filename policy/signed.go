package policy

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/daylight-im/daylight/accesslog"
)

// ProviderSigner is the signer name of the provider's signature.
const ProviderSigner = "provider"

// Signature is one signer's Ed25519 signature over the policy id.
type Signature struct {
	Signer string // a trustee id, or ProviderSigner
	Sig    []byte
}

// Signed is a policy body with its signatures, as published and logged.
type Signed struct {
	Body       []byte
	Signatures []Signature
}

// Verified is a policy whose encoding, validity and signatures (every trustee
// and the provider) have been checked. Only Verify makes one.
type Verified struct {
	*Policy
	ID   ID
	Body []byte
}

func signedMessage(id ID) []byte {
	return append([]byte("daylight policy v1 signature\x00"), id[:]...)
}

// Sign returns signer's signature over the policy body.
func Sign(body []byte, signer string, key ed25519.PrivateKey) Signature {
	return Signature{Signer: signer, Sig: ed25519.Sign(key, signedMessage(IDOf(body)))}
}

// Marshal encodes s: opaque body<u24> || signatures<u16> of (opaque signer<u8>, sig[64]).
func (s *Signed) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Body) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, sg := range s.Signatures {
			addString(b, sg.Signer)
			if len(sg.Sig) != ed25519.SignatureSize {
				b.SetError(fmt.Errorf("%w: signature of %q: size", ErrMalformed, sg.Signer))
			}
			b.AddBytes(sg.Sig)
		}
	})
	return b.Bytes()
}

// ParseSigned decodes a signed policy strictly (it does not verify it).
func ParseSigned(data []byte) (*Signed, error) {
	s := cryptobyte.String(data)
	var body, sigs cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&body) {
		return nil, fmt.Errorf("%w: signed.body: truncated", ErrMalformed)
	}
	if !s.ReadUint16LengthPrefixed(&sigs) {
		return nil, fmt.Errorf("%w: signed.signatures: truncated", ErrMalformed)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: signed: %d trailing bytes", ErrMalformed, len(s))
	}
	out := &Signed{Body: bytes.Clone(body)}
	for i := 0; !sigs.Empty(); i++ {
		var sg Signature
		var err error
		if sg.Signer, err = readString(&sigs, fmt.Sprintf("signed.signatures[%d].signer", i)); err != nil {
			return nil, err
		}
		var sig []byte
		if !sigs.ReadBytes(&sig, ed25519.SignatureSize) {
			return nil, fmt.Errorf("%w: signed.signatures[%d].sig: truncated", ErrMalformed, i)
		}
		sg.Sig = bytes.Clone(sig)
		out.Signatures = append(out.Signatures, sg)
	}
	return out, nil
}

// Verify parses the body and checks that every trustee and the provider
// signed it, exactly once each, and that nobody else did.
func Verify(s *Signed) (*Verified, error) {
	p, err := Parse(s.Body)
	if err != nil {
		return nil, err
	}
	if _, err := p.CheckpointPolicy(); err != nil {
		return nil, err
	}
	id := IDOf(s.Body)
	msg := signedMessage(id)
	keys := map[string]ed25519.PublicKey{ProviderSigner: p.Provider}
	for _, t := range p.Trustees {
		keys[t.ID] = t.SigningKey
	}
	seen := map[string]bool{}
	for i, sg := range s.Signatures {
		key, ok := keys[sg.Signer]
		if !ok {
			return nil, fmt.Errorf("%w: signatures[%d]: %q is neither a trustee nor the provider", ErrSignatures, i, sg.Signer)
		}
		if seen[sg.Signer] {
			return nil, fmt.Errorf("%w: signatures[%d]: %q signed twice", ErrSignatures, i, sg.Signer)
		}
		if !ed25519.Verify(key, msg, sg.Sig) {
			return nil, fmt.Errorf("%w: signatures[%d]: bad signature by %q", ErrSignatures, i, sg.Signer)
		}
		seen[sg.Signer] = true
	}
	for name := range keys {
		if !seen[name] {
			return nil, fmt.Errorf("%w: missing signature of %q", ErrSignatures, name)
		}
	}
	return &Verified{Policy: p, ID: id, Body: bytes.Clone(s.Body)}, nil
}

// LogEntry returns the access-log entry that publishes the signed policy
// (A10). Its PolicyID is the policy id (the hash of the body; the
// signatures do not change what the policy says).
func LogEntry(s *Signed, time uint64) (*accesslog.Policy, error) {
	if _, err := Verify(s); err != nil {
		return nil, err
	}
	enc, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	return &accesslog.Policy{PolicyID: IDOf(s.Body), SignedPolicy: enc, Time: time}, nil
}
