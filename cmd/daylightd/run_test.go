package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
)

func TestOptionsPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"addr":"127.0.0.1:1","data":"from-file","max-message-bytes":1048577,"log-level":"debug"}`), 0o600)
	env := map[string]string{"DAYLIGHT_CONFIG": cfg, "DAYLIGHT_DATA": "from-env", "DAYLIGHT_ADDR": "127.0.0.1:2"}
	o, _, err := parseOptions("t", []string{"--addr", "127.0.0.1:3"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:3" || o.data != "from-env" || o.maxMessage != 1048577 || o.logLevel != "debug" {
		t.Fatalf("precedence flags > env > file broken: %+v", o)
	}
	os.WriteFile(cfg, []byte(`{"no-such":1}`), 0o600)
	if _, _, err := parseOptions("t", nil, func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "no-such") {
		t.Fatalf("unknown config key accepted: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeDefaultsTLSAndShutdown starts daylightd in-process with only an
// address and data directory: it must generate a dev certificate, print
// where it listens, answer /healthz over TLS with that certificate, and stop
// cleanly when its context ends.
func TestServeDefaultsTLSAndShutdown(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data", data, "--keydir-epoch", "20ms"}, func(string) string { return "" }, &out, io.Discard)
	}()
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("no https listening line: %q", out.String())
	}
	pemBytes, err := os.ReadFile(filepath.Join(data, devCertFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("healthz over TLS with the dev certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	// The real validator: accounts work, malformed MLS is refused with a clear code.
	c, err := transport.New(transport.Config{BaseURL: url, TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := c.Register(ctx, "alice", "laptop", key); err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := c.Send(ctx, []byte("not an MLSMessage")); !api.HasCode(err, api.CodeInvalidMessage) {
		t.Fatalf("garbage MLS: want invalid_message, got %v", err)
	}
	if err := c.UploadKeyPackages(ctx, [][]byte{{0, 1, 0, 5}}); !api.HasCode(err, api.CodeInvalidMessage) {
		t.Fatalf("garbage KeyPackage: want invalid_message, got %v", err)
	}
	if st, _ := os.Stat(filepath.Join(data, devKeyFile)); st.Mode().Perm() != 0o600 {
		t.Fatalf("dev key mode %v, want 0600", st.Mode().Perm())
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no shutdown")
	}
	if !strings.Contains(out.String(), "daylightd: stopped") {
		t.Fatalf("no stop line: %q", out.String())
	}
	// check on the same data directory.
	var co bytes.Buffer
	if err := run(context.Background(), []string{"check", "--data", data}, func(string) string { return "" }, &co, io.Discard); err != nil || !strings.HasPrefix(co.String(), "ok:") {
		t.Fatalf("check: %v %q", err, co.String())
	}
}

func TestInsecureHTTPRefusedOffLoopback(t *testing.T) {
	err := run(context.Background(), []string{"--addr", "0.0.0.0:0", "--insecure-http", "--data", t.TempDir()}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--insecure-http is refused") {
		t.Fatalf("want refusal, got %v", err)
	}
}
