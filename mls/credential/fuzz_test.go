package credential_test

import (
	"testing"

	"github.com/daylight-im/daylight/mls/credential"
	"github.com/daylight-im/daylight/mls/wire"
)

// FuzzX509Credential: parsing and validating any credential never panics.
// The input is decoded as an external_senders extension (signature_key plus
// Credential, RFC 9420, Section 12.1.8.1) and each credential validated;
// whatever the decoding, it is also tried as certificates[0] and [1] of a
// chain completed with the test PKI. Only the seeds built from the test PKI
// may validate.
func FuzzX509Credential(f *testing.F) {
	p := newPKI(f, algEd25519)
	q := newPKI(f, algP256)
	roots := p.roots.Clone()
	roots.AddCert(q.root.cert)
	v := newValidator(f, credential.Config{Roots: roots, Basic: credential.AcceptBasic})
	leafKey := sigKey(f, p.leaf)
	seeds := []wire.ExternalSender{
		{SignatureKey: leafKey, Credential: *x509Cred(p.leaf, p.inter)},
		{SignatureKey: sigKey(f, q.leaf), Credential: *x509Cred(q.leaf, q.inter, q.root)},
		{SignatureKey: leafKey, Credential: wire.Credential{Type: wire.CredentialTypeBasic, Identity: []byte("bob")}},
		{SignatureKey: leafKey, Credential: wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{}}},
	}
	f.Add(wire.AppendExternalSenders(nil, seeds))
	for _, s := range seeds {
		f.Add(wire.AppendExternalSenders(nil, []wire.ExternalSender{s}))
	}
	ed448DER, ed448Pub := issueEd448(f, p.inter)
	f.Add(wire.AppendExternalSenders(nil, []wire.ExternalSender{{SignatureKey: ed448Pub, Credential: wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{ed448DER, p.inter.cert.Raw}}}}))
	f.Add(ed448DER)
	f.Add(p.leaf.cert.Raw)
	f.Add(q.inter.cert.Raw)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if senders, err := wire.ParseExternalSenders(data); err == nil {
			for _, s := range senders {
				if err := v.Validate(&s.Credential, s.SignatureKey); err == nil && s.Credential.Type == wire.CredentialTypeX509 {
					// An accepted x509 credential must really hold the key.
					chain, err := v.VerifyX509(s.Credential.Certificates, s.SignatureKey)
					if err != nil {
						t.Fatalf("Validate accepted, VerifyX509 refused: %v", err)
					}
					k, _, err := credential.SignatureKey(chain[0])
					if err != nil || string(k) != string(s.SignatureKey) {
						t.Fatalf("accepted a credential whose end-entity key is not the signature key")
					}
				}
			}
		}
		_ = v.Validate(&wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{data, p.inter.cert.Raw}}, leafKey)
		_ = v.Validate(&wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{p.leaf.cert.Raw, data}}, leafKey)
	})
}
