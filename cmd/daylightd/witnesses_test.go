package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/witness"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "test.daylight.local/log"

// startWitness runs a real witness (package witness, as daylight-witness
// serves it) on a loopback listener for the log with key logVKey.
func startWitness(t *testing.T, name, logVKey string) (url, vkey string) {
	t.Helper()
	dir := t.TempDir()
	signer, vkey, err := witness.LoadOrCreateKey(filepath.Join(dir, "witness.key"), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Signer: signer, Logs: []witness.Log{{Origin: testOrigin, Verifier: v}}, Store: witness.FileStore{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, vkey
}

// startHTTPDaylightd runs daylightd in-process over plain HTTP on loopback and
// returns its URL and its stdout; the server is stopped at cleanup.
func startHTTPDaylightd(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := new(syncBuffer)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--addr", "127.0.0.1:0", "--insecure-http"}, args...), func(string) string { return "" }, out, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("daylightd: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daylightd did not stop")
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
			return strings.Fields(rest)[0], out
		}
		select {
		case err := <-errc:
			t.Fatalf("daylightd exited: %v (%s)", err, out.String())
		default:
		}
	}
	t.Fatalf("daylightd did not start: %q", out.String())
	return "", nil
}

// TestWitnessedAccessLog is issue 5's "done": daylightd started with two
// witnesses and threshold 2 publishes only checkpoints both cosigned, a
// client holding the pinned log key (from `daylightd log-key` and
// <data>/log.vkey) and the witness keys verifies them, and a key-directory
// epoch (after a registration) is in the witnessed tree.
func TestWitnessedAccessLog(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var kout bytes.Buffer
	if err := run(context.Background(), []string{"log-key", "--data", data, "--log-origin", testOrigin}, func(string) string { return "" }, &kout, io.Discard); err != nil {
		t.Fatalf("log-key: %v", err)
	}
	logVKey := strings.TrimSpace(kout.String())
	if _, err := note.NewVerifier(logVKey); err != nil || !strings.HasPrefix(logVKey, testOrigin+"+") {
		t.Fatalf("log-key printed %q: %v", logVKey, err)
	}
	// A second run prints the same key (it is created once).
	kout.Reset()
	if err := run(context.Background(), []string{"log-key", "--data", data, "--log-origin", testOrigin}, func(string) string { return "" }, &kout, io.Discard); err != nil || strings.TrimSpace(kout.String()) != logVKey {
		t.Fatalf("log-key again: %v %q, want %q", err, kout.String(), logVKey)
	}
	if st, err := os.Stat(logKeyPath(&options{data: data})); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("log key file: %v %v", st, err)
	}
	u1, w1 := startWitness(t, "witness.test/w1", logVKey)
	u2, w2 := startWitness(t, "witness.test/w2", logVKey)

	url, out := startHTTPDaylightd(t, "--data", data, "--log-origin", testOrigin, "--keydir-epoch", "50ms",
		"--log-witness", u1+"="+w1, "--log-witness", u2+"="+w2, "--log-witness-threshold", "2")
	if !strings.Contains(out.String(), "verifier key "+logVKey) || !strings.Contains(out.String(), "2 of 2 cosignatures") {
		t.Fatalf("start-up lines do not name the log key and the witnesses: %q", out.String())
	}
	if b, err := os.ReadFile(filepath.Join(data, logVKeyFile)); err != nil || strings.TrimSpace(string(b)) != logVKey {
		t.Fatalf("<data>/log.vkey: %q %v", b, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := transport.New(transport.Config{BaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := c.Register(ctx, "alice", "laptop", key); err != nil {
		t.Fatalf("register: %v", err)
	}

	pol, err := accesslog.NewCheckpointPolicy(testOrigin, logVKey, []string{w1, w2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := tlog.NewClient(url+"/log/", pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until a witnessed checkpoint covers a key-directory entry.
	var cp *accesslog.Checkpoint
	kdEntries := 0
	for kdEntries == 0 {
		if ctx.Err() != nil {
			t.Fatalf("no witnessed checkpoint with a key-directory entry: last %v, err %v", cp, err)
		}
		time.Sleep(100 * time.Millisecond)
		if cp, err = lc.Checkpoint(ctx); err != nil || cp.Size == 0 {
			continue
		}
		kdEntries = 0
		err = lc.Entries(ctx, cp, func(_ uint64, b []byte) error {
			e, err := accesslog.Parse(b)
			if err != nil {
				return err
			}
			if e.Type() == accesslog.TypeKeyDirectory {
				kdEntries++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("entries: %v", err)
		}
	}
	if len(cp.Cosigners) != 2 {
		t.Fatalf("checkpoint cosigned by %v, want both witnesses", cp.Cosigners)
	}
	// The raw checkpoint served at /log/checkpoint carries the log's
	// signature and both cosignatures.
	resp, err := http.Get(url + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(raw), "\n— "); n < 3 {
		t.Fatalf("checkpoint has %d signature lines, want log + 2 witnesses:\n%s", n, raw)
	}
	// The transparency page prints the verification command with the
	// witnesses and threshold the log runs with.
	resp, err = http.Get(url + "/transparency/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := html.UnescapeString(string(page))
	if !strings.Contains(p, "--witness '"+w1+"'") || !strings.Contains(p, "--witness '"+w2+"'") || !strings.Contains(p, "--threshold 2") {
		t.Fatalf("the transparency page does not name the witnesses and threshold (%d, %d bytes)", resp.StatusCode, len(page))
	}
	// A policy that requires a witness the log does not use refuses it.
	_, other := startWitness(t, "witness.test/other", logVKey)
	strict, _ := accesslog.NewCheckpointPolicy(testOrigin, logVKey, []string{other}, 1)
	if _, err := strict.Verify(raw); err == nil {
		t.Fatal("checkpoint accepted under a policy whose witness never cosigned it")
	}
}

// TestWitnessFlagsRefused: a threshold above the number of witnesses, a zero
// threshold with witnesses, the same witness twice and a malformed witness
// are refused at start, before anything is served.
func TestWitnessFlagsRefused(t *testing.T) {
	_, wv, _ := note.GenerateKey(rand.Reader, "witness.test/w")
	w := "http://127.0.0.1:1=" + wv
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-witness", w, "--log-witness-threshold", "2"}, "only 1 --log-witness"},
		{[]string{"--log-witness", w, "--log-witness-threshold", "0"}, "unwitnessed"},
		{[]string{"--log-witness", w, "--log-witness", w}, "given twice"},
		{[]string{"--log-witness", "http://127.0.0.1:1"}, "URL=vkey"},
		{[]string{"--log-witness", w, "--access-log=false"}, "needs the access log"},
	} {
		args := append([]string{"--addr", "127.0.0.1:0", "--insecure-http", "--data", t.TempDir()}, tc.args...)
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestWitnessFlagFromConfigAndEnv: the repeatable flag also comes from the
// environment (comma-separated) and from a config file (JSON array).
func TestWitnessFlagFromConfigAndEnv(t *testing.T) {
	_, v1, _ := note.GenerateKey(rand.Reader, "witness.test/w1")
	_, v2, _ := note.GenerateKey(rand.Reader, "witness.test/w2")
	env := map[string]string{"DAYLIGHT_LOG_WITNESS": "http://127.0.0.1:1=" + v1 + ",http://127.0.0.1:2=" + v2}
	o, _, err := parseOptions("t", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || len(o.logWitnesses) != 2 || o.logWitnesses[1].VKey != v2 {
		t.Fatalf("env: %v %+v", err, o)
	}
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"log-witness":["http://127.0.0.1:1=`+v1+`","http://127.0.0.1:2=`+v2+`"],"log-witness-threshold":1}`), 0o600)
	o, _, err = parseOptions("t", []string{"--config", cfg}, func(string) string { return "" }, io.Discard)
	if err != nil || len(o.logWitnesses) != 2 || o.logWitnesses[0].URL != "http://127.0.0.1:1" || o.logWitnessThreshold != 1 {
		t.Fatalf("config: %v %+v", err, o)
	}
}
