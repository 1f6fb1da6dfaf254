// Package credential validates MLS credentials with the Authentication Service
// rules of RFC 9420, Section 5.3: an x509 credential's certificate chain must
// verify to a configured root at the injected time, and the end-entity
// certificate's public key must be identical to the LeafNode's signature_key;
// a basic credential is handed to an application hook.
//
// A *Validator's Validate method has the shape of tree.LeafCheck's and
// mls/group's CredentialValidator hooks:
//
//	v, _ := credential.NewValidator(credential.Config{Roots: roots, Now: clock})
//	check := tree.LeafCheck{CredentialValidator: v.Validate}
//
// Revocation (CRL, OCSP) is not checked: see docs/mls-credential.md.
package credential

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// Sentinel errors callers branch on with errors.Is. Every error Validate
// returns wraps exactly one of them.
var (
	// ErrMalformed reports a credential that cannot be parsed: no
	// certificates, a certificate that is not DER X.509, too many
	// certificates.
	ErrMalformed = errors.New("mls/credential: malformed credential")
	// ErrUntrusted reports a chain that is out of order or does not verify to
	// a configured root at the validator's time (unknown root, expired, not
	// yet valid, an issuer that is not a CA, wrong extended key usage).
	ErrUntrusted = errors.New("mls/credential: untrusted certificate chain")
	// ErrKeyMismatch reports an end-entity public key that is not the
	// LeafNode's signature_key (RFC 9420, Section 5.3).
	ErrKeyMismatch = errors.New("mls/credential: end-entity key does not match the leaf signature_key")
	// ErrKeyUsage reports a certificate whose key usage does not allow its
	// role (end entity: digitalSignature; issuer: keyCertSign).
	ErrKeyUsage = errors.New("mls/credential: key usage not permitted")
	// ErrUnsupported reports a credential type, public key algorithm or
	// cipher suite this package cannot validate.
	ErrUnsupported = errors.New("mls/credential: unsupported")
	// ErrRejected reports a credential refused by policy: a basic
	// credential without a Basic hook, or a hook's refusal.
	ErrRejected = errors.New("mls/credential: rejected by policy")
)

// DefaultMaxCertificates bounds the certificates of one x509 credential when
// Config.MaxCertificates is zero.
const DefaultMaxCertificates = 8

// Config configures a Validator. The zero value rejects every credential.
// The certificate pools must not be modified once passed to NewValidator.
type Config struct {
	// Roots are the trust anchors for x509 credentials. Nil rejects every
	// x509 credential (the system roots are never used).
	Roots *x509.CertPool
	// Intermediates are CA certificates peers are known to possess, so that
	// credentials may omit them (RFC 9420, Section 5.3: "A chain MAY omit any
	// non-leaf certificates that supported peers are known to already
	// possess"). May be nil.
	Intermediates *x509.CertPool
	// OnlyConfiguredIntermediates is the intermediates policy: when set,
	// presented intermediates are not trusted for path building, so every
	// chain runs through Intermediates to Roots (the deployment pins its
	// issuing CAs; a compromised root cannot introduce a new intermediate
	// through a credential). When unset, presented intermediates are used.
	OnlyConfiguredIntermediates bool
	// MaxCertificates bounds len(certificates); 0 means
	// DefaultMaxCertificates.
	MaxCertificates int
	// Now is the clock the chain's validity periods are checked against; nil
	// means time.Now.
	Now func() time.Time
	// ExtKeyUsages the end-entity certificate must allow (any one of them,
	// through the whole chain, as crypto/x509 checks it). Empty means no
	// extended key usage constraint (x509.ExtKeyUsageAny).
	ExtKeyUsages []x509.ExtKeyUsage
	// X509Identity, if set, checks the presented identifiers of a verified
	// chain (chain[0] is the end entity, the last element the root) against
	// the application's reference identifiers (RFC 9420, Section 5.3.1). A
	// non-nil error rejects the credential.
	X509Identity func(chain []*x509.Certificate) error
	// Basic, if set, decides on basic credentials (RFC 9420, Section 5.3: a
	// bare assertion of an identity); nil rejects them. AcceptBasic accepts
	// any identity.
	Basic func(identity, signatureKey []byte) error
}

// AcceptBasic is a Config.Basic hook accepting every basic credential. A
// basic credential authenticates nothing: use it only where identities are
// authenticated by other means.
func AcceptBasic(identity, signatureKey []byte) error { return nil }

// Validator validates credentials under one Config. It is immutable and safe
// for concurrent use.
type Validator struct {
	cfg Config
}

// NewValidator returns a Validator for cfg. It fails on a negative
// MaxCertificates only; a Config without Roots is legal and rejects x509
// credentials.
func NewValidator(cfg Config) (*Validator, error) {
	if cfg.MaxCertificates < 0 {
		return nil, fmt.Errorf("mls/credential: NewValidator: MaxCertificates %d < 0", cfg.MaxCertificates)
	}
	if cfg.MaxCertificates == 0 {
		cfg.MaxCertificates = DefaultMaxCertificates
	}
	cfg.ExtKeyUsages = append([]x509.ExtKeyUsage(nil), cfg.ExtKeyUsages...)
	return &Validator{cfg: cfg}, nil
}

func (v *Validator) now() time.Time {
	if v.cfg.Now == nil {
		return time.Now()
	}
	return v.cfg.Now()
}

// Validate validates cred as the credential of a LeafNode whose
// signature_key is signatureKey (RFC 9420, Section 5.3.1). Its signature
// matches tree.LeafCheck.CredentialValidator. The error wraps one of the
// package's sentinel errors and names the certificate that failed.
func (v *Validator) Validate(cred *wire.Credential, signatureKey []byte) error {
	return v.validate(cred, signatureKey, 0)
}

// ForSuite returns Validate restricted to the signature scheme of cipher
// suite id: an x509 end-entity key of another algorithm is rejected even
// before the key comparison.
func (v *Validator) ForSuite(id suite.ID) (func(cred *wire.Credential, signatureKey []byte) error, error) {
	sc, err := SchemeOf(id)
	if err != nil {
		return nil, err
	}
	return func(cred *wire.Credential, signatureKey []byte) error {
		return v.validate(cred, signatureKey, sc)
	}, nil
}

func (v *Validator) validate(cred *wire.Credential, signatureKey []byte, want Scheme) error {
	if cred == nil {
		return fmt.Errorf("%w: nil credential", ErrMalformed)
	}
	switch cred.Type {
	case wire.CredentialTypeBasic:
		if v.cfg.Basic == nil {
			return fmt.Errorf("%w: basic credentials are not accepted", ErrRejected)
		}
		if err := v.cfg.Basic(cred.Identity, signatureKey); err != nil {
			return fmt.Errorf("%w: basic credential: %w", ErrRejected, err)
		}
		return nil
	case wire.CredentialTypeX509:
		_, err := v.verifyX509(cred.Certificates, signatureKey, want)
		return err
	default:
		return fmt.Errorf("%w: credential_type %d", ErrUnsupported, cred.Type)
	}
}

// VerifyX509 validates an x509 credential's certificates (DER, end entity
// first) for signatureKey, as Validate does, and returns the verified chain
// from the end entity to a configured root, so that callers can read the
// presented identifiers (subjectAltName, ...).
func (v *Validator) VerifyX509(certificates [][]byte, signatureKey []byte) ([]*x509.Certificate, error) {
	return v.verifyX509(certificates, signatureKey, 0)
}
