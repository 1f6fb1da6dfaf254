package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/authority/authoritytest"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
)

// caseQuietLogs keeps tessera's klog output (a global logger) out of test
// output without a TestMain, which this package's other files may define.
func caseQuietLogs() {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

func runCaseCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"case"}, args...), nil, &out, &errb)
	return out.String() + errb.String(), err
}

// TestCaseCommandsEndToEnd: keygen; file a court-signed warrant through the
// provider's append endpoint; collect from five trustees over HTTP (k = 3);
// bundle; the bundle verifies offline.
func TestCaseCommandsEndToEnd(t *testing.T) {
	caseQuietLogs()
	now := uint64(time.Now().Unix())
	cur := uint32((now - policytest.Genesis) / policytest.PeriodLength)
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5, Now: now, Periods: []uint32{cur - 1, cur, cur + 1}})
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }

	// keygen makes keys and prints the public half for the court.
	out, err := runCaseCmd(t, "keygen", "--out", path("fresh.keys"), "--name", "federal-police")
	if err != nil {
		t.Fatal(err)
	}
	var pub authority.PublicKeys
	if err := json.Unmarshal([]byte(out), &pub); err != nil || len(pub.KEMKey) != 1216 || len(pub.SigningKey) != 32 {
		t.Fatalf("keygen output: %v", err)
	}
	if _, err := runCaseCmd(t, "keygen", "--out", path("fresh.keys"), "--name", "x"); err == nil {
		t.Fatal("keygen overwrote keys")
	}
	// The world's warrant names the world's authority keys: use those.
	keys := &authority.Keys{Name: "federal-police", KEMPriv: w.AuthKEMPriv, KEMPub: w.AuthKEMPub, Sign: w.AuthSign}
	kb, _ := keys.Marshal()
	os.WriteFile(path("authority.keys"), kb, 0o600)
	pb, _ := w.F.Signed.Marshal()
	os.WriteFile(path("policy.bin"), pb, 0o644)
	os.WriteFile(path("warrant.signed"), w.SignWarrant(nil, nil).Marshal(), 0o644)
	day := uint64(servicetest.Day)
	e1 := w.Epoch("g-ab", 3, now-3*day, now-2*day, "alice", "bob")
	e2 := w.Epoch("g-ac", 7, now-day, 0, "alice", "carol")
	rb, _ := json.Marshal([]service.RecordRequest{{Record: e1.Request.Record, EpochEvidence: e1.Request.EpochEvidence}, {Record: e2.Request.Record, EpochEvidence: e2.Request.EpochEvidence}})
	os.WriteFile(path("records.json"), rb, 0o644)
	appendSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		idx, err := w.Log.AppendRaw(r.Context(), b)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(rw).Encode(map[string]uint64{"index": idx})
	}))
	defer appendSrv.Close()
	logURL := w.LogServer.URL + "/"

	if out, err := runCaseCmd(t, "file", "--keys", path("authority.keys"), "--policy", path("policy.bin"), "--warrant", path("warrant.signed"),
		"--records", path("records.json"), "--log", logURL, "--append", appendSrv.URL, "--out", path("case.json")); err != nil {
		t.Fatalf("file: %v\n%s", err, out)
	}
	args := []string{"collect", "--keys", path("authority.keys"), "--case", path("case.json"), "--log", logURL}
	for i, srv := range w.Servers {
		args = append(args, "--trustee", w.Pol.Trustees[i].ID+"="+srv.URL)
	}
	out, err = runCaseCmd(t, args...)
	if err != nil || strings.Count(out, "released:") != 3 {
		t.Fatalf("collect: %v\n%s", err, out)
	}

	// The delivery service's retained ciphertext and epoch states.
	s := authoritytest.NewScenario(w)
	var retained bytes.Buffer
	for _, m := range []authority.Retained{
		s.Seal(e1, "alice", (now-3*day)*1000+5, "first", false),
		s.Seal(e2, "carol", (now-day)*1000+5, "second <i>", true),
		s.SealAs(e2, "carol", "alice", (now-day)*1000+9, "forged"),
	} {
		b, _ := json.Marshal(m)
		retained.Write(append(b, '\n'))
	}
	os.WriteFile(path("retained.jsonl"), retained.Bytes(), 0o644)
	states := map[string]*authority.EpochState{}
	for _, e := range []*servicetest.Epoch{e1, e2} {
		st, err := s.States(e.Record.Context.GroupID, e.Record.Context.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		states[caseStateKey(e.Record.Context.GroupID, e.Record.Context.Epoch)] = st
	}
	sb, _ := json.Marshal(states)
	os.WriteFile(path("states.json"), sb, 0o644)
	out, err = runCaseCmd(t, "decrypt", "--keys", path("authority.keys"), "--case", path("case.json"), "--log", logURL,
		"--retained", path("retained.jsonl"), "--states", path("states.json"), "--out", path("messages.jsonl"))
	if err != nil || !strings.Contains(out, "decrypted 2 messages") || !strings.Contains(out, "rejected: retained[2]") {
		t.Fatalf("decrypt: %v\n%s", err, out)
	}
	// A delivery service that attributes a leaf to another account in its
	// epoch state contradicts the member-signed statement the trustees
	// verified: that epoch's messages are rejected, not bundled.
	k1 := caseStateKey(e1.Record.Context.GroupID, e1.Record.Context.Epoch)
	lied := *states[k1]
	lied.Members = map[uint32]authority.Member{}
	for leaf, m := range states[k1].Members {
		if m.Account == "alice" {
			m.Account = "mallory"
		}
		lied.Members[leaf] = m
	}
	states[k1] = &lied
	sb, _ = json.Marshal(states)
	os.WriteFile(path("states.lied.json"), sb, 0o644)
	out, err = runCaseCmd(t, "decrypt", "--keys", path("authority.keys"), "--case", path("case.json"), "--log", logURL,
		"--retained", path("retained.jsonl"), "--states", path("states.lied.json"), "--out", path("messages.lied.jsonl"))
	if err != nil || !strings.Contains(out, "decrypted 1 messages") || !strings.Contains(out, "not the member-signed statement's") {
		t.Fatalf("decrypt with a lying epoch state: %v\n%s", err, out)
	}
	out, err = runCaseCmd(t, "bundle", "--keys", path("authority.keys"), "--case", path("case.json"), "--log", logURL,
		"--messages", path("messages.jsonl"), "--out", path("bundle.zip"), "--append", appendSrv.URL)
	if err != nil {
		t.Fatalf("bundle: %v\n%s", err, out)
	}
	if strings.Contains(out, "LIARS") || !strings.Contains(out, "digest logged") {
		t.Fatalf("bundle output:\n%s", out)
	}
	rep, err := evidence.VerifyPath(path("bundle.zip"), evidence.Options{AuthorityKey: keys.Public().SigningKey})
	if err != nil || rep.Messages != 2 {
		t.Fatalf("bundle verify: %v %+v", err, rep)
	}
}

func TestCaseCommandsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no sub":        {},
		"unknown sub":   {"frobnicate"},
		"file no flags": {"file"},
		"missing case":  {"collect", "--keys", "x", "--case", filepath.Join(dir, "none.json"), "--log", dir},
		"bundle no out": {"bundle", "--keys", "x"},
	} {
		if _, err := runCaseCmd(t, args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	os.WriteFile(filepath.Join(dir, "case.json"), []byte(`{"format":"daylight-authority-case/1","junk":1}`), 0o644)
	if _, err := runCaseCmd(t, "collect", "--keys", "x", "--case", filepath.Join(dir, "case.json"), "--log", dir); err == nil {
		t.Error("malformed case accepted")
	}
}
