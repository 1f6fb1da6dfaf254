package transport

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TrustCertFile returns a TLS configuration that trusts the certificates in
// a PEM file, e.g. the development certificate daylightd writes into its data
// directory (tls-dev-cert.pem, its own CA).
func TrustCertFile(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("transport: %s holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}, nil
}

// PinSHA256 returns a TLS configuration that accepts exactly the server
// certificate whose SHA-256 (of its DER encoding) is fingerprint, in hex as
// daylightd prints it at start; no CA is consulted.
func PinSHA256(fingerprint string) (*tls.Config, error) {
	want, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(fingerprint), ":", ""))
	if err != nil || len(want) != sha256.Size {
		return nil, errors.New("transport: fingerprint must be 64 hex digits (SHA-256)")
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("transport: server sent no certificate")
			}
			got := sha256.Sum256(raw[0])
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return fmt.Errorf("transport: server certificate %x does not match the pinned fingerprint", got[:8])
			}
			return nil
		},
	}, nil
}
