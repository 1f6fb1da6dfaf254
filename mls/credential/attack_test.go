package credential_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// Every test here presents a credential an attacker (or a careless issuer)
// could produce and checks that the Authentication Service refuses it with
// the right sentinel and names the certificate at fault.

func bothAlgs(t *testing.T, f func(t *testing.T, alg keyAlg)) {
	for _, alg := range []keyAlg{algEd25519, algP256} {
		t.Run(alg.String(), func(t *testing.T) { f(t, alg) })
	}
}

// TestAttackExpiredCertificates: an end entity or intermediate outside its
// validity period at the validator's clock is refused (RFC 5280, Section
// 6.1.3; RFC 9420, Section 5.3.2).
func TestAttackExpiredCertificates(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		v := newValidator(t, credential.Config{Roots: p.roots})
		expired := issue(t, "alice", false, alg, nil, p.inter, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Hour) })
		notYet := issue(t, "alice", false, alg, nil, p.inter, func(c *x509.Certificate) { c.NotBefore = testNow.Add(time.Hour) })
		oldInter := issue(t, "Daylight Test Intermediate", true, alg, nil, p.root, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Minute) })
		leafOfOld := issue(t, "alice", false, alg, nil, oldInter, nil)
		for _, tc := range []struct {
			name      string
			cred      *wire.Credential
			key       []byte
			certIndex string
		}{
			{"expired leaf", x509Cred(expired, p.inter), sigKey(t, expired), "certificate 0"},
			{"not yet valid leaf", x509Cred(notYet, p.inter), sigKey(t, notYet), "certificate 0"},
			{"expired intermediate", x509Cred(leafOfOld, oldInter), sigKey(t, leafOfOld), "certificate 1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, v.Validate(tc.cred, tc.key), credential.ErrUntrusted, tc.certIndex, "current time 2026-06-01T12:00:00Z")
			})
		}
	})
}

// TestAttackUntrustedRoot: a chain to a root that is not configured is
// refused, including an impostor root and intermediate that copy the
// trusted names exactly.
func TestAttackUntrustedRoot(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		trusted := newPKI(t, alg)
		other := newPKI(t, alg) // same subject names, other keys
		v := newValidator(t, credential.Config{Roots: trusted.roots})
		key := sigKey(t, other.leaf)
		wantErr(t, v.Validate(x509Cred(other.leaf, other.inter), key), credential.ErrUntrusted, "certificate 1", "unknown authority")
		// Presenting the impostor root too changes nothing.
		wantErr(t, v.Validate(x509Cred(other.leaf, other.inter, other.root), key), credential.ErrUntrusted)
		// A self-signed end entity is its own root: refused.
		self := issue(t, "alice", false, alg, nil, nil, nil)
		wantErr(t, v.Validate(x509Cred(self), sigKey(t, self)), credential.ErrUntrusted, "certificate 0")
	})
}

// TestAttackImpostorIntermediate: an attacker's intermediate with the
// trusted intermediate's name, placed in the chain, cannot vouch for a leaf
// (its signature by the trusted root does not verify).
func TestAttackImpostorIntermediate(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		fakeRoot := issue(t, "Daylight Test Root", true, alg, nil, nil, nil)
		fakeInter := issue(t, "Daylight Test Intermediate", true, alg, nil, fakeRoot, nil)
		leaf := issue(t, "mallory", false, alg, nil, fakeInter, nil)
		v := newValidator(t, credential.Config{Roots: p.roots})
		// The impostor chain followed by the real root: the name matches, the
		// signature does not.
		wantErr(t, v.Validate(x509Cred(leaf, fakeInter, p.root), sigKey(t, leaf)), credential.ErrUntrusted, "certificate 1", "verification failure")

		// A genuine leaf presented with the impostor intermediate, while the
		// real one is configured: path building succeeds through the configured
		// certificate, but the presented chain is not "each signed by the next"
		// (RFC 9420, Section 5.3) and is refused.
		genuine := issue(t, "alice", false, alg, nil, p.inter, nil)
		pool := x509.NewCertPool()
		pool.AddCert(p.inter.cert)
		vi := newValidator(t, credential.Config{Roots: p.roots, Intermediates: pool})
		wantErr(t, vi.Validate(x509Cred(genuine, fakeInter), sigKey(t, genuine)), credential.ErrUntrusted, "certificate 0: signature by certificate 1")
		if err := vi.Validate(x509Cred(genuine, p.inter), sigKey(t, genuine)); err != nil {
			t.Fatalf("genuine chain: %v", err)
		}
	})
}

// TestAttackBrokenChainOrder: the certificates must be ordered end entity
// first, each signed by the next (RFC 9420, Section 5.3); path building would
// otherwise accept them in any order.
func TestAttackBrokenChainOrder(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		v := newValidator(t, credential.Config{Roots: p.roots})
		key := sigKey(t, p.leaf)
		wantErr(t, v.Validate(x509Cred(p.leaf, p.root, p.inter), key), credential.ErrUntrusted, "certificate 0", "is not issued by certificate 1")
		// The end entity not first: certificates[0] holds the intermediate's key.
		wantErr(t, v.Validate(x509Cred(p.inter, p.leaf), key), credential.ErrKeyMismatch)
		// An unrelated certificate in the middle.
		stranger := issue(t, "stranger", true, alg, nil, p.root, nil)
		wantErr(t, v.Validate(x509Cred(p.leaf, p.inter, stranger), key), credential.ErrUntrusted, "certificate 1", "is not issued by certificate 2")
	})
}

// TestAttackLeafKeyNotSignatureKey: a valid chain for another key cannot
// authenticate a leaf (RFC 9420, Section 5.3: "MUST be identical to the
// signature_key"), nor can a key of the wrong scheme for the suite.
func TestAttackLeafKeyNotSignatureKey(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		v := newValidator(t, credential.Config{Roots: p.roots})
		attacker := genKey(t, alg)
		other := issue(t, "x", false, alg, attacker, nil, nil)
		err := v.Validate(x509Cred(p.leaf, p.inter), sigKey(t, other))
		wantErr(t, err, credential.ErrKeyMismatch, "end-entity key does not match the leaf signature_key")
		// A one-byte change of the right key.
		k := sigKey(t, p.leaf)
		k[len(k)-1] ^= 1
		wantErr(t, v.Validate(x509Cred(p.leaf, p.inter), k), credential.ErrKeyMismatch)
		// Empty signature key.
		wantErr(t, v.Validate(x509Cred(p.leaf, p.inter), nil), credential.ErrKeyMismatch)
	})
	// ForSuite: an Ed25519 certificate under a P-256 suite.
	p := newPKI(t, algEd25519)
	v := newValidator(t, credential.Config{Roots: p.roots})
	check, err := v.ForSuite(suite.P256AES128GCMSHA256P256)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, check(x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)), credential.ErrKeyMismatch, "ed25519", "ecdsa_secp256r1_sha256")
	ok, _ := v.ForSuite(suite.X25519AES128GCMSHA256Ed25519)
	if err := ok(x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)); err != nil {
		t.Fatal(err)
	}
}

// TestAttackGarbageDER: certificates that are not exactly one DER X.509
// certificate are refused, and the error names which one.
func TestAttackGarbageDER(t *testing.T) {
	p := newPKI(t, algEd25519)
	v := newValidator(t, credential.Config{Roots: p.roots})
	key := sigKey(t, p.leaf)
	leaf, inter := p.leaf.cert.Raw, p.inter.cert.Raw
	for _, tc := range []struct {
		name  string
		certs [][]byte
		where string
	}{
		{"garbage intermediate", [][]byte{leaf, []byte("not a certificate")}, "certificate 1"},
		{"garbage leaf", [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}, inter}, "certificate 0"},
		{"empty certificate", [][]byte{leaf, {}}, "certificate 1"},
		{"trailing byte", [][]byte{append(append([]byte{}, leaf...), 0), inter}, "certificate 0"},
		{"truncated", [][]byte{leaf[:len(leaf)-1], inter}, "certificate 0"},
		{"PEM instead of DER", [][]byte{[]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), inter}, "certificate 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, v.Validate(&wire.Credential{Type: wire.CredentialTypeX509, Certificates: tc.certs}, key), credential.ErrMalformed, tc.where)
		})
	}
}

// TestAttackForgedSignature: a certificate whose signature bytes were
// altered (so its content could be edited) is refused.
func TestAttackForgedSignature(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		v := newValidator(t, credential.Config{Roots: p.roots})
		forged := append([]byte{}, p.leaf.cert.Raw...)
		forged[len(forged)-3] ^= 0x01 // inside the signature BIT STRING
		cred := &wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{forged, p.inter.cert.Raw}}
		err := v.Validate(cred, sigKey(t, p.leaf))
		if alg == algP256 && err != nil && !errors.Is(err, credential.ErrUntrusted) {
			// A flipped byte may break the ECDSA signature's DER: then it is malformed.
			wantErr(t, err, credential.ErrMalformed, "certificate 0")
			return
		}
		wantErr(t, err, credential.ErrUntrusted, "certificate 0", "verification failure")
	})
}

// TestAttackEmptyChain: an x509 credential with no certificates
// authenticates nothing.
func TestAttackEmptyChain(t *testing.T) {
	p := newPKI(t, algEd25519)
	v := newValidator(t, credential.Config{Roots: p.roots})
	wantErr(t, v.Validate(&wire.Credential{Type: wire.CredentialTypeX509}, sigKey(t, p.leaf)), credential.ErrMalformed, "no certificates")
	wantErr(t, v.Validate(&wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{}}, nil), credential.ErrMalformed, "no certificates")
}

// TestAttackTooManyCertificates: a credential cannot make the validator parse
// and path-build an unbounded chain.
func TestAttackTooManyCertificates(t *testing.T) {
	p := newPKI(t, algEd25519)
	v := newValidator(t, credential.Config{Roots: p.roots, MaxCertificates: 3})
	cred := x509Cred(p.leaf, p.inter, p.root, p.root)
	wantErr(t, v.Validate(cred, sigKey(t, p.leaf)), credential.ErrMalformed, "4 certificates, limit 3")
	long := &wire.Credential{Type: wire.CredentialTypeX509, Certificates: make([][]byte, credential.DefaultMaxCertificates+1)}
	wantErr(t, newValidator(t, credential.Config{Roots: p.roots}).Validate(long, nil), credential.ErrMalformed, "limit 8")
}

// TestAttackNonCAIntermediate: an end-entity certificate (cA false) cannot
// issue certificates, whether it is presented in the chain or configured as
// an intermediate.
func TestAttackNonCAIntermediate(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		notCA := issue(t, "Daylight Test Intermediate", false, alg, nil, p.root, func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
		})
		leaf := issue(t, "mallory", false, alg, nil, notCA, nil)
		v := newValidator(t, credential.Config{Roots: p.roots})
		wantErr(t, v.Validate(x509Cred(leaf, notCA), sigKey(t, leaf)), credential.ErrUntrusted, "certificate 1 is not a CA")
		// No basicConstraints at all (a v3 certificate without the extension).
		noBC := issue(t, "Daylight Test Intermediate", false, alg, nil, p.root, func(c *x509.Certificate) { c.BasicConstraintsValid = false })
		leaf2 := issue(t, "mallory", false, alg, nil, noBC, nil)
		wantErr(t, v.Validate(x509Cred(leaf2, noBC), sigKey(t, leaf2)), credential.ErrUntrusted, "certificate 1 is not a CA")
		// The same non-CA certificate supplied through Config.Intermediates.
		pool := x509.NewCertPool()
		pool.AddCert(notCA.cert)
		vi := newValidator(t, credential.Config{Roots: p.roots, Intermediates: pool})
		wantErr(t, vi.Validate(x509Cred(leaf), sigKey(t, leaf)), credential.ErrUntrusted, "certificate 0")
	})
}

// TestAttackWrongKeyUsage: the end entity must be allowed to sign
// (digitalSignature) and carry a configured extended key usage; an issuer
// with a key usage extension must have keyCertSign.
func TestAttackWrongKeyUsage(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		v := newValidator(t, credential.Config{Roots: p.roots, ExtKeyUsages: client})

		noSign := issue(t, "alice", false, alg, nil, p.inter, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyAgreement })
		wantErr(t, v.Validate(x509Cred(noSign, p.inter), sigKey(t, noSign)), credential.ErrKeyUsage, "certificate 0: key usage lacks digitalSignature")

		server := issue(t, "alice", false, alg, nil, p.inter, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		})
		wantErr(t, v.Validate(x509Cred(server, p.inter), sigKey(t, server)), credential.ErrKeyUsage, "certificate 0")

		// An intermediate constrained to server auth cannot issue a client cert.
		serverCA := issue(t, "Daylight Test Intermediate", true, alg, nil, p.root, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		})
		leaf := issue(t, "alice", false, alg, nil, serverCA, nil)
		wantErr(t, v.Validate(x509Cred(leaf, serverCA), sigKey(t, leaf)), credential.ErrKeyUsage)

		noCertSign := issue(t, "Daylight Test Intermediate", true, alg, nil, p.root, func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageDigitalSignature
		})
		leaf3 := issue(t, "alice", false, alg, nil, noCertSign, nil)
		wantErr(t, v.Validate(x509Cred(leaf3, noCertSign), sigKey(t, leaf3)), credential.ErrKeyUsage, "certificate 1: key usage lacks keyCertSign")
		// Configured instead of presented: crypto/x509's path building
		// refuses the issuer (CheckSignatureFrom requires keyCertSign).
		pool := x509.NewCertPool()
		pool.AddCert(noCertSign.cert)
		vi := newValidator(t, credential.Config{Roots: p.roots, Intermediates: pool})
		wantErr(t, vi.Validate(x509Cred(leaf3), sigKey(t, leaf3)), credential.ErrUntrusted, "certificate 0", "parent certificate cannot sign")

		// Without a configured EKU, the server certificate is acceptable.
		if err := newValidator(t, credential.Config{Roots: p.roots}).Validate(x509Cred(server, p.inter), sigKey(t, server)); err != nil {
			t.Errorf("no EKU constraint: %v", err)
		}
	})
}

// TestAttackSystemRootsNotUsed: a Config without Roots never falls back to
// the operating system's trust store.
func TestAttackSystemRootsNotUsed(t *testing.T) {
	p := newPKI(t, algEd25519)
	v := newValidator(t, credential.Config{Roots: nil})
	wantErr(t, v.Validate(x509Cred(p.leaf, p.inter, p.root), sigKey(t, p.leaf)), credential.ErrUntrusted, "no x509 roots configured")
}

// TestAttackUnpinnedIntermediate: with OnlyConfiguredIntermediates, a chain
// through an intermediate the deployment did not configure is refused even
// though it chains to a trusted root (the intermediates policy); the
// configured intermediate is still accepted, presented or omitted.
func TestAttackUnpinnedIntermediate(t *testing.T) {
	bothAlgs(t, func(t *testing.T, alg keyAlg) {
		p := newPKI(t, alg)
		rogue := issue(t, "Rogue Intermediate", true, alg, nil, p.root, nil)
		leaf := issue(t, "mallory", false, alg, nil, rogue, nil)
		pinned := x509.NewCertPool()
		pinned.AddCert(p.inter.cert)
		v := newValidator(t, credential.Config{Roots: p.roots, Intermediates: pinned, OnlyConfiguredIntermediates: true})
		wantErr(t, v.Validate(x509Cred(leaf, rogue), sigKey(t, leaf)), credential.ErrUntrusted, "certificate 0", "unknown authority")
		key := sigKey(t, p.leaf)
		if err := v.Validate(x509Cred(p.leaf, p.inter), key); err != nil {
			t.Fatalf("pinned intermediate presented: %v", err)
		}
		if err := v.Validate(x509Cred(p.leaf), key); err != nil {
			t.Fatalf("pinned intermediate omitted: %v", err)
		}
		// Without the policy the same rogue chain is accepted: the root vouches.
		open := newValidator(t, credential.Config{Roots: p.roots})
		if err := open.Validate(x509Cred(leaf, rogue), sigKey(t, leaf)); err != nil {
			t.Fatalf("default policy: %v", err)
		}
	})
}
