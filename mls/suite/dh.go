package suite

import (
	"crypto/ecdh"
	"fmt"
	"io"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/dh/x448"
)

// x25519Group is X25519 (RFC 7748) for DHKEM(X25519, HKDF-SHA256). It uses
// circl's implementation, which is about 40% faster than crypto/ecdh for a
// key generation plus a shared-secret computation (the cost of every
// EncryptWithLabel); TestX25519MatchesCryptoECDH checks the two agree.
type x25519Group struct{}

func (x25519Group) nsk() int { return x25519.Size }
func (x25519Group) npk() int { return x25519.Size }

func (x25519Group) deriveCandidate(k *kdf, suiteID, dkpPRK []byte) ([]byte, error) {
	return labeledExpand(k, suiteID, dkpPRK, "sk", nil, x25519.Size), nil
}

func (x25519Group) public(priv []byte) ([]byte, error) {
	if len(priv) != x25519.Size {
		return nil, fmt.Errorf("X25519 private key is %d bytes, want %d", len(priv), x25519.Size)
	}
	var sk, pk x25519.Key
	copy(sk[:], priv)
	x25519.KeyGen(&pk, &sk)
	clear(sk[:])
	return pk[:], nil
}

func (x25519Group) validatePublic(pub []byte) error {
	if len(pub) != x25519.Size {
		return fmt.Errorf("X25519 public key is %d bytes, want %d", len(pub), x25519.Size)
	}
	return nil
}

func (g x25519Group) generateEphemeral(r io.Reader) (priv, pub []byte, err error) {
	priv = make([]byte, x25519.Size)
	if _, err := io.ReadFull(r, priv); err != nil {
		return nil, nil, err
	}
	pub, err = g.public(priv)
	return priv, pub, err
}

func (x25519Group) dh(priv, pub []byte) ([]byte, error) {
	if len(priv) != x25519.Size || len(pub) != x25519.Size {
		return nil, fmt.Errorf("X25519 key has wrong length")
	}
	var sk, pk, out x25519.Key
	copy(sk[:], priv)
	copy(pk[:], pub)
	ok := x25519.Shared(&out, &sk, &pk)
	clear(sk[:])
	if !ok || isZero(out[:]) {
		return nil, errZeroDH
	}
	return out[:], nil
}

// x448Group is X448 (RFC 7748) for DHKEM(X448, HKDF-SHA512), from circl (the
// standard library has no X448).
type x448Group struct{}

func (x448Group) nsk() int { return x448.Size }
func (x448Group) npk() int { return x448.Size }

func (x448Group) deriveCandidate(k *kdf, suiteID, dkpPRK []byte) ([]byte, error) {
	return labeledExpand(k, suiteID, dkpPRK, "sk", nil, x448.Size), nil
}

func (x448Group) public(priv []byte) ([]byte, error) {
	if len(priv) != x448.Size {
		return nil, fmt.Errorf("X448 private key is %d bytes, want %d", len(priv), x448.Size)
	}
	var sk, pk x448.Key
	copy(sk[:], priv)
	x448.KeyGen(&pk, &sk)
	clear(sk[:])
	return pk[:], nil
}

func (x448Group) validatePublic(pub []byte) error {
	if len(pub) != x448.Size {
		return fmt.Errorf("X448 public key is %d bytes, want %d", len(pub), x448.Size)
	}
	return nil
}

func (g x448Group) generateEphemeral(r io.Reader) (priv, pub []byte, err error) {
	priv = make([]byte, x448.Size)
	if _, err := io.ReadFull(r, priv); err != nil {
		return nil, nil, err
	}
	pub, err = g.public(priv)
	return priv, pub, err
}

func (x448Group) dh(priv, pub []byte) ([]byte, error) {
	if len(priv) != x448.Size || len(pub) != x448.Size {
		return nil, fmt.Errorf("X448 key has wrong length")
	}
	var sk, pk, out x448.Key
	copy(sk[:], priv)
	copy(pk[:], pub)
	ok := x448.Shared(&out, &sk, &pk)
	clear(sk[:])
	if !ok || isZero(out[:]) {
		return nil, errZeroDH
	}
	return out[:], nil
}

// nistGroup is a NIST P-curve from crypto/ecdh for DHKEM(P-*, HKDF-SHA*).
type nistGroup struct {
	curve   ecdh.Curve
	sk, pk  int
	bitmask byte
}

var (
	p256Group = nistGroup{curve: ecdh.P256(), sk: 32, pk: 65, bitmask: 0xff}
	p384Group = nistGroup{curve: ecdh.P384(), sk: 48, pk: 97, bitmask: 0xff}
	p521Group = nistGroup{curve: ecdh.P521(), sk: 66, pk: 133, bitmask: 0x01}
)

func (g nistGroup) nsk() int { return g.sk }
func (g nistGroup) npk() int { return g.pk }

// deriveCandidate implements the rejection sampling of DeriveKeyPair for the
// NIST curves (RFC 9180, Section 7.1.3).
func (g nistGroup) deriveCandidate(k *kdf, suiteID, dkpPRK []byte) ([]byte, error) {
	for counter := 0; counter < 256; counter++ {
		b := labeledExpand(k, suiteID, dkpPRK, "candidate", []byte{byte(counter)}, g.sk)
		b[0] &= g.bitmask
		// NewPrivateKey rejects zero and scalars not below the order.
		if _, err := g.curve.NewPrivateKey(b); err == nil {
			return b, nil
		}
		clear(b)
	}
	return nil, fmt.Errorf("DeriveKeyPair: no valid candidate")
}

func (g nistGroup) public(priv []byte) ([]byte, error) {
	sk, err := g.curve.NewPrivateKey(leftPad(priv, g.sk))
	if err != nil {
		return nil, err
	}
	return sk.PublicKey().Bytes(), nil
}

func (g nistGroup) validatePublic(pub []byte) error {
	_, err := g.curve.NewPublicKey(pub)
	return err
}

func (g nistGroup) generateEphemeral(r io.Reader) (priv, pub []byte, err error) {
	sk, err := g.curve.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	return sk.Bytes(), sk.PublicKey().Bytes(), nil
}

func (g nistGroup) dh(priv, pub []byte) ([]byte, error) {
	sk, err := g.curve.NewPrivateKey(leftPad(priv, g.sk))
	if err != nil {
		return nil, err
	}
	pk, err := g.curve.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	out, err := sk.ECDH(pk)
	if err != nil {
		return nil, err
	}
	return out, nil
}
