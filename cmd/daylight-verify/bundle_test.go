package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/authority/authoritytest"
	"github.com/daylight-im/daylight/evidence"
)

// TestBundleAcceptsAndRejectsTampered: a bundle produced by the authority
// from three trustees' releases verifies (directory and zip); a copy with
// one changed message fails with the file named.
func TestBundleAcceptsAndRejectsTampered(t *testing.T) {
	s := authoritytest.New(t)
	b := s.Bundle(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	b.WriteZip(&zbuf)
	zpath := filepath.Join(t.TempDir(), "bundle.zip")
	os.WriteFile(zpath, zbuf.Bytes(), 0o644)
	key := base64.StdEncoding.EncodeToString(s.Keys.Sign.Public().(ed25519.PublicKey))
	for _, p := range []string{dir, zpath} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"bundle", "--json", "--authority-key", key, p}, nil, &out, &errb); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, out.String())
		}
		var rep bundleReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.OK || rep.Messages != len(s.Expected) || rep.CaseNumber != "2026-CR-7" {
			t.Fatalf("%s: report %+v %v", p, rep, err)
		}
	}
	// With --log: not logged yet, then logged by the authority.
	logURL := s.W.LogServer.URL + "/"
	if err := run(context.Background(), []string{"bundle", "--log", logURL, zpath}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("bundle whose digest is not logged passed --log")
	}
	idx, err := s.Authority.LogBundle(context.Background(), b, "A", "2026-CR-7")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.W.Log.Await(ctx, idx); err != nil {
		t.Fatal(err)
	}
	var lout bytes.Buffer
	if err := run(context.Background(), []string{"bundle", "--json", "--log", logURL, zpath}, nil, &lout, &bytes.Buffer{}); err != nil {
		t.Fatalf("logged bundle: %v\n%s", err, lout.String())
	}
	var lrep bundleReport
	if json.Unmarshal(lout.Bytes(), &lrep); lrep.LoggedAt == nil || *lrep.LoggedAt != idx {
		t.Fatalf("logged_at %v, want %d", lrep.LoggedAt, idx)
	}
	// Tampered message text.
	p := filepath.Join(dir, evidence.MessagesFile)
	raw, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(raw, []byte("hi alice"), []byte("hi alic3"), 1), 0o644)
	var out bytes.Buffer
	err = run(context.Background(), []string{"bundle", dir}, nil, &out, &bytes.Buffer{})
	if err == nil || !strings.Contains(out.String(), "FAIL") || !strings.Contains(out.String(), evidence.MessagesFile) {
		t.Fatalf("tampered bundle: %v\n%s", err, out.String())
	}
	// Another authority's key.
	other := base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))
	if err := run(context.Background(), []string{"bundle", "--authority-key", other, zpath}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("bundle accepted under another authority's key")
	}
	if err := run(context.Background(), []string{"bundle"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("no path accepted")
	}
}
