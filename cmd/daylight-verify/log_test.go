package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/witness"
	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

const origin = "daylight.test/log"

func TestMain(m *testing.M) {
	klog.LogToStderr(false) // tessera logs through klog's global logger
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

type fixture struct {
	dir       string
	skey      string
	vkey      string
	witnesses []string // vkeys
	log       *tlog.Log
}

func jan(day int) uint64 { return uint64(time.Date(2026, 1, day, 12, 0, 0, 0, time.UTC).Unix()) }

// newFixture opens a log witnessed by two in-process witnesses and appends
// a small history.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	var err error
	f.skey, f.vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(f.dir, ".daylight"), 0o700)
	os.WriteFile(filepath.Join(f.dir, ".daylight", "log.key"), []byte(f.skey), 0o600)
	lv, _ := note.NewVerifier(f.vkey)
	var ws []tlog.Witness
	for i := range 2 {
		wd := t.TempDir()
		s, wvkey, err := witness.LoadOrCreateKey(filepath.Join(wd, "key"), fmt.Sprintf("witness.test/w%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := witness.New(witness.Config{Signer: s, Logs: []witness.Log{{Origin: origin, Verifier: lv}}, Store: witness.FileStore{Dir: wd}})
		srv := httptest.NewServer(w.Handler())
		t.Cleanup(srv.Close)
		ws = append(ws, tlog.Witness{URL: srv.URL, VKey: wvkey})
		f.witnesses = append(f.witnesses, wvkey)
	}
	f.log, err = tlog.Open(context.Background(), tlog.Config{Dir: f.dir, Origin: origin, Witnesses: ws, WitnessThreshold: 2,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		f.log.Close(ctx)
	})
	wc := [32]byte{1}
	f.append(t,
		&accesslog.Policy{PolicyID: [32]byte{9}, SignedPolicy: []byte("policy"), Time: jan(1)},
		&accesslog.WarrantCommitment{Commitment: wc, Court: "court", Jurisdiction: "FR", NumTargets: 1, Filed: jan(2)},
		&accesslog.Release{WarrantCommitment: wc, Trustee: "t1", Count: 3, Time: jan(3)},
		&accesslog.Release{WarrantCommitment: wc, Trustee: "t2", Count: 4, Time: jan(3)},
		&accesslog.Release{WarrantCommitment: [32]byte{2}, Trustee: "t2", Count: 1, Time: jan(4)},
		&accesslog.Opening{WarrantCommitment: wc, Trustee: "t1", Time: uint64(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).Unix())},
		&accesslog.Evidence{Kind: accesslog.EvidenceAbuseReport, Jurisdiction: "DE", Time: jan(5)},
		&accesslog.Request{Jurisdiction: "US", State: "received", Time: jan(6)},
		&accesslog.KeyDirectory{Epoch: 1, Time: jan(7)},
	)
	return f
}

func (f *fixture) append(t *testing.T, es ...accesslog.Entry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last uint64
	for _, e := range es {
		i, err := f.log.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		last = i
	}
	if _, err := f.log.Await(ctx, last); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) args(source string, extra ...string) []string {
	a := []string{"log", "--log", source, "--log-key", f.vkey}
	for _, w := range f.witnesses {
		a = append(a, "--witness", w)
	}
	return append(a, extra...)
}

func verifyJSON(t *testing.T, args []string) (*logReport, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append(args, "--json"), nil, &out, &errb)
	if out.Len() == 0 {
		return nil, err
	}
	var rep logReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("bad JSON: %v\n%s", jerr, out.Bytes())
	}
	return &rep, err
}

func TestVerifyLogOverHTTPAndOfflineCopy(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", f.log.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// An offline copy of the served files only (no private state).
	cp := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join(f.dir, "checkpoint"), filepath.Join(f.dir, "tile"), cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for _, source := range []string{srv.URL + "/log/", cp} {
		rep, err := verifyJSON(t, f.args(source))
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if rep.Size != 9 || rep.Entries != 9 || len(rep.Cosigners) != 2 || len(rep.Malformed) != 0 {
			t.Fatalf("report: %+v", rep)
		}
		want := map[string]uint64{"Policy": 1, "WarrantCommitment": 1, "Release": 3, "Opening": 1, "Evidence": 1, "Request": 1, "KeyDirectory": 1}
		for k, v := range want {
			if rep.ByType[k] != v {
				t.Errorf("by_type[%s] = %d, want %d", k, rep.ByType[k], v)
			}
		}
		rows := map[string]periodRow{}
		for _, r := range rep.ByJurisdictionMonth {
			rows[r.Jurisdiction+" "+r.Month+" "+r.Type] = r
		}
		for key, want := range map[string][2]uint64{
			"FR 2026-01 WarrantCommitment":           {1, 0},
			"FR 2026-01 Release":                     {2, 7},
			"FR 2026-07 Opening":                     {1, 0},
			unknownJurisdiction + " 2026-01 Release": {1, 1},
			"DE 2026-01 Evidence":                    {1, 0},
			"US 2026-01 Request":                     {1, 0},
			"- 2026-01 Policy":                       {1, 0},
		} {
			if r := rows[key]; r.Count != want[0] || r.Records != want[1] {
				t.Errorf("row %q = %+v, want count %d records %d", key, r, want[0], want[1])
			}
		}
	}
	// The text report names the counts too.
	var out bytes.Buffer
	if err := run(context.Background(), f.args(cp), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cosigned by 2 of the 2 required") || !strings.Contains(out.String(), "WarrantCommitment") {
		t.Fatalf("text report:\n%s", out.String())
	}
}

func TestVerifyLogStateConsistency(t *testing.T) {
	f := newFixture(t)
	state := filepath.Join(t.TempDir(), "state")
	if rep, err := verifyJSON(t, f.args(f.dir, "--state", state)); err != nil || rep.ConsistentWithSize != nil {
		t.Fatalf("first run: %v %+v", err, rep)
	}
	f.append(t, &accesslog.Request{Jurisdiction: "US", State: "answered", Time: jan(8)})
	rep, err := verifyJSON(t, f.args(f.dir, "--state", state))
	if err != nil || rep.ConsistentWithSize == nil || *rep.ConsistentWithSize != 9 || rep.Size != 10 {
		t.Fatalf("second run: %v %+v", err, rep)
	}
	saved, _ := os.ReadFile(state)
	if !bytes.Contains(saved, []byte("\n10\n")) {
		t.Fatalf("state not advanced:\n%s", saved)
	}
}

// TestAttackForkDetectedByVerifyState: the auditor's saved checkpoint is of
// a tree the log no longer extends (the log forked or rewrote history).
func TestAttackForkDetectedByVerifyState(t *testing.T) {
	f := newFixture(t)
	signer, _ := note.NewSigner(f.skey)
	root := accesslog.LeafHash([]byte("another history"))
	forged, _ := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: origin, Size: 5, Hash: root[:]}.Marshal())}, signer)
	state := filepath.Join(t.TempDir(), "state")
	os.WriteFile(state, forged, 0o644)
	_, err := verifyJSON(t, f.args(f.dir, "--state", state))
	if err == nil || !strings.Contains(err.Error(), "not consistent") {
		t.Fatalf("fork not detected: %v", err)
	}
	if b, _ := os.ReadFile(state); !bytes.Equal(b, forged) {
		t.Fatal("state overwritten after a failed check")
	}
}

// TestAttackSplitViewVerifyRefusesUnderCosigned: a verifier that requires
// more cosignatures than the view carries refuses it.
func TestAttackSplitViewVerifyRefusesUnderCosigned(t *testing.T) {
	f := newFixture(t)
	_, other, _ := note.GenerateKey(rand.Reader, "witness.test/absent")
	args := append(f.args(f.dir), "--witness", other, "--threshold", "3")
	if _, err := verifyJSON(t, args); err == nil || !strings.Contains(err.Error(), "not enough witness cosignatures") {
		t.Fatalf("under-cosigned view accepted: %v", err)
	}
}

func TestVerifyLogDetectsTamperedCopy(t *testing.T) {
	f := newFixture(t)
	cp := t.TempDir()
	exec.Command("cp", "-r", filepath.Join(f.dir, "checkpoint"), filepath.Join(f.dir, "tile"), cp).Run()
	var bundles []string
	filepath.WalkDir(filepath.Join(cp, "tile", "entries"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			bundles = append(bundles, p)
		}
		return nil
	})
	if len(bundles) == 0 {
		t.Fatal("no entry bundle")
	}
	for _, p := range bundles {
		b, _ := os.ReadFile(p)
		b[len(b)-1] ^= 1
		os.WriteFile(p, b, 0o644)
	}
	if _, err := verifyJSON(t, f.args(cp)); err == nil || !strings.Contains(err.Error(), "do not hash to the checkpoint root") {
		t.Fatalf("tampered copy accepted: %v", err)
	}
}

// TestVerifyLogReportsMalformedEntries writes a log with tessera directly
// (bypassing tlog's check) so that it holds an entry that does not parse.
func TestVerifyLogReportsMalformedEntries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	skey, vkey, _ := note.GenerateKey(rand.Reader, origin)
	signer, _ := note.NewSigner(skey)
	d, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, shutdown, r, err := tessera.NewAppender(ctx, d, tessera.NewAppendOptions().WithCheckpointSigner(signer).
		WithBatching(1, time.Millisecond).WithCheckpointInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := accesslog.Marshal(&accesslog.Request{Jurisdiction: "US", State: "received", Time: jan(1)})
	for _, e := range [][]byte{good, []byte("DLAL\x01\x07truncated")} {
		if _, err := a.Add(ctx, tessera.NewEntry(e))(); err != nil {
			t.Fatal(err)
		}
	}
	for {
		raw, _ := r.ReadCheckpoint(ctx)
		if bytes.Contains(raw, []byte("\n2\n")) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	shutdown(ctx)
	rep, err := verifyJSON(t, []string{"log", "--log", dir, "--log-key", vkey})
	if err == nil || rep == nil || len(rep.Malformed) != 1 || rep.Malformed[0].Index != 1 || !strings.Contains(rep.Malformed[0].Error, "Request.RequestID") {
		t.Fatalf("malformed entry not reported: %v %+v", err, rep)
	}
}

func TestRunUsage(t *testing.T) {
	if err := run(context.Background(), nil, nil, io.Discard, io.Discard); err == nil {
		t.Error("no command accepted")
	}
	if err := run(context.Background(), []string{"nope"}, nil, io.Discard, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
	if err := run(context.Background(), []string{"log"}, nil, io.Discard, io.Discard); err == nil {
		t.Error("log without flags accepted")
	}
}
