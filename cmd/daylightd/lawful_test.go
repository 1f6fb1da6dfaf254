package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/kem/xwing"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/warrant"
)

// TestLawfulRoutesMounted: daylightd serves POST /v1/lawful/records and POST
// /v1/lawful/states under the policy it published in its own log and refuses
// (403) a warrant naming a policy it never published; POST /v1/lawful/retained is mounted and refuses
// a policy it did not sign (403) and garbage (400).
func TestLawfulRoutesMounted(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base := []string{"--data", data, "--log-origin", testOrigin}
	logVKey, err := runOut(t, append([]string{"log-key"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	pubB64, err := runOut(t, append([]string{"provider-key"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(pubB64)
	now := uint64(time.Now().Unix())
	cur := uint32((now - policytest.Genesis) / policytest.PeriodLength)
	f := policytest.New(t, 2, 3, []uint32{cur, cur + 1}, nil)
	p := *f.Verified.Policy
	p.Provider = ed25519.PublicKey(pub)
	p.Log = policy.LogKey{Origin: testOrigin, VerifierKey: logVKey}
	body, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	signed := &policy.Signed{Body: body}
	for i, tr := range p.Trustees {
		signed.Signatures = append(signed.Signatures, policy.Sign(body, tr.ID, f.Trustees[i]))
	}
	bodyFile := filepath.Join(t.TempDir(), "policy.body")
	writeFileAtomic(bodyFile, body, 0o600)
	sigJSON, err := runOut(t, append([]string{"sign-policy", "--body", bodyFile, "--json"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	var ps struct {
		Signer    string `json:"signer"`
		Signature []byte `json:"signature"`
	}
	json.Unmarshal([]byte(sigJSON), &ps)
	signed.Signatures = append(signed.Signatures, policy.Signature{Signer: ps.Signer, Sig: ps.Signature})
	full, err := signed.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	url, out := startHTTPDaylightd(t, append(base, "--keydir=false", "--admin-addr", "127.0.0.1:0")...)
	admin := adminURL(t, out.String())
	if st, b := httpDo(t, "POST", admin+"/admin/v1/policy", "application/octet-stream", full); st != 200 {
		t.Fatalf("publish: %d %s", st, b)
	}
	_, kemPub, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	authPub, _, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(id policy.ID) []byte {
		w := &warrant.Warrant{PolicyID: id, Court: "court-a", Jurisdiction: "A", CaseNumber: "2026-CR-1", LegalBasis: "demo",
			Targets: []string{"alice"}, Authority: "federal-police", AuthorityKEMKey: kemPub, AuthoritySigningKey: authPub,
			WindowStart: now - 60, WindowEnd: now + 3600, EmbargoEnd: now + 7200, Issued: now - 60, Expiry: now + 3600}
		s, err := warrant.Sign(w, f.Courts["court-a"])
		if err != nil {
			t.Fatal(err)
		}
		return s.Marshal()
	}
	salt := make([]byte, 32)
	ask := func(path string, req map[string]any) (int, string) {
		b, _ := json.Marshal(req)
		st, out := httpDo(t, "POST", url+path, "application/json", b)
		return st, string(out)
	}
	// A policy this provider never published.
	st, b := ask("/v1/lawful/records", map[string]any{"warrant": sign(f.Verified.ID), "salt": salt, "warrant_entry": []byte{1}, "warrant_proof": "x"})
	if st != http.StatusForbidden || !strings.Contains(b, "not published") {
		t.Fatalf("records under an unpublished policy: %d %s", st, b)
	}
	// The published policy: the records handler itself judges (the entry is not in the log).
	id := policy.IDOf(body)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, b = ask("/v1/lawful/records", map[string]any{"warrant": sign(id), "salt": salt, "warrant_entry": []byte{1}, "warrant_proof": "x"})
		if !strings.Contains(b, "not published") || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond) // the Policy entry's checkpoint
	}
	if st != http.StatusBadRequest && st != http.StatusForbidden || strings.Contains(b, "not published") {
		t.Fatalf("records under the published policy, bad proof: %d %s", st, b)
	}
	// The epoch states route: the same policy lookup and the same checks.
	if st, b := ask("/v1/lawful/states", map[string]any{"warrant": sign(f.Verified.ID), "salt": salt, "warrant_entry": []byte{1}, "warrant_proof": "x"}); st != http.StatusForbidden || !strings.Contains(b, "not published") {
		t.Fatalf("states under an unpublished policy: %d %s", st, b)
	}
	if st, b := ask("/v1/lawful/states", map[string]any{"warrant": sign(id), "salt": salt, "warrant_entry": []byte{1}, "warrant_proof": "x"}); st != http.StatusBadRequest && st != http.StatusForbidden || strings.Contains(b, "not published") {
		t.Fatalf("states under the published policy, bad proof: %d %s", st, b)
	}
	if st, b := ask("/v1/lawful/retained", map[string]any{"policy": []byte("garbage")}); st != http.StatusBadRequest {
		t.Fatalf("retained with garbage: %d %s", st, b)
	}
	fp, _ := f.Signed.Marshal()
	if st, b := ask("/v1/lawful/retained", map[string]any{"policy": fp, "warrant": sign(f.Verified.ID), "salt": salt, "warrant_entry": []byte{1}, "warrant_proof": "x"}); st != http.StatusForbidden {
		t.Fatalf("retained under another provider's policy: %d %s", st, b)
	}
}

// TestAddrFile: with --addr 127.0.0.1:0 --addr-file F daylightd writes the
// address it actually listens on to F once it serves (what scripts such as
// examples/lawful-access-demo.sh wait for), the same as the one it prints.
func TestAddrFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "daylightd.addr")
	url, _ := startHTTPDaylightd(t, "--data", filepath.Join(t.TempDir(), "data"), "--keydir=false", "--access-log=false", "--addr-file", f)
	var b []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ = os.ReadFile(f); len(b) > 0 {
			break
		}
	}
	addr := strings.TrimSpace(string(b))
	if addr == "" || "http://"+addr != url {
		t.Fatalf("addr file %q, daylightd listens on %s", addr, url)
	}
	if st, _ := httpDo(t, "GET", "http://"+addr+"/healthz", "", nil); st != http.StatusOK {
		t.Fatalf("healthz at the file's address: %d", st)
	}
}
