package suite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign/ed448"
)

// sigScheme is the signature algorithm of a suite (RFC 9420, Section 5.1.2).
type sigScheme interface {
	generate(r io.Reader) (priv, pub []byte, err error)
	public(priv []byte) ([]byte, error)
	sign(priv, msg []byte) ([]byte, error)
	verify(pub, msg, sig []byte) bool
	validatePublic(pub []byte) error
	// signer parses priv once for repeated signing.
	signer(priv []byte) (sign func(msg []byte) ([]byte, error), pub []byte, err error)
}

// Signer is a parsed signature private key, for signing many messages without
// re-parsing (and, for EdDSA, re-expanding) the key each time. It is safe for
// concurrent use.
type Signer struct {
	s    *Suite
	sign func(msg []byte) ([]byte, error)
	pub  []byte
}

// NewSigner parses a signature private key of the suite.
func (s *Suite) NewSigner(priv []byte) (*Signer, error) {
	sign, pub, err := s.sig.signer(priv)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: NewSigner: %w", err)
	}
	return &Signer{s: s, sign: sign, pub: pub}, nil
}

// Suite returns the suite of the key.
func (g *Signer) Suite() *Suite { return g.s }

// PublicKey returns the signature public key.
func (g *Signer) PublicKey() []byte { return append([]byte(nil), g.pub...) }

// SignWithLabel is Suite.SignWithLabel with the parsed key.
func (g *Signer) SignWithLabel(label string, content []byte) ([]byte, error) {
	msg, err := labeledContent(label, content)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: SignWithLabel: %w", err)
	}
	sig, err := g.sign(msg)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: SignWithLabel: %w", err)
	}
	return sig, nil
}

// GenerateSignatureKey returns a fresh signature key pair whose private key is
// derived from bytes read from rand (deterministic for a deterministic rand).
func (s *Suite) GenerateSignatureKey(rand io.Reader) (priv, pub []byte, err error) {
	priv, pub, err = s.sig.generate(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/suite: GenerateSignatureKey: %w", err)
	}
	return priv, pub, nil
}

// SignaturePublicKey returns the public key of a signature private key.
func (s *Suite) SignaturePublicKey(priv []byte) ([]byte, error) {
	pub, err := s.sig.public(priv)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: SignaturePublicKey: %w", err)
	}
	return pub, nil
}

// ValidateSignaturePublicKey checks that pub is a well-formed signature public
// key of the suite (length; for ECDSA, an uncompressed point on the curve).
func (s *Suite) ValidateSignaturePublicKey(pub []byte) error {
	if err := s.sig.validatePublic(pub); err != nil {
		return fmt.Errorf("mls/suite: signature public key: %w", err)
	}
	return nil
}

// SignWithLabel implements SignWithLabel (RFC 9420, Section 5.1.2):
// Signature.Sign(priv, SignContent{"MLS 1.0 " + label, content}). ECDSA
// signatures are DER-encoded and hedged (randomised); EdDSA is deterministic.
func (s *Suite) SignWithLabel(priv []byte, label string, content []byte) ([]byte, error) {
	msg, err := labeledContent(label, content)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: SignWithLabel: %w", err)
	}
	sig, err := s.sig.sign(priv, msg)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: SignWithLabel: %w", err)
	}
	return sig, nil
}

// VerifyWithLabel implements VerifyWithLabel (RFC 9420, Section 5.1.2). A
// signature that does not verify returns an error wrapping
// ErrInvalidSignature; a malformed public key returns a different error.
func (s *Suite) VerifyWithLabel(pub []byte, label string, content, signature []byte) error {
	msg, err := labeledContent(label, content)
	if err != nil {
		return fmt.Errorf("mls/suite: VerifyWithLabel: %w", err)
	}
	if err := s.sig.validatePublic(pub); err != nil {
		return fmt.Errorf("mls/suite: VerifyWithLabel: public key: %w", err)
	}
	if !s.sig.verify(pub, msg, signature) {
		return fmt.Errorf("mls/suite: VerifyWithLabel %q: %w", label, ErrInvalidSignature)
	}
	return nil
}

// ed25519Scheme is Ed25519 (RFC 8032); private keys are the 32-byte seed.
type ed25519Scheme struct{}

func (ed25519Scheme) generate(r io.Reader) (priv, pub []byte, err error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, nil, err
	}
	k := ed25519.NewKeyFromSeed(seed)
	return seed, k.Public().(ed25519.PublicKey), nil
}

func (ed25519Scheme) key(priv []byte) (ed25519.PrivateKey, error) {
	if len(priv) != ed25519.SeedSize {
		return nil, fmt.Errorf("Ed25519 private key is %d bytes, want %d", len(priv), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(priv), nil
}

func (e ed25519Scheme) public(priv []byte) ([]byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, err
	}
	return []byte(k.Public().(ed25519.PublicKey)), nil
}

func (e ed25519Scheme) sign(priv, msg []byte) ([]byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	return ed25519.Sign(k, msg), nil
}

func (e ed25519Scheme) signer(priv []byte) (func([]byte) ([]byte, error), []byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, nil, err
	}
	return func(msg []byte) ([]byte, error) { return ed25519.Sign(k, msg), nil }, []byte(k.Public().(ed25519.PublicKey)), nil
}

func (ed25519Scheme) verify(pub, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

func (ed25519Scheme) validatePublic(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("Ed25519 public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return nil
}

// ed448Scheme is Ed448 (RFC 8032, empty context) from circl; private keys
// are the 57-byte seed.
type ed448Scheme struct{}

func (ed448Scheme) generate(r io.Reader) (priv, pub []byte, err error) {
	seed := make([]byte, ed448.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, nil, err
	}
	k := ed448.NewKeyFromSeed(seed)
	return seed, []byte(k.Public().(ed448.PublicKey)), nil
}

func (ed448Scheme) key(priv []byte) (ed448.PrivateKey, error) {
	if len(priv) != ed448.SeedSize {
		return nil, fmt.Errorf("Ed448 private key is %d bytes, want %d", len(priv), ed448.SeedSize)
	}
	return ed448.NewKeyFromSeed(priv), nil
}

func (e ed448Scheme) public(priv []byte) ([]byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, err
	}
	return []byte(k.Public().(ed448.PublicKey)), nil
}

func (e ed448Scheme) sign(priv, msg []byte) ([]byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	return ed448.Sign(k, msg, ""), nil
}

func (e ed448Scheme) signer(priv []byte) (func([]byte) ([]byte, error), []byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, nil, err
	}
	return func(msg []byte) ([]byte, error) { return ed448.Sign(k, msg, ""), nil }, []byte(k.Public().(ed448.PublicKey)), nil
}

func (ed448Scheme) verify(pub, msg, sig []byte) bool {
	return len(pub) == ed448.PublicKeySize && ed448.Verify(ed448.PublicKey(pub), msg, sig, "")
}

func (ed448Scheme) validatePublic(pub []byte) error {
	if len(pub) != ed448.PublicKeySize {
		return fmt.Errorf("Ed448 public key is %d bytes, want %d", len(pub), ed448.PublicKeySize)
	}
	return nil
}

// ecdsaScheme is ECDSA over a NIST curve with DER-encoded signatures
// (ecdsa_secp*r1_sha* of TLS 1.3). Private keys are big-endian scalars of
// fixed length, public keys uncompressed points.
type ecdsaScheme struct {
	curve   elliptic.Curve
	hash    crypto.Hash
	nsk     int
	bitmask byte
}

var (
	ecdsaP256 = ecdsaScheme{curve: elliptic.P256(), hash: crypto.SHA256, nsk: 32, bitmask: 0xff}
	ecdsaP384 = ecdsaScheme{curve: elliptic.P384(), hash: crypto.SHA384, nsk: 48, bitmask: 0xff}
	ecdsaP521 = ecdsaScheme{curve: elliptic.P521(), hash: crypto.SHA512, nsk: 66, bitmask: 0x01}
)

func (e ecdsaScheme) generate(r io.Reader) (priv, pub []byte, err error) {
	// Rejection sampling from r, so that a deterministic reader gives a
	// deterministic key (crypto/ecdsa.GenerateKey ignores its reader).
	for range 64 {
		b := make([]byte, e.nsk)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, nil, err
		}
		b[0] &= e.bitmask
		k, err := ecdsa.ParseRawPrivateKey(e.curve, b)
		if err != nil {
			continue
		}
		pub, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, nil, err
		}
		return b, pub, nil
	}
	return nil, nil, errors.New("ECDSA key generation: no valid scalar")
}

// key parses a big-endian scalar. Shorter encodings are left-padded: some
// implementations (and the P-521 vectors) drop leading zero bytes.
func (e ecdsaScheme) key(priv []byte) (*ecdsa.PrivateKey, error) {
	return ecdsa.ParseRawPrivateKey(e.curve, leftPad(priv, e.nsk))
}

func (e ecdsaScheme) public(priv []byte) ([]byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, err
	}
	return k.PublicKey.Bytes()
}

func (e ecdsaScheme) digest(msg []byte) []byte {
	h := e.hash.New()
	h.Write(msg)
	return h.Sum(nil)
}

func (e ecdsaScheme) sign(priv, msg []byte) ([]byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, k, e.digest(msg))
}

func (e ecdsaScheme) signer(priv []byte) (func([]byte) ([]byte, error), []byte, error) {
	k, err := e.key(priv)
	if err != nil {
		return nil, nil, err
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return func(msg []byte) ([]byte, error) { return ecdsa.SignASN1(rand.Reader, k, e.digest(msg)) }, pub, nil
}

func (e ecdsaScheme) verify(pub, msg, sig []byte) bool {
	k, err := ecdsa.ParseUncompressedPublicKey(e.curve, pub)
	if err != nil {
		return false
	}
	return ecdsa.VerifyASN1(k, e.digest(msg), sig)
}

func (e ecdsaScheme) validatePublic(pub []byte) error {
	_, err := ecdsa.ParseUncompressedPublicKey(e.curve, pub)
	return err
}

// leftPad returns b left-padded with zeros to n bytes (b itself if it is not
// shorter).
func leftPad(b []byte, n int) []byte {
	if len(b) >= n || len(b) == 0 {
		return b
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}
