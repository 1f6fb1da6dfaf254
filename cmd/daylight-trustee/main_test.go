package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
)

func TestMain(m *testing.M) {
	klog.LogToStderr(false) // tessera logs through klog's global logger
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, nil, &out, &errb)
	return out.String(), err
}

func TestInitAndKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t0")
	out, err := runCmd(t, "init", "--data", dir, "--id", "trustee-0", "--periods", "0,1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID         string      `json:"id"`
		SigningKey []byte      `json:"signing_key"`
		PeriodKeys []periodKey `json:"period_keys"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != "trustee-0" || len(got.SigningKey) != 32 || len(got.PeriodKeys) != 2 {
		t.Fatalf("init output %q: %v", out, err)
	}
	if _, err := runCmd(t, "init", "--data", dir, "--id", "trustee-0"); err == nil {
		t.Fatal("init over an existing data directory")
	}
	if _, err := runCmd(t, "keygen", "--data", dir, "--period", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "keygen", "--data", dir, "--period", "2"); !errors.Is(err, trustee.ErrKeyExists) {
		t.Fatalf("second key for a period: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "signing.key")); fi.Mode().Perm() != 0o600 {
		t.Fatal("signing key readable by others")
	}
}

// TestServeReleasesOverHTTP runs `daylight-trustee serve` in-process against
// a witnessed log and an append endpoint, and has it release a share.
func TestServeReleasesOverHTTP(t *testing.T) {
	// serve runs on the real clock: the world lives at the real time.
	now := uint64(time.Now().Unix())
	cur := uint32((now - policytest.Genesis) / policytest.PeriodLength)
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5, Now: now, Periods: []uint32{cur - 1, cur, cur + 1}})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := writeIdentity(data, "trustee-2", w.F.Trustees[2]); err != nil {
		t.Fatal(err)
	}
	st, _ := service.OpenFileStore(filepath.Join(data, "store"))
	for per, k := range w.F.PeriodKeys[2] {
		st.PutPeriodKey(context.Background(), per, k)
	}
	pb, _ := w.F.Signed.Marshal()
	os.WriteFile(filepath.Join(dir, "policy.bin"), pb, 0o644)
	accts := map[string]directoryEntry{}
	for u, k := range w.Users {
		accts[u] = directoryEntry{SignatureKey: k.Public().(ed25519.PublicKey)}
	}
	ab, _ := json.Marshal(accts)
	os.WriteFile(filepath.Join(dir, "accounts.json"), ab, 0o644)
	os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600)
	// The provider's append endpoint, as daylightd will expose it.
	appendSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(rw, "forbidden", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		idx, err := w.Log.AppendRaw(r.Context(), b)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(rw).Encode(map[string]uint64{"index": idx})
	}))
	defer appendSrv.Close()

	day := uint64(servicetest.Day)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--policy", filepath.Join(dir, "policy.bin"),
			"--log", w.LogServer.URL + "/", "--append", appendSrv.URL, "--append-token-file", filepath.Join(dir, "token"),
			"--directory", filepath.Join(dir, "accounts.json")}, nil, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line[strings.LastIndex(line, " "):])

	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}}
	c := &service.Client{URL: url}
	out, err := c.Release(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &out.Shares[0])
	if err != nil || rs.RecordID != e.Record.ID() || rs.Trustee != 2 {
		t.Fatalf("share: %+v %v", rs, err)
	}
	// The same request again is a replay.
	var ref *service.RefusalError
	if _, err := c.Release(context.Background(), req); !errors.As(err, &ref) || ref.Code != "replay" {
		t.Fatalf("replay: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestDestroyExpired(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeIdentity(data, "trustee-0", w.F.Trustees[0])
	st, _ := service.OpenFileStore(filepath.Join(data, "store"))
	for per, k := range w.F.PeriodKeys[0] {
		st.PutPeriodKey(context.Background(), per, k)
	}
	pb, _ := w.F.Signed.Marshal()
	os.WriteFile(filepath.Join(dir, "policy.bin"), pb, 0o644)
	// Period 1 ends at genesis + 60 days; lookback is 365 days.
	at := int64(servicetest.Now) + 400*servicetest.Day
	out, err := runCmd(t, "destroy-expired", "--data", data, "--policy", filepath.Join(dir, "policy.bin"), "--now", itoa(at), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ds []trustee.Destruction
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 2 {
		t.Fatalf("destroyed %d periods (%v), want 2 (periods 0 and 1)", len(ds), err)
	}
	for _, d := range ds {
		if !d.Verify(w.Pol.Trustees[0].SigningKey) {
			t.Fatal("destruction statement not signed by the trustee")
		}
		if bytes.Contains(st.Raw(), w.F.PeriodKeys[0][d.Period]) {
			t.Fatalf("key of period %d still in the store", d.Period)
		}
	}
	if !bytes.Contains(st.Raw(), w.F.PeriodKeys[0][2]) {
		t.Fatal("live key of period 2 missing from the raw dump (check is vacuous)")
	}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeIdentity(data, "trustee-0", w.F.Trustees[0])
	pb, _ := w.F.Signed.Marshal()
	os.WriteFile(filepath.Join(dir, "policy.bin"), pb, 0o644)
	os.WriteFile(filepath.Join(dir, "accounts.json"), []byte("{}"), 0o644)
	err := run(context.Background(), []string{"serve", "--addr", "0.0.0.0:0", "--data", data, "--policy", filepath.Join(dir, "policy.bin"),
		"--log", w.LogServer.URL + "/", "--append", "http://127.0.0.1:1/", "--directory", filepath.Join(dir, "accounts.json")}, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
}

// TestSignPolicy: a trustee signs a body that names it with its keys; the
// signature verifies as part of the policy; a body with another period key
// for it is refused.
func TestSignPolicy(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeIdentity(data, "trustee-1", w.F.Trustees[1])
	st, _ := service.OpenFileStore(filepath.Join(data, "store"))
	for per, k := range w.F.PeriodKeys[1] {
		st.PutPeriodKey(context.Background(), per, k)
	}
	os.WriteFile(filepath.Join(dir, "policy.body"), w.F.Signed.Body, 0o644)
	out, err := runCmd(t, "sign-policy", "--data", data, "--body", filepath.Join(dir, "policy.body"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sig struct {
		Signer    string `json:"signer"`
		Signature []byte `json:"signature"`
	}
	json.Unmarshal([]byte(out), &sig)
	signed := &policy.Signed{Body: w.F.Signed.Body}
	for _, s := range w.F.Signed.Signatures {
		if s.Signer == "trustee-1" {
			s = policy.Signature{Signer: sig.Signer, Sig: sig.Signature}
		}
		signed.Signatures = append(signed.Signatures, s)
	}
	if _, err := policy.Verify(signed); err != nil || sig.Signer != "trustee-1" {
		t.Fatalf("policy with the tool's signature: %v", err)
	}
	p, _ := policy.Parse(w.F.Signed.Body)
	p.Trustees[1].PeriodKeys[1].Key = p.Trustees[2].PeriodKeys[1].Key
	bad, _ := p.Marshal()
	os.WriteFile(filepath.Join(dir, "bad.body"), bad, 0o644)
	if _, err := runCmd(t, "sign-policy", "--data", data, "--body", filepath.Join(dir, "bad.body")); err == nil || !strings.Contains(err.Error(), "not this trustee's") {
		t.Fatalf("policy with a foreign key: %v", err)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestServeTLS: with --tls-cert/--tls-key the service speaks only HTTPS.
func TestServeTLS(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeIdentity(data, "trustee-0", w.F.Trustees[0])
	pb, _ := w.F.Signed.Marshal()
	os.WriteFile(filepath.Join(dir, "policy.bin"), pb, 0o644)
	os.WriteFile(filepath.Join(dir, "accounts.json"), []byte("{}"), 0o644)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trustee-0"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(priv)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--policy", filepath.Join(dir, "policy.bin"),
			"--log", w.LogServer.URL + "/", "--append", "http://127.0.0.1:1/", "--directory", filepath.Join(dir, "accounts.json"),
			"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem")}, nil, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line[strings.LastIndex(line, " "):])
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("listening on %q", url)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(url + "/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("info over TLS: %s", resp.Status)
	}
	// Plain HTTP to the TLS listener is answered by net/http with 400.
	if r2, err := http.Get(strings.Replace(url, "https://", "http://", 1) + "/v1/info"); err == nil {
		r2.Body.Close()
		if r2.StatusCode == http.StatusOK {
			t.Fatal("served plain HTTP next to TLS")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
