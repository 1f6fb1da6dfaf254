package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/report"
)

func runOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard)
	return strings.TrimSpace(out.String()), err
}

// TestPublishPolicy: the provider signs a policy body naming its key and
// this log (daylightd provider-key, sign-policy), the trustees sign it, the
// operator publishes it on the loopback operator API, and the transparency
// report shows it verified. A body naming another provider key or another
// log is not signed; a policy missing a signature, or published on the
// public listener, is refused.
func TestPublishPolicy(t *testing.T) {
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
	pub, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("provider-key printed %q", pubB64)
	}
	if again, _ := runOut(t, append([]string{"provider-key"}, base...)...); again != pubB64 {
		t.Fatalf("provider-key is not stable: %q then %q", pubB64, again)
	}

	f := policytest.New(t, 2, 3, []uint32{0, 1}, nil)
	p := *f.Verified.Policy
	p.Provider = ed25519.PublicKey(pub)
	p.Log = policy.LogKey{Origin: testOrigin, VerifierKey: logVKey}
	body, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "policy.body")
	os.WriteFile(bodyFile, body, 0o600)

	// Refusals to sign: another provider, another log.
	other := p
	other.Provider = f.Verified.Provider
	ob, _ := other.Marshal()
	os.WriteFile(filepath.Join(dir, "other-provider"), ob, 0o600)
	if _, err := runOut(t, append([]string{"sign-policy", "--body", filepath.Join(dir, "other-provider")}, base...)...); err == nil || !strings.Contains(err.Error(), "another provider key") {
		t.Fatalf("signed a policy naming another provider: %v", err)
	}
	other = p
	other.Log = policy.LogKey{Origin: testOrigin, VerifierKey: f.Verified.Log.VerifierKey}
	ob, _ = other.Marshal()
	os.WriteFile(filepath.Join(dir, "other-log"), ob, 0o600)
	if _, err := runOut(t, append([]string{"sign-policy", "--body", filepath.Join(dir, "other-log")}, base...)...); err == nil || !strings.Contains(err.Error(), "names the log") {
		t.Fatalf("signed a policy naming another log: %v", err)
	}

	sigJSON, err := runOut(t, append([]string{"sign-policy", "--body", bodyFile, "--json"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	var ps struct {
		Signer    string `json:"signer"`
		Signature []byte `json:"signature"`
	}
	if err := json.Unmarshal([]byte(sigJSON), &ps); err != nil || ps.Signer != policy.ProviderSigner {
		t.Fatalf("sign-policy --json: %q %v", sigJSON, err)
	}
	signed := &policy.Signed{Body: body}
	for i, tr := range p.Trustees {
		signed.Signatures = append(signed.Signatures, policy.Sign(body, tr.ID, f.Trustees[i]))
	}
	unsignedByProvider, _ := signed.Marshal()
	signed.Signatures = append(signed.Signatures, policy.Signature{Signer: ps.Signer, Sig: ps.Signature})
	if _, err := policy.Verify(signed); err != nil {
		t.Fatalf("assembled policy: %v", err)
	}
	full, _ := signed.Marshal()

	url, out := startHTTPDaylightd(t, append(base, "--keydir=false", "--admin-addr", "127.0.0.1:0")...)
	admin := adminURL(t, out.String())
	if st, b := httpDo(t, "POST", url+"/admin/v1/policy", "application/octet-stream", full); st == 200 {
		t.Fatalf("policy published on the public listener: %s", b)
	}
	if st, b := httpDo(t, "POST", admin+"/admin/v1/policy", "application/octet-stream", unsignedByProvider); st != http.StatusBadRequest {
		t.Fatalf("policy without the provider's signature: %d %s", st, b)
	}
	st, b := httpDo(t, "POST", admin+"/admin/v1/policy", "application/octet-stream", full)
	if st != 200 || !strings.Contains(string(b), `"policy_id"`) {
		t.Fatalf("publish: %d %s", st, b)
	}

	// The report's policy endpoint shows it, verified.
	deadline := time.Now().Add(time.Minute)
	for {
		st, b := httpDo(t, "GET", url+"/transparency/policy", "", nil)
		var v report.PolicyView
		if st == 200 && json.Unmarshal(b, &v) == nil && v.Verified {
			if id := policy.IDOf(body); v.PolicyID != hex.EncodeToString(id[:]) {
				t.Fatalf("policy id %s, want %x", v.PolicyID, id)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the published policy is not in the report: %d %s", st, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
