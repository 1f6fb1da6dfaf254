package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/keydir/keydirtest"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"

	"golang.org/x/mod/sumdb/note"
)

func TestParseKeyDirTrust(t *testing.T) {
	_, logV, _ := note.GenerateKey(rand.Reader, "example.org/log")
	_, w1, _ := note.GenerateKey(rand.Reader, "w1")
	_, w2, _ := note.GenerateKey(rand.Reader, "w2")
	good := "# pinned at install\norigin example.org/log\nlog-vkey " + logV + "\nwitness " + w1 + "\nwitness " + w2 +
		"\nthreshold 1\ndirectory-key " + strings.Repeat("ab", 32) + "\nvrf-key " + strings.Repeat("cd", 32) + "\n"
	cfg, err := parseKeyDirTrust([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DirectoryKey) != 32 || len(cfg.VRFKey) != 32 || cfg.Checkpoints == nil {
		t.Fatalf("%+v", cfg)
	}
	for name, bad := range map[string]string{
		"unknown key":       good + "colour blue\n",
		"short dir key":     strings.Replace(good, strings.Repeat("ab", 32), "abcd", 1),
		"bad vkey":          strings.Replace(good, logV, "nonsense", 1),
		"missing vrf":       strings.Replace(good, "vrf-key "+strings.Repeat("cd", 32), "", 1),
		"value-less":        good + "threshold\n",
		"threshold non-int": good + "threshold x\n",
	} {
		if _, err := parseKeyDirTrust([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// startKeyDirServer runs the DS with a key directory that publishes its
// trust (as daylightd does); the test closes epochs with dir.Publish.
func startKeyDirServer(t *testing.T) (string, *keydir.Directory, *kdclient.Trust) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(64)), MaxBlobBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := keydirtest.NewLog("daylight.test/log", 2)
	if err != nil {
		t.Fatal(err)
	}
	_, sk, _ := ed25519.GenerateKey(nil)
	dir, err := keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: lg, SigningKey: sk, VRFKey: keydir.NewVRFKey()})
	if err != nil {
		t.Fatal(err)
	}
	lv, wv := lg.VKeys()
	trust := &kdclient.Trust{Origin: lg.Origin, LogVKey: lv, Witnesses: wv, Threshold: 2, DirectoryKey: dir.SigningPublicKey(), VRFKey: dir.VRFPublicKey()}
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{},
		KeyDirHandler: kdhttp.WithTrust(kdhttp.Handler(dir, nil), trust.Marshal())})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		svc.Close()
		st.Close()
	})
	return hs.URL, dir, trust
}

// TestTrustShowReset: register pins the server's published key directory
// and prints its fingerprint; `trust show` lists the pins; a trust file
// given out of band overrides them (`trust show` says "file") and fully
// verified lookups work under it; `trust reset` drops the remembered file
// and the pins, and the next use pins again.
func TestTrustShowReset(t *testing.T) {
	url, dir, trust := startKeyDirServer(t)
	c := &cli{t: t, url: url, dir: t.TempDir()}
	fp := trust.Fingerprint()
	var errb bytes.Buffer
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--home", filepath.Join(c.dir, "alice"), "--server", url, "register", "alice"}, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "pinned on first contact: key directory "+fp) || !strings.Contains(out.String(), "2 of 2 witnesses") {
		t.Fatalf("register output does not show the pin:\n%s", out.String())
	}
	var info struct {
		Source, Fingerprint string
		Threshold           int
		Witnesses           []string
	}
	c.json("alice", &info, "trust", "show")
	if info.Source != "pinned on first contact" || info.Fingerprint != fp || info.Threshold != 2 || len(info.Witnesses) != 2 {
		t.Fatalf("trust show: %+v", info)
	}
	if out := c.ok("alice", "trust", "show"); !strings.Contains(out, fp) || !strings.Contains(out, "2 of 2 witness cosignatures") {
		t.Fatalf("trust show (text):\n%s", out)
	}

	file := filepath.Join(c.dir, "trust.txt")
	if err := os.WriteFile(file, trust.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("bob", "--keydir-trust", file, "register", "bob")
	if _, err := dir.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.json("bob", &info, "trust", "show")
	if info.Source != "file" || info.Fingerprint != fp {
		t.Fatalf("trust show with a remembered trust file: %+v", info)
	}
	if out := c.ok("bob", "contacts", "add", "alice"); !strings.Contains(out, "verified (directory proofs checked") {
		t.Fatalf("lookup under the trust file:\n%s", out)
	}
	if out := c.ok("alice", "contacts", "add", "bob"); !strings.Contains(out, "verified (directory proofs checked") {
		t.Fatalf("lookup under the pins:\n%s", out)
	}
	for _, who := range []string{"alice", "bob"} {
		if out := c.ok(who, "trust", "reset"); !strings.Contains(out, "dropped the pins") {
			t.Fatalf("%s: trust reset:\n%s", who, out)
		}
		c.json(who, &info, "trust", "show")
		if info.Source != "none" {
			t.Fatalf("%s after reset: %+v", who, info)
		}
	}
	if out := c.ok("bob", "contacts", "list"); !strings.Contains(out, "verified (directory proofs checked") {
		t.Fatalf("lookup after reset:\n%s", out)
	}
	c.json("bob", &info, "trust", "show")
	if info.Source != "pinned on first contact" || info.Fingerprint != fp {
		t.Fatalf("bob after reset and a lookup: %+v", info)
	}
}
