package credential_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/wire"
)

// Example validates a member's x509 credential against the deployment's root
// at a fixed time, then the same credential presented for another key. The
// Validate method is what tree.LeafCheck.CredentialValidator and
// group.Config.CredentialValidator take.
func Example() {
	root, inter, leaf, mallory := exampleCertificates()

	roots := x509.NewCertPool()
	roots.AddCert(root)
	v, err := credential.NewValidator(credential.Config{
		Roots:        roots,
		Now:          func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		Basic:        credential.AcceptBasic, // one validator for both credential types
	})
	if err != nil {
		panic(err)
	}

	// The member's credential: end entity first, then the intermediate.
	cred, err := credential.NewX509Credential([]*x509.Certificate{leaf, inter})
	if err != nil {
		panic(err)
	}
	signatureKey, scheme, err := credential.SignatureKey(leaf) // the LeafNode's signature_key
	if err != nil {
		panic(err)
	}
	fmt.Println(scheme, v.Validate(cred, signatureKey))

	other, _, _ := credential.SignatureKey(mallory)
	fmt.Println(v.Validate(cred, other))
	fmt.Println(v.Validate(&wire.Credential{Type: wire.CredentialTypeBasic, Identity: []byte("bob")}, other))
	// Output:
	// ed25519 <nil>
	// mls/credential: end-entity key does not match the leaf signature_key (certificate 0, ed25519)
	// <nil>
}

// exampleCertificates issues root → intermediate → leaf, and a self-signed
// certificate for another key, all with fresh Ed25519 keys.
func exampleCertificates() (root, inter, leaf, other *x509.Certificate) {
	create := func(cn string, ca bool, parent *x509.Certificate, parentKey ed25519.PrivateKey) (*x509.Certificate, ed25519.PrivateKey) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			BasicConstraintsValid: true, IsCA: ca, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if ca {
			tmpl.KeyUsage |= x509.KeyUsageCertSign
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		if parent == nil {
			parent, parentKey = tmpl, priv
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
		if err != nil {
			panic(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		return c, priv
	}
	root, rootKey := create("Example Root", true, nil, nil)
	inter, interKey := create("Example Intermediate", true, root, rootKey)
	leaf, _ = create("alice", false, inter, interKey)
	other, _ = create("mallory", false, nil, nil)
	return root, inter, leaf, other
}
