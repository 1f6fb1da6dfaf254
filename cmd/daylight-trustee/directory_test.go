package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/keydir/keydirtest"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
)

// TestAttackDirectoryFromVerifiedLookups: `daylight-trustee directory` writes
// the accounts file from key-directory answers it verifies under the signed
// policy's log key and witnesses and the directory's pinned keys. A provider
// answering with another directory key, or anchoring its directory in a log
// the policy does not name, gets nothing written; an unregistered account is
// refused rather than left out.
func TestAttackDirectoryFromVerifiedLookups(t *testing.T) {
	ctx := context.Background()
	lg, err := keydirtest.NewLog("daylight.test/log", 2)
	if err != nil {
		t.Fatal(err)
	}
	_, dirKey, _ := ed25519.GenerateKey(rand.Reader)
	dir, err := keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: lg, SigningKey: dirKey, VRFKey: keydir.NewVRFKey()})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	rec, err := account.NewRegistration("alice", account.Device{ID: account.DeviceID{1}, SignatureKey: pub, Credential: []byte("alice"), KeyPackageKey: pub}, priv, 1_800_000_000)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := rec.Marshal()
	if err := dir.Register(ctx, enc); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(kdhttp.Handler(dir, nil))
	defer srv.Close()

	lv, wv := lg.VKeys()
	anchored := func(p *policy.Policy) {
		p.Log = policy.LogKey{Origin: lg.Origin, VerifierKey: lv}
		p.Witnesses = nil
		for i, v := range wv {
			p.Witnesses = append(p.Witnesses, policy.Witness{Name: "w" + string(rune('0'+i)), VerifierKey: v})
		}
		p.W = 2
	}
	tmp := t.TempDir()
	path := func(n string) string { return filepath.Join(tmp, n) }
	writePolicy := func(name string, mod func(*policy.Policy)) string {
		f := policytest.New(t, 2, 3, []uint32{1}, mod)
		b, err := f.Signed.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path(name), b, 0o644)
		return path(name)
	}
	pol := writePolicy("policy.bin", anchored)
	otherLog := writePolicy("other.bin", nil) // the fixture's own log and witnesses
	opening := bytes.Repeat([]byte{7}, 1216)
	ob, _ := json.Marshal(map[string][]byte{"opening_key": opening})
	os.WriteFile(path("alice.opening.json"), ob, 0o644)

	args := func(polPath, dk, out string, accounts ...string) []string {
		a := []string{"directory", "--policy", polPath, "--server", srv.URL, "--directory-key", dk,
			"--vrf-key", hex.EncodeToString(dir.VRFPublicKey()), "--out", out}
		for _, acc := range accounts {
			a = append(a, "--account", acc)
		}
		return a
	}
	goodKey := hex.EncodeToString(dirKey.Public().(ed25519.PublicKey))
	if out, err := runCmd(t, args(pol, goodKey, path("accounts.json"), "alice="+path("alice.opening.json"))...); err != nil {
		t.Fatalf("directory: %v\n%s", err, out)
	}
	got, err := readDirectory(path("accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got["alice"].SignatureKey, pub) || !bytes.Equal(got["alice"].OpeningKey, opening) {
		t.Fatalf("accounts file: %+v", got)
	}

	otherKey, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		name string
		args []string
		out  string
		want string
	}{
		{"another directory key", args(pol, hex.EncodeToString(otherKey), path("a1.json"), "alice"), path("a1.json"), "does not verify"},
		{"a log the policy does not name", args(otherLog, goodKey, path("a2.json"), "alice"), path("a2.json"), "does not verify"},
		{"an unregistered account", args(pol, goodKey, path("a3.json"), "alice", "mallory"), path("a3.json"), "mallory"},
	} {
		out, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: err %v, want %q\n%s", c.name, err, c.want, out)
		}
		if _, err := os.Stat(c.out); err == nil {
			t.Fatalf("%s: an accounts file was written", c.name)
		}
	}
}
