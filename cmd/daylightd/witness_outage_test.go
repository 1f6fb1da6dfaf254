package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/witness"
	"golang.org/x/mod/sumdb/note"
)

// TestWitnessOutageHoldsPublication: with w = 2 of 2, while one witness is
// down daylightd still acknowledges appends (durably sequenced) but
// publishes no checkpoint covering them; when the witness is back, the next
// checkpoint covers them with both cosignatures. Nothing unwitnessed is
// ever served.
func TestWitnessOutageHoldsPublication(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var kout bytes.Buffer
	if err := run(context.Background(), []string{"log-key", "--data", data, "--log-origin", testOrigin}, func(string) string { return "" }, &kout, io.Discard); err != nil {
		t.Fatal(err)
	}
	logVKey := strings.TrimSpace(kout.String())
	var down atomic.Bool
	startW := func(name string, toggle bool) (string, string) {
		dir := t.TempDir()
		signer, vkey, err := witness.LoadOrCreateKey(filepath.Join(dir, "witness.key"), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := note.NewVerifier(logVKey)
		w, err := witness.New(witness.Config{Signer: signer, Logs: []witness.Log{{Origin: testOrigin, Verifier: v}}, Store: witness.FileStore{Dir: dir}})
		if err != nil {
			t.Fatal(err)
		}
		h := w.Handler()
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if toggle && down.Load() {
				http.Error(rw, "down", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(rw, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL, vkey
	}
	u1, w1 := startW("witness.test/w1", false)
	u2, w2 := startW("witness.test/w2", true)
	roles := filepath.Join(t.TempDir(), "writers")
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"log-writer", "--log-writers", roles, "authority"}, func(string) string { return "" }, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	url, _ := startHTTPDaylightd(t, "--data", data, "--log-origin", testOrigin, "--keydir=false", "--log-writers", roles,
		"--log-witness", u1+"="+w1, "--log-witness", u2+"="+w2, "--log-witness-threshold", "2")
	app := service.HTTPAppender{URL: url + server.PathLogAppend, Token: strings.TrimSpace(tok.String())}
	pol, _ := accesslog.NewCheckpointPolicy(testOrigin, logVKey, []string{w1, w2}, 2)
	lc, _ := tlog.NewClient(url+"/log/", pol, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	entry := func(n byte) []byte {
		b, _ := accesslog.Marshal(&accesslog.Evidence{Kind: accesslog.EvidenceBundle, Digest: [32]byte{n}, Jurisdiction: "UK", Time: uint64(time.Now().Unix()), Ref: "case"})
		return b
	}
	waitSize := func(size uint64) *accesslog.Checkpoint {
		for {
			cp, err := lc.Checkpoint(ctx)
			if err == nil && cp.Size >= size {
				return cp
			}
			if ctx.Err() != nil {
				t.Fatalf("no witnessed checkpoint of size %d: %v %v", size, cp, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := app.Append(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	waitSize(1)

	down.Store(true)
	idx, err := app.Append(ctx, entry(2))
	if err != nil || idx != 1 {
		t.Fatalf("append while a witness is down: %d %v (appends must still be acknowledged)", idx, err)
	}
	// Several checkpoint intervals: the served checkpoint never covers entry 1.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(url + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cp, err := pol.Verify(raw)
		if err != nil {
			t.Fatalf("served checkpoint does not satisfy w=2: %v\n%s", err, raw)
		}
		if cp.Size > 1 {
			t.Fatalf("checkpoint of size %d published while a witness was down", cp.Size)
		}
	}
	down.Store(false)
	if cp := waitSize(2); len(cp.Cosigners) != 2 {
		t.Fatalf("after the outage: cosigners %v", cp.Cosigners)
	}
}
