package transport_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/client/transport"
)

func TestPinSHA256AndTrustCertFile(t *testing.T) {
	e := newEnv(t)
	leaf := e.ts.Certificate()
	sum := sha256.Sum256(leaf.Raw)
	ctx := context.Background()

	pinned, err := transport.PinSHA256(hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := transport.New(transport.Config{BaseURL: e.url, TLS: pinned})
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("pinned: %v %v", h, err)
	}
	wrong := sum
	wrong[0] ^= 1
	bad, _ := transport.PinSHA256(hex.EncodeToString(wrong[:]))
	c, _ = transport.New(transport.Config{BaseURL: e.url, TLS: bad})
	if _, err := c.Health(ctx); err == nil || !strings.Contains(err.Error(), "pinned fingerprint") {
		t.Fatalf("wrong pin accepted: %v", err)
	}
	if _, err := transport.PinSHA256("abcd"); err == nil {
		t.Fatal("short fingerprint accepted")
	}

	path := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644)
	trust, err := transport.TrustCertFile(path)
	if err != nil {
		t.Fatal(err)
	}
	trust.ServerName = "example.com" // httptest's certificate names example.com and 127.0.0.1
	c, _ = transport.New(transport.Config{BaseURL: e.url, TLS: trust})
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("trusted cert file: %v", err)
	}
}
