package credential_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/wire"
)

// signaturePriv is the mls/suite encoding of a certificate's private key
// (Ed25519 seed, big-endian ECDSA scalar).
func signaturePriv(t testing.TB, c *issued) []byte {
	t.Helper()
	switch k := c.key.(type) {
	case ed25519.PrivateKey:
		return k.Seed()
	case *ecdsa.PrivateKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("no MLS encoding for %T", c.key)
	return nil
}

// x509KeyPackage builds and signs a KeyPackage (RFC 9420, Section 10) whose
// leaf carries an x509 credential for leaf's certificate (followed by chain)
// and leaf's key as signature_key. It returns the KeyPackage and its init and
// encryption private keys.
func x509KeyPackage(t testing.TB, cs suite.ID, leaf *issued, chain ...*issued) (kp *wire.KeyPackage, initPriv, encPriv []byte) {
	t.Helper()
	return x509KeyPackageWith(t, cs, leaf, leaf, chain...)
}

// x509KeyPackageSignedBy is a KeyPackage whose leaf presents the chain of
// certified but whose signature_key (and signatures) are signer's: a stolen
// certificate.
func x509KeyPackageSignedBy(t testing.TB, cs suite.ID, signer, certified *issued, chain ...*issued) *wire.KeyPackage {
	t.Helper()
	kp, _, _ := x509KeyPackageWith(t, cs, signer, certified, chain...)
	return kp
}

func x509KeyPackageWith(t testing.TB, cs suite.ID, signingKey, leaf *issued, chain ...*issued) (kp *wire.KeyPackage, initPriv, encPriv []byte) {
	t.Helper()
	s, err := suite.Lookup(cs)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := s.NewSigner(signaturePriv(t, signingKey))
	if err != nil {
		t.Fatal(err)
	}
	initPriv, initPub, err := s.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encPriv, encPub, err := s.GenerateKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ln := wire.LeafNode{
		EncryptionKey: encPub,
		SignatureKey:  sigKey(t, signingKey),
		Credential:    *x509Cred(append([]*issued{leaf}, chain...)...),
		Capabilities: wire.Capabilities{
			Versions:     []wire.ProtocolVersion{wire.MLS10},
			CipherSuites: []wire.CipherSuite{wire.CipherSuite(cs)},
			Credentials:  []wire.CredentialType{wire.CredentialTypeBasic, wire.CredentialTypeX509},
		},
		Source:   wire.LeafNodeSourceKeyPackage,
		Lifetime: wire.Lifetime{NotBefore: uint64(testNow.Add(-time.Hour).Unix()), NotAfter: uint64(testNow.Add(24 * time.Hour).Unix())},
	}
	if err := tree.SignLeafNode(signer, &ln, nil, 0); err != nil {
		t.Fatal(err)
	}
	kp = &wire.KeyPackage{Version: wire.MLS10, CipherSuite: wire.CipherSuite(cs), InitKey: initPub, LeafNode: ln}
	if kp.Signature, err = signer.SignWithLabel("KeyPackageTBS", kp.AppendTBS(nil)); err != nil {
		t.Fatal(err)
	}
	// Parse the encoding, as a receiver would.
	got, err := wire.ParseKeyPackage(kp.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return got, initPriv, encPriv
}

// TestTreeLeafCheckUsesValidator: Validate plugged into mls/tree's
// CredentialValidator hook admits a KeyPackage leaf certified by the
// configured root and refuses one from another root (RFC 9420, Section
// 5.3.1: a credential is validated when a KeyPackage is added).
func TestTreeLeafCheckUsesValidator(t *testing.T) {
	for _, tc := range []struct {
		alg keyAlg
		cs  suite.ID
	}{
		{algEd25519, suite.X25519AES128GCMSHA256Ed25519},
		{algP256, suite.P256AES128GCMSHA256P256},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			s, _ := suite.Lookup(tc.cs)
			trusted, other := newPKI(t, tc.alg), newPKI(t, tc.alg)
			v := newValidator(t, credential.Config{Roots: trusted.roots})
			check, err := v.ForSuite(tc.cs)
			if err != nil {
				t.Fatal(err)
			}
			good, _, _ := x509KeyPackage(t, tc.cs, trusted.leaf, trusted.inter)
			bad, _, _ := x509KeyPackage(t, tc.cs, other.leaf, other.inter)
			for _, kp := range []*wire.KeyPackage{good, bad} {
				if _, err := tree.VerifyKeyPackage(s, kp, testNow); err != nil {
					t.Fatalf("VerifyKeyPackage (signatures only): %v", err)
				}
			}
			tr := tree.New(s)
			lc := tree.LeafCheck{Source: wire.LeafNodeSourceKeyPackage, Now: testNow, CredentialValidator: check}
			if err := tr.ValidateLeafNode(&good.LeafNode, lc); err != nil {
				t.Fatalf("trusted leaf: %v", err)
			}
			err = tr.ValidateLeafNode(&bad.LeafNode, lc)
			if !errors.Is(err, tree.ErrInvalidLeafNode) || !errors.Is(err, credential.ErrUntrusted) {
				t.Fatalf("untrusted leaf: %v", err)
			}
		})
	}
}
