package tlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/witness"
	f_log "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "daylight.test/log"

type testWitnessServer struct {
	vkey string
	srv  *httptest.Server
	w    *witness.Witness
}

// startWitnesses starts n in-process Ed25519 witnesses that trust logVKey.
func startWitnesses(t testing.TB, n int, logVKey string) []*testWitnessServer {
	t.Helper()
	var out []*testWitnessServer
	for i := range n {
		out = append(out, startWitness(t, fmt.Sprintf("witness.test/w%d", i), witness.Ed25519, logVKey))
	}
	return out
}

func startWitness(t testing.TB, name string, typ witness.KeyType, logVKey string) *testWitnessServer {
	t.Helper()
	lv, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, vkey, err := witness.LoadOrCreateKeyOfType(filepath.Join(dir, "key"), name, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Signer: s, Logs: []witness.Log{{Origin: testOrigin, Verifier: lv}}, Store: witness.FileStore{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return &testWitnessServer{vkey: vkey, srv: srv, w: w}
}

// newLogKey generates the log key into dir (as Open would on first start) so
// witnesses can be configured before the log opens.
func newLogKey(t testing.TB, dir string) (skey, vkey string) {
	t.Helper()
	s, v, err := loadOrCreateLogKey(filepath.Join(dir, ".daylight", "log.key"), testOrigin, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_ = s
	b, _ := os.ReadFile(filepath.Join(dir, ".daylight", "log.key"))
	return strings.TrimSpace(string(b)), v
}

func witnessConfig(ws []*testWitnessServer) []Witness {
	var out []Witness
	for _, w := range ws {
		out = append(out, Witness{URL: w.srv.URL, VKey: w.vkey})
	}
	return out
}

func sampleEntry(i int) accesslog.Entry {
	var c [32]byte
	copy(c[:], fmt.Sprintf("warrant %d", i))
	switch i % 3 {
	case 0:
		return &accesslog.WarrantCommitment{Commitment: c, Court: "court.example", Jurisdiction: "FR", NumTargets: 1, WindowStart: 1, WindowEnd: 2, EmbargoEnd: 3, Filed: 1764000000 + uint64(i)}
	case 1:
		return &accesslog.Release{WarrantCommitment: c, Trustee: "trustee.example", Count: 3, Time: 1764000000 + uint64(i), Signature: []byte("sig")}
	default:
		return &accesslog.Evidence{Kind: accesslog.EvidenceBundle, Digest: c, Jurisdiction: "DE", Time: 1764000000 + uint64(i), Ref: "case"}
	}
}

func openTestLog(t testing.TB, dir string, ws []*testWitnessServer, threshold int) *Log {
	t.Helper()
	l, err := Open(context.Background(), Config{Dir: dir, Origin: testOrigin, Witnesses: witnessConfig(ws), WitnessThreshold: threshold,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		l.Close(ctx)
	})
	return l
}

func TestAppendAwaitServeAndVerify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, vkey := newLogKey(t, dir)
	ws := startWitnesses(t, 3, vkey)
	l := openTestLog(t, dir, ws, 2)
	if l.VKey() != vkey {
		t.Fatalf("VKey %q, want %q", l.VKey(), vkey)
	}
	if fi, err := os.Stat(filepath.Join(dir, ".daylight", "log.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log key file: %v %v", fi, err)
	}

	var entries [][]byte
	var last uint64
	for i := range 40 {
		idx, err := l.Append(ctx, sampleEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		if idx != uint64(i) {
			t.Fatalf("index %d, want %d", idx, i)
		}
		b, _ := accesslog.Marshal(sampleEntry(i))
		entries = append(entries, b)
		last = idx
		if i == 9 {
			if _, err := l.Await(ctx, idx); err != nil {
				t.Fatal(err)
			}
		}
	}
	first, err := l.Policy().Verify(mustCheckpoint(t, l))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Await(ctx, last); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, source := range []string{srv.URL + "/log/", dir} {
		c, err := NewClient(source, l.Policy(), nil)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := c.Checkpoint(ctx)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if cp.Size != 40 || len(cp.Cosigners) < 2 {
			t.Fatalf("checkpoint size %d, cosigners %v", cp.Size, cp.Cosigners)
		}
		for i, e := range entries {
			if err := c.VerifyEntry(ctx, cp, uint64(i), e); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.VerifyEntry(ctx, cp, 3, entries[4]); !errors.Is(err, accesslog.ErrNotIncluded) {
			t.Fatalf("wrong entry at index 3 verified: %v", err)
		}
		tp, err := c.Proof(ctx, cp, 17)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := accesslog.ParseProof(tp.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Policy().VerifyProof(parsed, entries[17]); err != nil {
			t.Fatalf("tlog-proof: %v", err)
		}
		if err := c.VerifyConsistency(ctx, first, cp); err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := c.Entries(ctx, cp, func(i uint64, e []byte) error {
			if !bytes.Equal(e, entries[i]) {
				return fmt.Errorf("entry %d differs", i)
			}
			n++
			return nil
		}); err != nil || n != 40 {
			t.Fatalf("Entries: %d, %v", n, err)
		}
	}
	// Appending garbage is refused before it reaches the log.
	if _, err := l.AppendRaw(ctx, []byte("DLAL\x01\x03short")); !errors.Is(err, accesslog.ErrTruncated) {
		t.Fatalf("malformed entry: %v", err)
	}
}

func mustCheckpoint(t testing.TB, l *Log) []byte {
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestNoCheckpointPublishedWithoutWitnessQuorum(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, vkey := newLogKey(t, dir)
	ws := startWitnesses(t, 2, vkey)
	l := openTestLog(t, dir, ws, 2) // a new log publishes its empty tree, witnessed
	ws[1].srv.Close()               // then one of the two required witnesses goes down
	if _, err := l.Append(ctx, sampleEntry(0)); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if cp, err := l.Await(actx, 0); err == nil {
		t.Fatalf("a checkpoint was published with 1 of 2 cosignatures:\n%s", cp)
	}
}

// TestAttackSplitViewVerifierRefusesUncosignedView: the log operator (who
// holds the log key) signs a second tree of the same size for one party. The
// witnesses refuse to cosign it, so the view carries only the log signature
// (and perhaps a cosignature from a witness outside the policy); a trustee
// or client requiring w cosignatures refuses it (T4).
func TestAttackSplitViewVerifierRefusesUncosignedView(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	skey, vkey := newLogKey(t, dir)
	ws := startWitnesses(t, 2, vkey)
	l := openTestLog(t, dir, ws, 2)
	for i := range 10 {
		if _, err := l.Append(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	honest, err := l.Await(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	hcp, err := l.Policy().Verify(honest)
	if err != nil {
		t.Fatal(err)
	}

	// The second view: same size, different root, signed with the log key.
	signer, _ := note.NewSigner(skey)
	fakeRoot := accesslog.LeafHash([]byte("the view shown to the second party"))
	forged, err := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: testOrigin, Size: hcp.Size, Hash: fakeRoot[:]}.Marshal())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	// Witnesses refuse it, whatever old size the log claims.
	for _, w := range ws {
		for _, old := range []uint64{0, hcp.Size} {
			body := fmt.Appendf(nil, "old %d\n\n%s", old, forged)
			resp, err := http.Post(w.srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("witness answered %d to the second view (old %d)", resp.StatusCode, old)
			}
		}
	}
	// A witness outside the policy, run by the attacker, cosigns it anyway.
	rogue := startWitnesses(t, 1, vkey)[0]
	resp, err := http.Post(rogue.srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(fmt.Appendf(nil, "old 0\n\n%s", forged)))
	if err != nil {
		t.Fatal(err)
	}
	var sig bytes.Buffer
	sig.ReadFrom(resp.Body)
	resp.Body.Close()
	view := append(append([]byte(nil), forged...), sig.Bytes()...)
	if _, err := l.Policy().Verify(view); !errors.Is(err, accesslog.ErrNotEnoughCosignatures) {
		t.Fatalf("verifier accepted the second view: %v", err)
	}
	// Grafting the honest checkpoint's cosignatures onto the forged body fails too.
	_, sigs, _ := bytes.Cut(honest, []byte("\n\n"))
	graft := append(append([]byte(nil), forged...), sigs...)
	if _, err := l.Policy().Verify(graft); err == nil {
		t.Fatal("verifier accepted grafted cosignatures")
	}
}

func TestHandlerServesOnlyTlogTiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTestLog(t, dir, nil, 0)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			if _, err := l.Append(ctx, sampleEntry(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := l.Await(ctx, 299); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	for path, want := range map[string]int{
		"/checkpoint":                     200,
		"/tile/0/000":                     200,
		"/tile/0/001.p/44":                200,
		"/tile/entries/000":               200,
		"/tile/entries/001.p/44":          200,
		"/tile/1/000.p/1":                 200,
		"/tile/0/0":                       404, // not canonical
		"/tile/0/../../.daylight/log.key": 404,
		"/.daylight/log.key":              404,
		"/.state/treeState":               404,
		"/tile/64/000":                    404,
		"/":                               404,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if want == 200 && path == "/checkpoint" && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("checkpoint content type %q", resp.Header.Get("Content-Type"))
		}
	}
	resp, err := http.Post(srv.URL+"/checkpoint", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestOpenWithExternalSigner(t *testing.T) {
	ctx := context.Background()
	skey, vkey, _ := note.GenerateKey(rand.Reader, testOrigin)
	signer, _ := note.NewSigner(skey)
	_, otherVKey, _ := note.GenerateKey(rand.Reader, testOrigin)
	if _, err := Open(ctx, Config{Dir: t.TempDir(), Origin: testOrigin, Signer: signer, VerifierKey: otherVKey}); err == nil {
		t.Fatal("mismatching VerifierKey accepted")
	}
	if _, err := Open(ctx, Config{Dir: t.TempDir(), Origin: "daylight.test/other", Signer: signer}); err == nil {
		t.Fatal("signer named for another origin accepted")
	}
	dir := t.TempDir()
	l, err := Open(ctx, Config{Dir: dir, Origin: testOrigin, Signer: signer, VerifierKey: vkey, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if l.VKey() != vkey || l.Policy() == nil {
		t.Fatalf("VKey %q, policy %v", l.VKey(), l.Policy())
	}
	if _, err := os.Stat(filepath.Join(dir, ".daylight", "log.key")); err == nil {
		t.Fatal("a key file was written although a Signer was given")
	}
}

// TestPostQuantumWitness: the log publishes with one ML-DSA-44 and one
// Ed25519 witness (2 of 2), and clients verify both cosignature types.
func TestPostQuantumWitness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, vkey := newLogKey(t, dir)
	ws := []*testWitnessServer{
		startWitness(t, "witness.test/pq", witness.MLDSA44, vkey),
		startWitness(t, "witness.test/classic", witness.Ed25519, vkey),
	}
	l := openTestLog(t, dir, ws, 2)
	idx, err := l.Append(ctx, sampleEntry(1))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := l.Await(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := l.Policy().Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Cosigners) != 2 || cp.Cosigners[0] != "witness.test/pq" {
		t.Fatalf("cosigners %v", cp.Cosigners)
	}
}

func TestParseWitness(t *testing.T) {
	_, vkey, _ := note.GenerateKey(rand.Reader, "witness.test/w1")
	w, err := ParseWitness("http://127.0.0.1:8701=" + vkey)
	if err != nil || w.URL != "http://127.0.0.1:8701" || w.VKey != vkey {
		t.Fatalf("%+v %v", w, err)
	}
	for _, bad := range []string{"", "http://127.0.0.1:8701", "=" + vkey, "ftp://x=" + vkey, "http://127.0.0.1:8701=nope"} {
		if _, err := ParseWitness(bad); err == nil {
			t.Errorf("ParseWitness(%q) accepted", bad)
		}
	}
}
