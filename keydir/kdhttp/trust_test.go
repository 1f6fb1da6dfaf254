package kdhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/keydir"
)

// TestWithTrust: GET /keydir/v1/trust serves the trust text, other methods
// are refused, other paths reach the directory; Client.Trust reads it, and
// reports ErrNoTrust for a server without it; a 503 of the directory is
// keydir.ErrNotPublished.
func TestWithTrust(t *testing.T) {
	trust := []byte("origin example/log\n")
	srv := httptest.NewServer(WithTrust(Handler(failing{keydir.ErrNotPublished}, nil), trust))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	got, err := c.Trust(context.Background())
	if err != nil || string(got) != string(trust) {
		t.Fatalf("Trust: %q %v", got, err)
	}
	resp, err := http.Post(srv.URL+PathTrust, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST trust: %d", resp.StatusCode)
	}
	if _, err := c.Lookup(context.Background(), "alice"); !errors.Is(err, keydir.ErrNotPublished) {
		t.Fatalf("lookup through WithTrust: %v", err)
	}
	bare := httptest.NewServer(Handler(failing{keydir.ErrNotFound}, nil))
	defer bare.Close()
	if _, err := (&Client{BaseURL: bare.URL}).Trust(context.Background()); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("server without trust: %v", err)
	}
}
