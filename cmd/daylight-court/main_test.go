package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/warrant"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), err
}

func sampleWarrant(t testing.TB, f *policytest.Fixture) warrantJSON {
	_, kem, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	sig, _, _ := ed25519.GenerateKey(rand.Reader)
	return warrantJSON{
		PolicyID: hex.EncodeToString(f.Verified.ID[:]), Court: "court-a", Jurisdiction: "A", CaseNumber: "2026-CR-1",
		LegalBasis: "s. 100a", Targets: []string{"alice"}, Authority: "federal-police",
		AuthorityKEMKey: kem, AuthoritySigningKey: sig,
		WindowStart: "2026-02-01T00:00:00Z", WindowEnd: "2026-02-20T00:00:00Z", EmbargoEnd: "2026-05-01T00:00:00Z",
		Issued: "2026-02-05T00:00:00Z", Expiry: "2026-03-05T00:00:00Z",
	}
}

func TestKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	f := policytest.New(t, 3, 5, []uint32{1}, nil)
	pb, err := f.Signed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	polPath := filepath.Join(dir, "policy.bin")
	os.WriteFile(polPath, pb, 0o644)

	// keygen writes a key and prints its public half; it refuses to overwrite.
	keyPath := filepath.Join(dir, "new.key")
	out, err := runCmd(t, "keygen", "--out", keyPath, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var kg struct {
		PublicKey []byte `json:"public_key"`
	}
	if err := json.Unmarshal([]byte(out), &kg); err != nil || len(kg.PublicKey) != ed25519.PublicKeySize {
		t.Fatalf("keygen output %q: %v", out, err)
	}
	k, err := readKey(keyPath)
	if err != nil || !bytes.Equal(k.Public().(ed25519.PublicKey), kg.PublicKey) {
		t.Fatalf("key file does not hold the printed key: %v", err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode())
	}
	if _, err := runCmd(t, "keygen", "--out", keyPath); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}

	// The policy's court-a signs.
	courtKey := filepath.Join(dir, "court-a.key")
	os.WriteFile(courtKey, encodeKey(f.Courts["court-a"]), 0o600)
	wj := sampleWarrant(t, f)
	wb, _ := json.Marshal(wj)
	wPath := filepath.Join(dir, "warrant.json")
	os.WriteFile(wPath, wb, 0o644)
	signed := filepath.Join(dir, "warrant.signed")
	if _, err := runCmd(t, "sign", "--warrant", wPath, "--key", courtKey, "--out", signed); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(signed)
	s, err := warrant.ParseSigned(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warrant.Verify(s, f.Verified, 1770422400 /* 2026-02-07 */); err != nil {
		t.Fatalf("signed warrant does not verify: %v", err)
	}
	out, err = runCmd(t, "verify", "--warrant", signed, "--policy", polPath, "--now", "2026-02-07T00:00:00Z", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var vj struct {
		OK      bool        `json:"ok"`
		Warrant warrantJSON `json:"warrant"`
	}
	if err := json.Unmarshal([]byte(out), &vj); err != nil || !vj.OK || vj.Warrant.CaseNumber != "2026-CR-1" || vj.Warrant.WindowEnd != wj.WindowEnd {
		t.Fatalf("verify output %q: %v", out, err)
	}
	pub := base64.StdEncoding.EncodeToString(f.Courts["court-a"].Public().(ed25519.PublicKey))
	if _, err := runCmd(t, "verify", "--warrant", signed, "--court-key", pub); err != nil {
		t.Fatal(err)
	}
	// Expired at verification time.
	if _, err := runCmd(t, "verify", "--warrant", signed, "--policy", polPath, "--now", "2026-04-01T00:00:00Z"); !errors.Is(err, warrant.ErrExpired) {
		t.Fatalf("expired warrant: %v", err)
	}
}

// TestAttackCourtForgedWarrant: a warrant signed by a key that is not the
// policy's court (T5), or altered after signing, is refused by verify.
func TestAttackCourtForgedWarrant(t *testing.T) {
	dir := t.TempDir()
	f := policytest.New(t, 3, 5, []uint32{1}, nil)
	pb, _ := f.Signed.Marshal()
	polPath := filepath.Join(dir, "policy.bin")
	os.WriteFile(polPath, pb, 0o644)
	rogue := filepath.Join(dir, "rogue.key")
	if _, err := runCmd(t, "keygen", "--out", rogue); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(sampleWarrant(t, f))
	wPath := filepath.Join(dir, "warrant.json")
	os.WriteFile(wPath, wb, 0o644)
	signed := filepath.Join(dir, "warrant.signed")
	if _, err := runCmd(t, "sign", "--warrant", wPath, "--key", rogue, "--out", signed); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "verify", "--warrant", signed, "--policy", polPath, "--now", "2026-02-07T00:00:00Z"); !errors.Is(err, warrant.ErrSignature) {
		t.Fatalf("rogue-signed warrant: %v", err)
	}
	// Signed by the real court, then the window is widened.
	os.WriteFile(filepath.Join(dir, "court.key"), encodeKey(f.Courts["court-a"]), 0o600)
	if _, err := runCmd(t, "sign", "--warrant", wPath, "--key", filepath.Join(dir, "court.key"), "--out", signed); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(signed)
	s, _ := warrant.ParseSigned(raw)
	w, _ := warrant.Parse(s.Body)
	w.WindowStart -= 86400
	s.Body, _ = w.Marshal()
	os.WriteFile(signed, s.Marshal(), 0o644)
	if _, err := runCmd(t, "verify", "--warrant", signed, "--policy", polPath, "--now", "2026-02-07T00:00:00Z"); !errors.Is(err, warrant.ErrSignature) {
		t.Fatalf("altered warrant: %v", err)
	}
}

func TestSignRefusesBadJSON(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "c.key")
	runCmd(t, "keygen", "--out", key)
	f := policytest.New(t, 3, 5, []uint32{1}, nil)
	good, _ := json.Marshal(sampleWarrant(t, f))
	for name, body := range map[string]string{
		"unknown field": strings.Replace(string(good), `"court"`, `"kourt":"x","court"`, 1),
		"trailing":      string(good) + `{}`,
		"bad time":      strings.Replace(string(good), "2026-02-20T00:00:00Z", "20 Feb 2026", 1),
		"bad policy":    strings.Replace(string(good), hex.EncodeToString(f.Verified.ID[:]), "abcd", 1),
		"no targets":    strings.Replace(string(good), `["alice"]`, `[]`, 1),
	} {
		p := filepath.Join(dir, "w.json")
		os.WriteFile(p, []byte(body), 0o644)
		out := filepath.Join(dir, "out.signed")
		os.Remove(out)
		if _, err := runCmd(t, "sign", "--warrant", p, "--key", key, "--out", out); err == nil {
			t.Errorf("%s: signed", name)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: wrote output", name)
		}
	}
}

// FuzzParseWarrantJSON: the court's JSON either is refused or round-trips
// to the same canonical warrant.
func FuzzParseWarrantJSON(f *testing.F) {
	f.Add([]byte(`{"policy_id":"` + strings.Repeat("ab", 32) + `","court":"c","jurisdiction":"A","case_number":"1","legal_basis":"b","targets":["alice"],"authority":"p","authority_kem_key":"","authority_signing_key":"","window_start":"2026-01-01T00:00:00Z","window_end":"2026-01-02T00:00:00Z","embargo_end":"2026-02-01T00:00:00Z","issued":"2026-01-01T00:00:00Z","expiry":"2026-01-10T00:00:00Z"}`))
	good, _ := json.Marshal(sampleWarrant(f, policytest.New(f, 3, 5, []uint32{1}, nil)))
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := parseWarrantJSON(data)
		if err != nil {
			return
		}
		want, _ := w.Marshal()
		b, err := json.Marshal(toJSON(w))
		if err != nil {
			t.Fatal(err)
		}
		w2, err := parseWarrantJSON(b)
		if err != nil {
			t.Fatalf("re-encoded warrant JSON refused: %v", err)
		}
		got, _ := w2.Marshal()
		if !bytes.Equal(got, want) {
			t.Fatal("warrant changed in a JSON round trip")
		}
	})
}
