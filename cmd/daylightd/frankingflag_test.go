package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFrankingFlag: franking is on unless --franking=false is given.
func TestFrankingFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		off  bool
	}{{nil, false}, {[]string{"--franking"}, false}, {[]string{"--franking=true"}, false}, {[]string{"--franking=false"}, true}} {
		var o options
		fs := newFlagSet("serve", &o, io.Discard)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(tc.args, err)
		}
		if o.noFranking != tc.off {
			t.Errorf("%v: noFranking = %v, want %v", tc.args, o.noFranking, tc.off)
		}
	}
	var o options
	if err := newFlagSet("serve", &o, io.Discard).Parse([]string{"--franking=maybe"}); err == nil {
		t.Error("--franking=maybe accepted")
	}
}

// TestFrankingOffUnmountsModeration: serve mounts the account-status route
// (GET /v1/moderation/status answers 401 without a token) and no franking
// key exists until franking is on; with --franking=false neither the status
// route nor the report intake is mounted and no franking key is created.
func TestFrankingOffUnmountsModeration(t *testing.T) {
	for _, on := range []bool{true, false} {
		data := filepath.Join(t.TempDir(), "data")
		args := []string{"--addr", "127.0.0.1:0", "--insecure-http", "--data", data, "--access-log=false"}
		if !on {
			args = append(args, "--franking=false")
		}
		ctx, cancel := context.WithCancel(context.Background())
		var out syncBuffer
		errc := make(chan error, 1)
		go func() { errc <- run(ctx, args, func(string) string { return "" }, &out, io.Discard) }()
		var url string
		for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
				url = strings.Fields(rest)[0]
			}
		}
		if url == "" {
			cancel()
			t.Fatalf("franking %v: no listening line: %q", on, out.String())
		}
		want := http.StatusUnauthorized
		if !on {
			want = http.StatusNotFound
		}
		for _, r := range []struct{ method, path string }{{"GET", "/v1/moderation/status"}, {"POST", "/v1/reports"}} {
			req, _ := http.NewRequest(r.method, url+r.path, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("franking %v: %s %s = %d, want %d", on, r.method, r.path, resp.StatusCode, want)
			}
		}
		if _, err := os.Stat(filepath.Join(data, frankingFile)); (err == nil) != on {
			t.Errorf("franking %v: franking key present = %v", on, err == nil)
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
	}
}
