package credential

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// Scheme is the signature scheme of a cipher suite (RFC 9420, Section 5.1),
// numbered with the TLS 1.3 SignatureScheme code points the RFC names.
type Scheme uint16

// The signature schemes of the RFC 9420 cipher suites.
const (
	ECDSAP256SHA256 Scheme = 0x0403
	ECDSAP384SHA384 Scheme = 0x0503
	ECDSAP521SHA512 Scheme = 0x0603
	Ed25519         Scheme = 0x0807
	Ed448           Scheme = 0x0808
)

func (s Scheme) String() string {
	switch s {
	case ECDSAP256SHA256:
		return "ecdsa_secp256r1_sha256"
	case ECDSAP384SHA384:
		return "ecdsa_secp384r1_sha384"
	case ECDSAP521SHA512:
		return "ecdsa_secp521r1_sha512"
	case Ed25519:
		return "ed25519"
	case Ed448:
		return "ed448"
	}
	return fmt.Sprintf("SignatureScheme(0x%04x)", uint16(s))
}

// SchemeOf returns the signature scheme of a cipher suite of the default
// table (RFC 9420, Section 17.1, and X-Wing at 0x004D).
func SchemeOf(id suite.ID) (Scheme, error) {
	switch id {
	case suite.X25519AES128GCMSHA256Ed25519, suite.X25519ChaCha20Poly1305SHA256Ed25519, suite.XWingChaCha20Poly1305SHA256Ed25519:
		return Ed25519, nil
	case suite.P256AES128GCMSHA256P256:
		return ECDSAP256SHA256, nil
	case suite.P384AES256GCMSHA384P384:
		return ECDSAP384SHA384, nil
	case suite.P521AES256GCMSHA512P521:
		return ECDSAP521SHA512, nil
	case suite.X448AES256GCMSHA512Ed448, suite.X448ChaCha20Poly1305SHA512Ed448:
		return Ed448, nil
	}
	return 0, fmt.Errorf("%w: cipher suite %v", ErrUnsupported, id)
}

// isEd448 reports id-Ed448 (RFC 8410, Section 3: 1.3.101.113).
func isEd448(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(asn1.ObjectIdentifier{1, 3, 101, 113})
}

// SignatureKey returns the public key of cert in the encoding of an MLS
// signature_key (RFC 9420, Section 5.1 and 5.3): the raw 32-byte Ed25519 or
// 57-byte Ed448 key, or the uncompressed SEC 1 point of an ECDSA P-256,
// P-384 or P-521 key. Ed448 keys are read from the subjectPublicKeyInfo,
// which crypto/x509 does not decode. Other algorithms (RSA, ...) have no MLS
// signature scheme and return an error wrapping ErrUnsupported.
func SignatureKey(cert *x509.Certificate) ([]byte, Scheme, error) {
	switch pub := cert.PublicKey.(type) {
	case ed25519.PublicKey:
		return bytes.Clone(pub), Ed25519, nil
	case *ecdsa.PublicKey:
		var sc Scheme
		switch pub.Curve {
		case elliptic.P256():
			sc = ECDSAP256SHA256
		case elliptic.P384():
			sc = ECDSAP384SHA384
		case elliptic.P521():
			sc = ECDSAP521SHA512
		default:
			return nil, 0, keyErr(ErrUnsupported, "ECDSA curve %s", pub.Curve.Params().Name)
		}
		b, err := pub.Bytes()
		if err != nil {
			return nil, 0, keyErr(ErrMalformed, "ECDSA public key: %v", err)
		}
		return b, sc, nil
	case nil:
		if cert.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
			return ed448Key(cert.RawSubjectPublicKeyInfo)
		}
	}
	return nil, 0, keyErr(ErrUnsupported, "%v public key has no MLS signature scheme", cert.PublicKeyAlgorithm)
}

// ed448Key decodes an id-Ed448 SubjectPublicKeyInfo (RFC 8410, Sections 3
// and 4: parameters absent, the raw 57-byte key in the BIT STRING).
func ed448Key(spkiDER []byte) ([]byte, Scheme, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(spkiDER, &spki)
	if err != nil || len(rest) != 0 {
		return nil, 0, keyErr(ErrMalformed, "subjectPublicKeyInfo does not decode")
	}
	if !isEd448(spki.Algorithm.Algorithm) {
		return nil, 0, keyErr(ErrUnsupported, "public key algorithm %v has no MLS signature scheme", spki.Algorithm.Algorithm)
	}
	if len(spki.Algorithm.Parameters.FullBytes) != 0 {
		return nil, 0, keyErr(ErrMalformed, "Ed448 subjectPublicKeyInfo has parameters")
	}
	if spki.PublicKey.BitLength != 57*8 {
		return nil, 0, keyErr(ErrMalformed, "Ed448 public key of %d bits", spki.PublicKey.BitLength)
	}
	return bytes.Clone(spki.PublicKey.Bytes), Ed448, nil
}

// keyError is an error of SignatureKey: sentinel, then what failed.
type keyError struct {
	sentinel error
	msg      string
}

func (e *keyError) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e *keyError) Unwrap() error { return e.sentinel }

func keyErr(sentinel error, format string, args ...any) error {
	return &keyError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

// NewX509Credential returns the x509 Credential (RFC 9420, Section 5.3) for
// chain, which must be ordered end entity first, each certificate signed by
// the next; the root may be omitted. The DER bytes are copied.
func NewX509Credential(chain []*x509.Certificate) (*wire.Credential, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: NewX509Credential: empty chain", ErrMalformed)
	}
	certs := make([][]byte, len(chain))
	for i, c := range chain {
		if c == nil || len(c.Raw) == 0 {
			return nil, fmt.Errorf("%w: NewX509Credential: certificate %d has no DER encoding", ErrMalformed, i)
		}
		certs[i] = bytes.Clone(c.Raw)
	}
	return &wire.Credential{Type: wire.CredentialTypeX509, Certificates: certs}, nil
}

// verifyX509 implements the x509 credential checks of RFC 9420, Sections 5.3
// and 5.3.1: certificates parse, are ordered end entity first with each
// signed by the next, the end-entity key is the signature_key (and of scheme
// want, if non-zero), and the chain verifies to a configured root at v.now().
func (v *Validator) verifyX509(ders [][]byte, signatureKey []byte, want Scheme) ([]*x509.Certificate, error) {
	if len(ders) == 0 {
		return nil, fmt.Errorf("%w: x509 credential has no certificates", ErrMalformed)
	}
	if len(ders) > v.cfg.MaxCertificates {
		return nil, fmt.Errorf("%w: x509 credential has %d certificates, limit %d", ErrMalformed, len(ders), v.cfg.MaxCertificates)
	}
	if v.cfg.Roots == nil {
		return nil, fmt.Errorf("%w: no x509 roots configured", ErrUntrusted)
	}
	certs := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrMalformed, i, err)
		}
		certs[i] = c
	}

	// Section 5.3: the end-entity key MUST be identical to signature_key.
	ee := certs[0]
	key, sc, err := SignatureKey(ee)
	if err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return nil, fmt.Errorf("%w: certificate 0: %s", ke.sentinel, ke.msg)
		}
		return nil, err
	}
	if want != 0 && sc != want {
		return nil, fmt.Errorf("%w: certificate 0 holds an %v key, the cipher suite signs with %v", ErrKeyMismatch, sc, want)
	}
	if !bytes.Equal(key, signatureKey) {
		return nil, fmt.Errorf("%w (certificate 0, %v)", ErrKeyMismatch, sc)
	}
	// RFC 5280, Section 4.2.1.3: the key signs MLS messages.
	if ee.KeyUsage != 0 && ee.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: certificate 0: key usage lacks digitalSignature", ErrKeyUsage)
	}

	// Section 5.3: "each entry ... signed by the next". Names and CA
	// constraints are checked as presented, before path building, which would
	// otherwise accept any order; the signatures below.
	for i := 0; i+1 < len(certs); i++ {
		child, parent := certs[i], certs[i+1]
		if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, fmt.Errorf("%w: certificate %d (issuer %q) is not issued by certificate %d (subject %q)", ErrUntrusted, i, child.Issuer, i+1, parent.Subject)
		}
		if !parent.BasicConstraintsValid || !parent.IsCA {
			return nil, fmt.Errorf("%w: certificate %d is not a CA (basicConstraints) but issues certificate %d", ErrUntrusted, i+1, i)
		}
		if parent.KeyUsage != 0 && parent.KeyUsage&x509.KeyUsageCertSign == 0 {
			return nil, fmt.Errorf("%w: certificate %d: key usage lacks keyCertSign", ErrKeyUsage, i+1)
		}
	}

	inter := x509.NewCertPool()
	if v.cfg.Intermediates != nil {
		inter = v.cfg.Intermediates.Clone()
	}
	if !v.cfg.OnlyConfiguredIntermediates {
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
	}
	eku := v.cfg.ExtKeyUsages
	if len(eku) == 0 {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	now := v.now()
	chains, err := ee.Verify(x509.VerifyOptions{
		Roots:         v.cfg.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     eku,
	})
	if err != nil {
		return nil, chainError(certs, err)
	}
	// crypto/x509 has checked each issuer's basicConstraints and keyCertSign
	// (CheckSignatureFrom), validity at now, and the extended key usages. A
	// chain that begins with the presented certificates also proves their
	// signatures in the presented order; otherwise (a configured intermediate
	// was preferred) they are checked here.
	chain, ok := presentedChain(certs, chains)
	if !ok {
		for i := 0; i+1 < len(certs); i++ {
			if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
				return nil, fmt.Errorf("%w: certificate %d: signature by certificate %d: %w", ErrUntrusted, i, i+1, err)
			}
		}
	}
	if v.cfg.X509Identity != nil {
		if err := v.cfg.X509Identity(chain); err != nil {
			return nil, fmt.Errorf("%w: x509 identity: %w", ErrRejected, err)
		}
	}
	return chain, nil
}

// presentedChain returns a verified chain whose first certificates are the
// presented ones, in order, or chains[0] and false.
func presentedChain(presented []*x509.Certificate, chains [][]*x509.Certificate) ([]*x509.Certificate, bool) {
	for _, chain := range chains {
		if len(chain) < len(presented) {
			continue
		}
		match := true
		for i, c := range presented {
			if !bytes.Equal(chain[i].Raw, c.Raw) {
				match = false
				break
			}
		}
		if match {
			return chain, true
		}
	}
	return chains[0], false
}

// chainError names the certificate crypto/x509 blamed.
func chainError(presented []*x509.Certificate, err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		sentinel := ErrUntrusted
		if inv.Reason == x509.IncompatibleUsage {
			sentinel = ErrKeyUsage
		}
		return fmt.Errorf("%w: %s: %w", sentinel, certName(presented, inv.Cert), err)
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("%w: %s: %w", ErrUntrusted, certName(presented, ua.Cert), err)
	}
	return fmt.Errorf("%w: chain: %w", ErrUntrusted, err)
}

// certName returns "certificate i" for a presented certificate, or a
// description of a certificate from a pool.
func certName(presented []*x509.Certificate, c *x509.Certificate) string {
	if c == nil {
		return "chain"
	}
	for i, p := range presented {
		if bytes.Equal(p.Raw, c.Raw) {
			return fmt.Sprintf("certificate %d", i)
		}
	}
	return fmt.Sprintf("certificate %q (configured)", c.Subject)
}
