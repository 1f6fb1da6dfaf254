package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/witness"
	"golang.org/x/mod/sumdb/note"
)

// TestBuildAssemble builds a 2-of-3 policy from trustee init outputs, a
// court key, the log and a witness key; assembles it from signature lines in
// any order; the result verifies and names every key. A missing trustee
// signature or a forged one is refused and writes nothing.
func TestBuildAssemble(t *testing.T) {
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	b64 := base64.StdEncoding.EncodeToString
	provPub, provPriv, _ := ed25519.GenerateKey(rand.Reader)
	courtPub, _, _ := ed25519.GenerateKey(rand.Reader)
	os.WriteFile(path("court.pub"), []byte(b64(courtPub)+"\n"), 0o644)
	_, logV, _ := note.GenerateKey(rand.Reader, "daylight.test/log")
	wskey, _, _ := note.GenerateKey(rand.Reader, "witness.test/w0")
	wv, err := witness.CosignatureVKey(wskey)
	if err != nil {
		t.Fatal(err)
	}
	var tkeys []ed25519.PrivateKey
	args := []string{"build", "--out", path("policy.body"), "--provider", "@" + path("provider.pub"), "--k", "2",
		"--court", "court-a=A=@" + path("court.pub"), "--log-vkey", logV, "--witness", wv, "--retention-grace", "60"}
	os.WriteFile(path("provider.pub"), []byte(b64(provPub)), 0o644)
	for i := range 3 {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		tkeys = append(tkeys, priv)
		var pks []map[string]any
		for _, p := range []uint32{10, 11} {
			_, kp, _ := xwing.GenerateKeyPairPacked(rand.Reader)
			pks = append(pks, map[string]any{"period": p, "key": kp})
		}
		b, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("trustee-%d", i), "signing_key": pub, "period_keys": pks})
		f := path(fmt.Sprintf("t%d.pub.json", i))
		os.WriteFile(f, b, 0o644)
		args = append(args, "--trustee", f)
	}
	var out bytes.Buffer
	if err := run(context.Background(), args, nil, &out, &out); err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	body, _ := os.ReadFile(path("policy.body"))
	var lines []string
	lines = append(lines, "provider "+b64(policy.Sign(body, policy.ProviderSigner, provPriv).Sig))
	for i := 2; i >= 0; i-- {
		id := fmt.Sprintf("trustee-%d", i)
		lines = append(lines, id+" "+b64(policy.Sign(body, id, tkeys[i]).Sig))
	}
	assemble := func(ls []string) error {
		os.Remove(path("policy.bin"))
		os.WriteFile(path("sigs.txt"), []byte(strings.Join(ls, "\n")+"\n"), 0o644)
		var o bytes.Buffer
		return run(context.Background(), []string{"assemble", "--body", path("policy.body"), "--signatures", path("sigs.txt"), "--out", path("policy.bin")}, nil, &o, &o)
	}
	if err := assemble(lines[:3]); err == nil {
		t.Fatal("a policy without trustee-0's signature assembled")
	}
	forged := append([]string{}, lines...)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged[1] = "trustee-2 " + b64(policy.Sign(body, "trustee-2", other).Sig)
	if err := assemble(forged); err == nil {
		t.Fatal("a forged trustee signature assembled")
	}
	if _, err := os.Stat(path("policy.bin")); err == nil {
		t.Fatal("a refused assemble wrote policy.bin")
	}
	if err := assemble(lines); err != nil {
		t.Fatal(err)
	}
	pb, _ := os.ReadFile(path("policy.bin"))
	s, err := policy.ParseSigned(pb)
	if err != nil {
		t.Fatal(err)
	}
	v, err := policy.Verify(s)
	if err != nil {
		t.Fatal(err)
	}
	if v.K != 2 || len(v.Trustees) != 3 || v.Log.VerifierKey != logV || v.Log.Origin != "daylight.test/log" || v.W != 1 ||
		v.Budgets.RetentionGrace != 60 || !v.Provider.Equal(provPub) || !bytes.Equal(v.Courts[0].Key, courtPub) {
		t.Fatalf("assembled policy: %+v", v.Policy)
	}
}
