package credential_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/wire"
)

// The test PKI: every key is generated when the test runs; nothing is
// committed. Certificates are valid over [notBefore, notAfter]; tests
// validate at testNow unless they move the clock.
var (
	notBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	testNow   = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
)

var serial atomic.Int64

// issued is a certificate with its private key.
type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type keyAlg int

const (
	algEd25519 keyAlg = iota
	algP256
	algP384
	algP521
)

func (a keyAlg) String() string {
	return [...]string{"Ed25519", "P-256", "P-384", "P-521"}[a]
}

func genKey(t testing.TB, alg keyAlg) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case algEd25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case algP256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case algP384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case algP521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue creates a certificate for key (a new key of alg when nil) named cn,
// signed by parent (self-signed when parent is nil), after mod edits the
// template.
func issue(t testing.TB, cn string, ca bool, alg keyAlg, key crypto.Signer, parent *issued, mod func(*x509.Certificate)) *issued {
	t.Helper()
	if key == nil {
		key = genKey(t, alg)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Daylight test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.EmailAddresses = []string{cn + "@example.org"}
	}
	if mod != nil {
		mod(tmpl)
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("issue %s: %v", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, key: key}
}

// pki is root → intermediate → leaf.
type pki struct {
	root, inter, leaf *issued
	roots             *x509.CertPool
}

func newPKI(t testing.TB, alg keyAlg) *pki {
	t.Helper()
	root := issue(t, "Daylight Test Root", true, alg, nil, nil, nil)
	inter := issue(t, "Daylight Test Intermediate", true, alg, nil, root, nil)
	leaf := issue(t, "alice", false, alg, nil, inter, nil)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	return &pki{root: root, inter: inter, leaf: leaf, roots: roots}
}

// sigKey is the MLS signature_key of an issued certificate.
func sigKey(t testing.TB, c *issued) []byte {
	t.Helper()
	k, _, err := credential.SignatureKey(c.cert)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func x509Cred(certs ...*issued) *wire.Credential {
	c := &wire.Credential{Type: wire.CredentialTypeX509}
	for _, x := range certs {
		c.Certificates = append(c.Certificates, x.cert.Raw)
	}
	return c
}

func newValidator(t testing.TB, cfg credential.Config) *credential.Validator {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	v, err := credential.NewValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// issueEd448 creates an end-entity certificate for a fresh Ed448 key,
// signed by parent. crypto/x509 cannot create one, so the TBSCertificate of
// a placeholder certificate gets the Ed448 subjectPublicKeyInfo (RFC 8410)
// and is signed again; parent must hold an Ed25519 key. It returns the DER
// and the raw public key.
func issueEd448(t testing.TB, parent *issued) ([]byte, []byte) {
	t.Helper()
	pub, _, err := ed448.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, ok := parent.key.(ed25519.PrivateKey)
	if !ok {
		t.Fatal("issueEd448: parent key is not Ed25519")
	}
	ph := issue(t, "ed448 member", false, algEd25519, nil, parent, nil)
	var outer struct {
		TBS, Alg asn1.RawValue
		Sig      asn1.BitString
	}
	if _, err := asn1.Unmarshal(ph.cert.Raw, &outer); err != nil {
		t.Fatal(err)
	}
	var fields []asn1.RawValue
	if _, err := asn1.Unmarshal(ph.cert.RawTBSCertificate, &fields); err != nil {
		t.Fatal(err)
	}
	spki, err := asn1.Marshal(struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 101, 113}}, asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	if err != nil {
		t.Fatal(err)
	}
	replaced := false
	for i := range fields {
		if string(fields[i].FullBytes) == string(ph.cert.RawSubjectPublicKeyInfo) {
			fields[i] = asn1.RawValue{FullBytes: spki}
			replaced = true
		}
	}
	if !replaced {
		t.Fatal("issueEd448: subjectPublicKeyInfo not found")
	}
	tbs, err := asn1.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(pk, tbs)
	outer.TBS = asn1.RawValue{FullBytes: tbs}
	outer.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	der, err := asn1.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	return der, pub
}
