package credential_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// wantErr fails unless err wraps sentinel and its text contains every part.
func wantErr(t *testing.T, err, sentinel error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %v", sentinel)
	}
	t.Logf("refused: %v", err)
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %q", err, sentinel)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

// TestValidateX509 accepts well-formed chains root → intermediate → leaf for
// every supported signature scheme, with and without the root, and with the
// intermediate omitted when it is configured (RFC 9420, Section 5.3).
func TestValidateX509(t *testing.T) {
	for _, alg := range []keyAlg{algEd25519, algP256, algP384, algP521} {
		t.Run(alg.String(), func(t *testing.T) {
			p := newPKI(t, alg)
			v := newValidator(t, credential.Config{Roots: p.roots, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			key := sigKey(t, p.leaf)
			for name, cred := range map[string]*wire.Credential{
				"leaf+intermediate":      x509Cred(p.leaf, p.inter),
				"leaf+intermediate+root": x509Cred(p.leaf, p.inter, p.root),
			} {
				if err := v.Validate(cred, key); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			chain, err := v.VerifyX509(x509Cred(p.leaf, p.inter).Certificates, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != 3 || !chain[0].Equal(p.leaf.cert) || !chain[2].Equal(p.root.cert) {
				t.Errorf("VerifyX509 chain has %d certificates, want leaf, intermediate, root", len(chain))
			}

			// Section 5.3: a chain MAY omit certificates peers already possess.
			inter := x509.NewCertPool()
			inter.AddCert(p.inter.cert)
			withInter := newValidator(t, credential.Config{Roots: p.roots, Intermediates: inter})
			if err := withInter.Validate(x509Cred(p.leaf), key); err != nil {
				t.Errorf("leaf alone, intermediate configured: %v", err)
			}
			wantErr(t, v.Validate(x509Cred(p.leaf), key), credential.ErrUntrusted, "certificate 0")
		})
	}
}

// TestValidateX509Ed448 accepts an Ed448 end-entity key (suites 4 and 6),
// read from the subjectPublicKeyInfo since crypto/x509 does not decode it.
func TestValidateX509Ed448(t *testing.T) {
	p := newPKI(t, algEd25519)
	der, pub := issueEd448(t, p.inter)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key, sc, err := credential.SignatureKey(cert)
	if err != nil || sc != credential.Ed448 || !bytes.Equal(key, pub) {
		t.Fatalf("SignatureKey = %x, %v, %v; want the Ed448 key", key, sc, err)
	}
	v := newValidator(t, credential.Config{Roots: p.roots})
	cred := &wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{der, p.inter.cert.Raw}}
	if err := v.Validate(cred, pub); err != nil {
		t.Fatal(err)
	}
	check, err := v.ForSuite(suite.X448AES256GCMSHA512Ed448)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(cred, pub); err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed448.GenerateKey(rand.Reader)
	wantErr(t, v.Validate(cred, other), credential.ErrKeyMismatch, "ed448")
}

// TestSignatureKeyMatchesSuiteEncoding shows that SignatureKey produces the
// signature_key encoding mls/suite uses: the suite derives the same public
// key from the certificate key's private key, and accepts it.
func TestSignatureKeyMatchesSuiteEncoding(t *testing.T) {
	for _, tc := range []struct {
		alg keyAlg
		cs  suite.ID
	}{
		{algEd25519, suite.X25519AES128GCMSHA256Ed25519},
		{algP256, suite.P256AES128GCMSHA256P256},
		{algP384, suite.P384AES256GCMSHA384P384},
		{algP521, suite.P521AES256GCMSHA512P521},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			s, err := suite.Lookup(tc.cs)
			if err != nil {
				t.Fatal(err)
			}
			c := issue(t, "k", false, tc.alg, nil, nil, nil)
			key, sc, err := credential.SignatureKey(c.cert)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := credential.SchemeOf(tc.cs); sc != want {
				t.Errorf("scheme %v, want %v", sc, want)
			}
			var priv []byte
			switch k := c.key.(type) {
			case ed25519.PrivateKey:
				priv = k.Seed()
			case *ecdsa.PrivateKey:
				if priv, err = k.Bytes(); err != nil {
					t.Fatal(err)
				}
			}
			pub, err := s.SignaturePublicKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pub, key) {
				t.Errorf("suite public key %x, certificate key %x", pub, key)
			}
			if err := s.ValidateSignaturePublicKey(key); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBasicCredentials: a basic credential is refused without a hook, and
// otherwise handed to it with the signature key; one validator accepts both
// kinds.
func TestBasicCredentials(t *testing.T) {
	p := newPKI(t, algEd25519)
	basic := &wire.Credential{Type: wire.CredentialTypeBasic, Identity: []byte("bob")}
	wantErr(t, newValidator(t, credential.Config{Roots: p.roots}).Validate(basic, []byte{1}), credential.ErrRejected, "basic credentials are not accepted")

	var gotID, gotKey []byte
	v := newValidator(t, credential.Config{Roots: p.roots, Basic: func(id, key []byte) error {
		gotID, gotKey = id, key
		if string(id) == "mallory" {
			return errors.New("unknown user")
		}
		return nil
	}})
	if err := v.Validate(basic, []byte{7}); err != nil {
		t.Fatal(err)
	}
	if string(gotID) != "bob" || !bytes.Equal(gotKey, []byte{7}) {
		t.Errorf("hook saw %q, %x", gotID, gotKey)
	}
	wantErr(t, v.Validate(&wire.Credential{Type: wire.CredentialTypeBasic, Identity: []byte("mallory")}, nil), credential.ErrRejected, "unknown user")
	if err := v.Validate(x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)); err != nil {
		t.Errorf("x509 credential through the same validator: %v", err)
	}
	if err := newValidator(t, credential.Config{Basic: credential.AcceptBasic}).Validate(basic, nil); err != nil {
		t.Errorf("AcceptBasic: %v", err)
	}
}

// TestX509IdentityHook: the application's reference-identifier check
// (RFC 9420, Section 5.3.1) sees the verified chain and can refuse it.
func TestX509IdentityHook(t *testing.T) {
	p := newPKI(t, algP256)
	want := "alice@example.org"
	v := newValidator(t, credential.Config{Roots: p.roots, X509Identity: func(chain []*x509.Certificate) error {
		if !chain[len(chain)-1].Equal(p.root.cert) {
			return errors.New("chain does not end at the root")
		}
		for _, e := range chain[0].EmailAddresses {
			if e == want {
				return nil
			}
		}
		return errors.New("no reference identifier")
	}})
	if err := v.Validate(x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)); err != nil {
		t.Fatal(err)
	}
	want = "bob@example.org"
	wantErr(t, v.Validate(x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)), credential.ErrRejected, "no reference identifier")
}

func TestNewX509Credential(t *testing.T) {
	p := newPKI(t, algEd25519)
	c, err := credential.NewX509Credential([]*x509.Certificate{p.leaf.cert, p.inter.cert})
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != wire.CredentialTypeX509 || len(c.Certificates) != 2 || !bytes.Equal(c.Certificates[0], p.leaf.cert.Raw) {
		t.Fatalf("credential %+v", c)
	}
	// The DER is copied: the credential does not alias the certificate.
	c.Certificates[0][0] ^= 1
	if p.leaf.cert.Raw[0] == c.Certificates[0][0] {
		t.Error("NewX509Credential aliases the certificate's DER")
	}
	// The encoding round-trips through a LeafNode-bearing structure.
	enc := wire.AppendExternalSenders(nil, []wire.ExternalSender{{SignatureKey: []byte{1}, Credential: *x509Cred(p.leaf, p.inter)}})
	got, err := wire.ParseExternalSenders(enc)
	if err != nil || !got[0].Credential.Equal(x509Cred(p.leaf, p.inter)) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := credential.NewX509Credential(nil); !errors.Is(err, credential.ErrMalformed) {
		t.Errorf("empty chain: %v", err)
	}
	if _, err := credential.NewX509Credential([]*x509.Certificate{p.leaf.cert, nil}); !errors.Is(err, credential.ErrMalformed) {
		t.Errorf("nil certificate: %v", err)
	}
}

func TestConfig(t *testing.T) {
	if _, err := credential.NewValidator(credential.Config{MaxCertificates: -1}); err == nil {
		t.Error("negative MaxCertificates accepted")
	}
	if _, err := credential.SchemeOf(0x7777); !errors.Is(err, credential.ErrUnsupported) {
		t.Errorf("unknown suite: %v", err)
	}
	// The zero Config rejects everything.
	v := newValidator(t, credential.Config{})
	p := newPKI(t, algEd25519)
	wantErr(t, v.Validate(x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)), credential.ErrUntrusted, "no x509 roots")
	wantErr(t, v.Validate(&wire.Credential{Type: wire.CredentialTypeBasic}, nil), credential.ErrRejected)
	wantErr(t, v.Validate(nil, nil), credential.ErrMalformed)
	wantErr(t, v.Validate(&wire.Credential{Type: 3}, nil), credential.ErrUnsupported, "credential_type 3")
}

// TestClockIsInjected: the same chain is accepted or refused depending only
// on the configured clock.
func TestClockIsInjected(t *testing.T) {
	p := newPKI(t, algEd25519)
	now := testNow
	v := newValidator(t, credential.Config{Roots: p.roots, Now: func() time.Time { return now }})
	cred, key := x509Cred(p.leaf, p.inter), sigKey(t, p.leaf)
	if err := v.Validate(cred, key); err != nil {
		t.Fatal(err)
	}
	now = notAfter.Add(time.Second)
	wantErr(t, v.Validate(cred, key), credential.ErrUntrusted, "current time 2027-01-01T00:00:01Z is after")
	now = notBefore.Add(-time.Second)
	wantErr(t, v.Validate(cred, key), credential.ErrUntrusted, "current time 2025-12-31T23:59:59Z is before")
}

// TestRSAUnsupported: an RSA end-entity key has no MLS signature scheme;
// the error says so.
func TestRSAUnsupported(t *testing.T) {
	p := newPKI(t, algEd25519)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leaf := issue(t, "rsa", false, 0, k, p.inter, nil)
	v := newValidator(t, credential.Config{Roots: p.roots})
	wantErr(t, v.Validate(x509Cred(leaf, p.inter), []byte{1}), credential.ErrUnsupported, "certificate 0", "RSA public key has no MLS signature scheme")
}

// TestConcurrentValidate: one Validator serves many goroutines (mls/group
// checks the leaves of a tree in parallel); run with -race.
func TestConcurrentValidate(t *testing.T) {
	p, other := newPKI(t, algEd25519), newPKI(t, algEd25519)
	inter := x509.NewCertPool()
	inter.AddCert(p.inter.cert)
	v := newValidator(t, credential.Config{Roots: p.roots, Intermediates: inter})
	good, bad := x509Cred(p.leaf, p.inter), x509Cred(other.leaf, other.inter)
	key, badKey := sigKey(t, p.leaf), sigKey(t, other.leaf)
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			if i%2 == 0 {
				errs <- v.Validate(good, key)
			} else if err := v.Validate(bad, badKey); !errors.Is(err, credential.ErrUntrusted) {
				errs <- fmt.Errorf("untrusted chain: %v", err)
			} else {
				errs <- nil
			}
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
