// Package suite implements the MLS cipher suites (RFC 9420, Section 5.1):
// the hash, KDF and AEAD of a suite, the labelled derivations built on them
// (RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret), HPKE base mode
// (RFC 9180) with the MLS EncryptWithLabel wrapper, and signatures with
// SignWithLabel.
//
// Keys are plain byte slices in the encodings the MLS test vectors use: HPKE
// private keys as SerializePrivateKey (raw X25519/X448 scalar, big-endian
// P-curve scalar, 32-byte X-Wing seed), signature private keys as the
// Ed25519/Ed448 seed or the big-endian ECDSA scalar, public keys raw (ECDSA
// and P-curve HPKE keys as uncompressed points). ECDSA signatures are
// DER-encoded, as in TLS 1.3.
//
// A *Suite is immutable and safe for concurrent use.
package suite

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// ID is a CipherSuite code point (RFC 9420, Section 17.1).
type ID uint16

// Cipher suites (RFC 9420, Section 17.1) and the X-Wing suite.
const (
	X25519AES128GCMSHA256Ed25519        ID = 0x0001
	P256AES128GCMSHA256P256             ID = 0x0002
	X25519ChaCha20Poly1305SHA256Ed25519 ID = 0x0003
	X448AES256GCMSHA512Ed448            ID = 0x0004
	P521AES256GCMSHA512P521             ID = 0x0005
	X448ChaCha20Poly1305SHA512Ed448     ID = 0x0006
	P384AES256GCMSHA384P384             ID = 0x0007
	// XWingChaCha20Poly1305SHA256Ed25519 is the default code point of the
	// post-quantum hybrid suite: HPKE KEM MLKEM768-X25519 (X-Wing, KEM id
	// 0x647a), HKDF-SHA256, ChaCha20-Poly1305, Ed25519. Other stacks use other
	// code points for it; see Registry.
	XWingChaCha20Poly1305SHA256Ed25519 ID = 0x004D
)

// ErrUnsupported is returned for a code point this package does not implement.
var ErrUnsupported = errors.New("mls/suite: unsupported cipher suite")

// ErrInvalidSignature is returned by VerifyWithLabel when a signature does not
// verify.
var ErrInvalidSignature = errors.New("mls/suite: invalid signature")

// ErrDecrypt is returned (wrapped) when an AEAD or HPKE ciphertext fails to
// authenticate.
var ErrDecrypt = errors.New("mls/suite: decryption failed")

// String returns the RFC 9420 name of the suite.
func (id ID) String() string {
	switch id {
	case X25519AES128GCMSHA256Ed25519:
		return "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
	case P256AES128GCMSHA256P256:
		return "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
	case X25519ChaCha20Poly1305SHA256Ed25519:
		return "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
	case X448AES256GCMSHA512Ed448:
		return "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448"
	case P521AES256GCMSHA512P521:
		return "MLS_256_DHKEMP521_AES256GCM_SHA512_P521"
	case X448ChaCha20Poly1305SHA512Ed448:
		return "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448"
	case P384AES256GCMSHA384P384:
		return "MLS_256_DHKEMP384_AES256GCM_SHA384_P384"
	case XWingChaCha20Poly1305SHA256Ed25519:
		return "MLS_XWING_CHACHA20POLY1305_SHA256_Ed25519"
	}
	return fmt.Sprintf("0x%04x", uint16(id))
}

// Suite is one cipher suite. Obtain it from Lookup or Registry.Lookup.
type Suite struct {
	id   ID
	kdf  *kdf
	aead aeadAlg
	hpke hpkeScheme
	sig  sigScheme
}

// defaultTable holds the suites of the default code points. It is built once,
// on first use, and never changes.
var defaultTable = sync.OnceValue(func() map[ID]*Suite {
	m := map[ID]*Suite{}
	for _, id := range []ID{
		X25519AES128GCMSHA256Ed25519, P256AES128GCMSHA256P256,
		X25519ChaCha20Poly1305SHA256Ed25519, X448AES256GCMSHA512Ed448,
		P521AES256GCMSHA512P521, X448ChaCha20Poly1305SHA512Ed448,
		P384AES256GCMSHA384P384, XWingChaCha20Poly1305SHA256Ed25519,
	} {
		m[id] = build(id, id)
	}
	return m
})

// build constructs the suite algorithm set as for code point algo, carrying
// code point id.
func build(id, algo ID) *Suite {
	s := &Suite{id: id}
	switch algo {
	case X25519AES128GCMSHA256Ed25519:
		s.kdf, s.aead, s.sig = hkdfSHA256, aes128GCM, ed25519Scheme{}
		s.hpke = newRFC9180(dhkemX25519(), s.kdf, s.aead)
	case P256AES128GCMSHA256P256:
		s.kdf, s.aead, s.sig = hkdfSHA256, aes128GCM, ecdsaP256
		s.hpke = newRFC9180(dhkemP256(), s.kdf, s.aead)
	case X25519ChaCha20Poly1305SHA256Ed25519:
		s.kdf, s.aead, s.sig = hkdfSHA256, chacha20Poly1305, ed25519Scheme{}
		s.hpke = newRFC9180(dhkemX25519(), s.kdf, s.aead)
	case X448AES256GCMSHA512Ed448:
		s.kdf, s.aead, s.sig = hkdfSHA512, aes256GCM, ed448Scheme{}
		s.hpke = newRFC9180(dhkemX448(), s.kdf, s.aead)
	case P521AES256GCMSHA512P521:
		s.kdf, s.aead, s.sig = hkdfSHA512, aes256GCM, ecdsaP521
		s.hpke = newRFC9180(dhkemP521(), s.kdf, s.aead)
	case X448ChaCha20Poly1305SHA512Ed448:
		s.kdf, s.aead, s.sig = hkdfSHA512, chacha20Poly1305, ed448Scheme{}
		s.hpke = newRFC9180(dhkemX448(), s.kdf, s.aead)
	case P384AES256GCMSHA384P384:
		s.kdf, s.aead, s.sig = hkdfSHA384, aes256GCM, ecdsaP384
		s.hpke = newRFC9180(dhkemP384(), s.kdf, s.aead)
	case XWingChaCha20Poly1305SHA256Ed25519:
		s.kdf, s.aead, s.sig = hkdfSHA256, chacha20Poly1305, ed25519Scheme{}
		s.hpke = newXWing(s.kdf, s.aead)
	default:
		return nil
	}
	return s
}

// Lookup returns the suite for a code point of the default table (RFC 9420
// suites 0x0001-0x0007 and X-Wing at 0x004D). Aliases registered in a
// Registry are not seen here; use Registry.Lookup for them. An unknown code
// point returns an error wrapping ErrUnsupported.
func Lookup(id ID) (*Suite, error) {
	if s, ok := defaultTable()[id]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupported, id)
}

// Registry maps code points to suites: the default table plus code points
// that other stacks use for the X-Wing suite. The zero value and NewRegistry()
// hold the default table only. A Registry is safe for concurrent Lookup once
// configured; AliasXWing must not run concurrently with Lookup.
type Registry struct {
	aliases map[ID]*Suite
}

// NewRegistry returns a registry holding the default table and the given
// X-Wing aliases. It fails if an alias collides with a default code point.
func NewRegistry(xwingAliases ...ID) (*Registry, error) {
	r := &Registry{}
	for _, id := range xwingAliases {
		if err := r.AliasXWing(id); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// AliasXWing makes id a code point of the X-Wing suite in r: r.Lookup(id)
// returns a suite with the X-Wing algorithms whose ID() is id. Registering the
// same alias twice is allowed; an alias that is one of the default code
// points (other than 0x004D itself) is rejected.
func (r *Registry) AliasXWing(id ID) error {
	if id == XWingChaCha20Poly1305SHA256Ed25519 {
		return nil
	}
	if _, ok := defaultTable()[id]; ok {
		return fmt.Errorf("mls/suite: alias %v: code point already names a standard suite", id)
	}
	if r.aliases == nil {
		r.aliases = map[ID]*Suite{}
	}
	r.aliases[id] = build(id, XWingChaCha20Poly1305SHA256Ed25519)
	return nil
}

// Lookup returns the suite for id from the default table or r's aliases.
func (r *Registry) Lookup(id ID) (*Suite, error) {
	if r != nil {
		if s, ok := r.aliases[id]; ok {
			return s, nil
		}
	}
	return Lookup(id)
}

// ID returns the code point this suite was looked up under.
func (s *Suite) ID() ID { return s.id }

// Nh returns the output length of the suite's hash and KDF.
func (s *Suite) Nh() int { return s.kdf.nh }

// Nk returns the AEAD key length.
func (s *Suite) Nk() int { return s.aead.nk }

// Nn returns the AEAD nonce length.
func (s *Suite) Nn() int { return s.aead.nn }

// HPKEIDs returns the RFC 9180 KEM, KDF and AEAD identifiers of the suite.
func (s *Suite) HPKEIDs() (kem, kdf, aead uint16) {
	return s.hpke.kemID(), s.kdf.id, s.aead.id
}

// NewHash returns a new hash.Hash of the suite's hash function, for callers
// that hash incrementally (transcript hashes).
func (s *Suite) NewHash() hash.Hash { return s.kdf.newHash() }

// Hash returns the suite hash of data.
func (s *Suite) Hash(data []byte) []byte {
	h := s.kdf.newHash()
	h.Write(data)
	return h.Sum(nil)
}

// RefHash implements RefHash (RFC 9420, Section 5.2):
// Hash(RefHashInput{label, value}), label used as given (for example
// "MLS 1.0 KeyPackage Reference").
func (s *Suite) RefHash(label string, value []byte) []byte {
	h := s.kdf.newHash()
	var hdr [4]byte
	h.Write(appendVarint(hdr[:0], len(label)))
	h.Write([]byte(label))
	h.Write(appendVarint(hdr[:0], len(value)))
	h.Write(value)
	return h.Sum(nil)
}

// Extract implements KDF.Extract (HKDF-Extract with the suite hash).
func (s *Suite) Extract(salt, ikm []byte) []byte { return s.kdf.extract(salt, ikm) }

// Expand implements KDF.Expand (HKDF-Expand with the suite hash). It panics if
// length is negative or above 255*Nh, which no MLS derivation asks for.
func (s *Suite) Expand(prk, info []byte, length int) []byte {
	return s.kdf.expand(prk, info, length)
}

// ExpandWithLabel implements ExpandWithLabel (RFC 9420, Section 8):
// KDF.Expand(secret, KDFLabel{length, "MLS 1.0 " + label, context}, length).
func (s *Suite) ExpandWithLabel(secret []byte, label string, context []byte, length int) []byte {
	info := make([]byte, 0, 2+4+len(mlsPrefix)+len(label)+4+len(context))
	info = append(info, byte(length>>8), byte(length))
	info = appendVarint(info, len(mlsPrefix)+len(label))
	info = append(info, mlsPrefix...)
	info = append(info, label...)
	info = appendVarint(info, len(context))
	info = append(info, context...)
	return s.kdf.expand(secret, info, length)
}

// DeriveSecret implements DeriveSecret (RFC 9420, Section 8):
// ExpandWithLabel(secret, label, "", Nh).
func (s *Suite) DeriveSecret(secret []byte, label string) []byte {
	return s.ExpandWithLabel(secret, label, nil, s.kdf.nh)
}

// DeriveTreeSecret implements DeriveTreeSecret (RFC 9420, Section 9):
// ExpandWithLabel(secret, label, uint32(generation), length).
func (s *Suite) DeriveTreeSecret(secret []byte, label string, generation uint32, length int) []byte {
	g := [4]byte{byte(generation >> 24), byte(generation >> 16), byte(generation >> 8), byte(generation)}
	return s.ExpandWithLabel(secret, label, g[:], length)
}

// MAC returns HMAC(key, data) with the suite hash (RFC 9420, Section 5.1).
func (s *Suite) MAC(key, data []byte) []byte {
	m := hmac.New(s.kdf.newHash, key)
	m.Write(data)
	return m.Sum(nil)
}

// VerifyMAC reports whether mac equals MAC(key, data), in constant time.
func (s *Suite) VerifyMAC(key, data, mac []byte) bool {
	return hmac.Equal(s.MAC(key, data), mac)
}

// Seal encrypts and authenticates plaintext with the suite AEAD. It fails if
// key or nonce has the wrong length.
func (s *Suite) Seal(key, nonce, aad, plaintext []byte) ([]byte, error) {
	a, err := s.aead.new(key)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: Seal: %w", err)
	}
	if len(nonce) != s.aead.nn {
		return nil, fmt.Errorf("mls/suite: Seal: nonce is %d bytes, want %d", len(nonce), s.aead.nn)
	}
	return a.Seal(nil, nonce, plaintext, aad), nil
}

// Open decrypts and authenticates ciphertext with the suite AEAD. An
// authentication failure returns an error wrapping ErrDecrypt.
func (s *Suite) Open(key, nonce, aad, ciphertext []byte) ([]byte, error) {
	a, err := s.aead.new(key)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: Open: %w", err)
	}
	if len(nonce) != s.aead.nn {
		return nil, fmt.Errorf("mls/suite: Open: nonce is %d bytes, want %d", len(nonce), s.aead.nn)
	}
	pt, err := a.Open(nil, nonce, ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("mls/suite: Open: %w", ErrDecrypt)
	}
	return pt, nil
}

const mlsPrefix = "MLS 1.0 "

// maxVarint is the largest length a variable-size vector header can carry
// (RFC 9420, Section 2.1.2).
const maxVarint = 1<<30 - 1

// appendVarint appends the minimal variable-length integer encoding of n
// (RFC 9420, Section 2.1.2). It panics if n > 2^30-1: callers check lengths
// of untrusted inputs first.
func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 0 || n > maxVarint:
		panic("mls/suite: vector length out of range")
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	default:
		return append(b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// labeledContent builds struct { opaque label<V> = "MLS 1.0 " + label;
// opaque content<V>; }, the SignContent and EncryptContext of RFC 9420,
// Section 5.1.2 and 5.1.3.
func labeledContent(label string, content []byte) ([]byte, error) {
	if len(content) > maxVarint || len(label)+len(mlsPrefix) > maxVarint {
		return nil, errors.New("content too long for a variable-size vector")
	}
	b := make([]byte, 0, 8+len(mlsPrefix)+len(label)+len(content))
	b = appendVarint(b, len(mlsPrefix)+len(label))
	b = append(b, mlsPrefix...)
	b = append(b, label...)
	b = appendVarint(b, len(content))
	return append(b, content...), nil
}
