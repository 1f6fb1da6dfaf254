package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	f_log "github.com/transparency-dev/formats/log"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const origin = "example.test/daylight-log"

// fakeLog is an in-memory RFC 6962 tree with a signing key, standing in for a
// (possibly malicious) log.
type fakeLog struct {
	t      testing.TB
	signer note.Signer
	vkey   string
	tree   *testonly.Tree
}

func newFakeLog(t testing.TB, skey, vkey string) *fakeLog {
	if skey == "" {
		var err error
		skey, vkey, err = note.GenerateKey(rand.Reader, origin)
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeLog{t: t, signer: s, vkey: vkey, tree: testonly.New(rfc6962.DefaultHasher)}
}

// fork returns a log with the same key whose tree shares the first n leaves.
func (l *fakeLog) fork(n uint64, tag string) *fakeLog {
	f := &fakeLog{t: l.t, signer: l.signer, vkey: l.vkey, tree: testonly.New(rfc6962.DefaultHasher)}
	for i := uint64(0); i < n; i++ {
		f.tree.Append(l.tree.LeafHash(i))
	}
	f.grow(l.tree.Size()-n, tag)
	return f
}

func (l *fakeLog) grow(n uint64, tag string) {
	for i := uint64(0); i < n; i++ {
		l.tree.AppendData(fmt.Appendf(nil, "%s entry %d", tag, l.tree.Size()))
	}
}

func (l *fakeLog) checkpoint(size uint64) []byte {
	root := l.tree.HashAt(size)
	n, err := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal())}, l.signer)
	if err != nil {
		l.t.Fatal(err)
	}
	return n
}

// body builds an add-checkpoint request (tlog-witness) from old to size.
func (l *fakeLog) body(old, size uint64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	if old > 0 && old <= size {
		p, err := l.tree.ConsistencyProof(old, size)
		if err != nil {
			l.t.Fatal(err)
		}
		for _, h := range p {
			b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(l.checkpoint(size))
	return b.Bytes()
}

type testWitness struct {
	*Witness
	vkey string
	dir  string
	log  *fakeLog
}

func newTestWitness(t *testing.T, dir string, log *fakeLog) *testWitness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	signer, vkey, err := LoadOrCreateKey(filepath.Join(dir, "witness.key"), "witness.test/w1", nil)
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(log.vkey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Signer: signer, Logs: []Log{{Origin: origin, Verifier: lv}}, Store: FileStore{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	return &testWitness{Witness: w, vkey: vkey, dir: dir, log: log}
}

func status(err error) int {
	var we *Error
	if errors.As(err, &we) {
		return we.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

// verifyCosig checks that sigs is a valid cosignature/v1 by the witness on cp.
func verifyCosig(t *testing.T, vkey string, cp, sigs []byte) {
	t.Helper()
	v, err := f_note.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(append(append([]byte(nil), cp...), sigs...), note.VerifierList(v))
	if err != nil {
		t.Fatalf("cosignature does not verify: %v\n%s%s", err, cp, sigs)
	}
	if len(n.Sigs) != 1 {
		t.Fatalf("%d cosignatures", len(n.Sigs))
	}
	if ts, err := f_note.CoSigV1Timestamp(n.Sigs[0]); err != nil || ts.IsZero() || ts.Unix() == 0 {
		t.Fatalf("cosignature timestamp %v, %v", ts, err)
	}
}

func TestAddCheckpointCosignsConsistentGrowth(t *testing.T) {
	ctx := context.Background()
	log := newFakeLog(t, "", "")
	w := newTestWitness(t, "", log)
	old := uint64(0)
	for _, size := range []uint64{0, 1, 7, 7, 300, 1000} {
		log.grow(size-log.tree.Size(), "a")
		sigs, err := w.AddCheckpoint(ctx, log.body(old, size))
		if err != nil {
			t.Fatalf("old %d size %d: %v", old, size, err)
		}
		verifyCosig(t, w.vkey, log.checkpoint(size), sigs)
		old = size
	}
	// State survives a restart (a new Witness on the same directory).
	w2 := newTestWitness(t, w.dir, log)
	if _, err := w2.AddCheckpoint(ctx, log.body(0, 1000)); status(err) != http.StatusConflict {
		t.Fatalf("restarted witness forgot its state: %v", err)
	}
	log.grow(5, "a")
	if _, err := w2.AddCheckpoint(ctx, log.body(1000, 1005)); err != nil {
		t.Fatal(err)
	}
}

func TestAddCheckpointStatusCodes(t *testing.T) {
	ctx := context.Background()
	log := newFakeLog(t, "", "")
	log.grow(10, "a")
	other := newFakeLog(t, "", "") // same origin, a key the witness does not trust
	other.grow(10, "a")
	badSig := log.checkpoint(10)
	badSig[len(badSig)-5] ^= 1 // corrupt the base64 signature
	w := newTestWitness(t, "", log)
	if _, err := w.AddCheckpoint(ctx, log.body(0, 4)); err != nil {
		t.Fatal(err)
	}
	emptyBad, _ := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: origin, Size: 0, Hash: make([]byte, 32)}.Marshal())}, log.signer)

	tests := []struct {
		name string
		body []byte
		want int
	}{
		{"unknown origin", bytes.Replace(log.body(4, 10), []byte(origin), []byte("example.test/other"), 1), 404},
		{"untrusted key", other.body(4, 10), 403},
		{"bad signature", append([]byte("old 4\n\n"), badSig...), 403},
		{"old larger than size", log.body(10, 4), 400},
		{"no old line", []byte("\n" + string(log.checkpoint(10))), 400},
		{"leading zero", append([]byte("old 04\n"), log.body(4, 10)[6:]...), 400},
		{"bad proof line", append([]byte("old 4\n!!!\n\n"), log.checkpoint(10)...), 400},
		{"stale old size", log.body(2, 10), 409},
		{"proof with old size 0", append([]byte("old 0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"), log.checkpoint(10)...), 409},
		{"wrong proof", append([]byte("old 4\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"), log.checkpoint(10)...), 422},
		{"empty tree bad root", append([]byte("old 0\n\n"), emptyBad...), 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.AddCheckpoint(ctx, tt.body)
			if got := status(err); got != tt.want {
				t.Fatalf("status %d (%v), want %d", got, err, tt.want)
			}
		})
	}
	// On a fresh witness, the size-0 cases reach their own checks.
	w0 := newTestWitness(t, "", log)
	if _, err := w0.AddCheckpoint(ctx, append([]byte("old 0\n\n"), emptyBad...)); status(err) != 422 {
		t.Errorf("empty tree with a non-empty root: %v", err)
	}
	if _, err := w0.AddCheckpoint(ctx, append([]byte("old 0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"), log.checkpoint(10)...)); status(err) != 422 {
		t.Errorf("proof with old size 0: %v", err)
	}
}

func TestHandlerSpeaksTlogWitness(t *testing.T) {
	log := newFakeLog(t, "", "")
	log.grow(3, "a")
	w := newTestWitness(t, "", log)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	post := func(body []byte) (*http.Response, []byte) {
		resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := post(log.body(0, 3))
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "— witness.test/w1 ") {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	verifyCosig(t, w.vkey, log.checkpoint(3), b)
	resp, b = post(log.body(0, 3))
	if resp.StatusCode != 409 || resp.Header.Get("Content-Type") != "text/x.tlog.size" || string(b) != "3\n" {
		t.Fatalf("conflict: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	// Monitoring endpoint: latest cosigned checkpoint with both signatures.
	r, err := http.Get(srv.URL + "/" + originHash(origin) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !bytes.HasPrefix(cp, log.checkpoint(3)[:40]) || !bytes.Contains(cp, []byte("— witness.test/w1")) {
		t.Fatalf("monitoring: %d %q", r.StatusCode, cp)
	}
}

// TestAttackRollbackRefused: a log (or anyone holding an old checkpoint)
// asks the witness to cosign a smaller tree than it already cosigned.
func TestAttackRollbackRefused(t *testing.T) {
	ctx := context.Background()
	log := newFakeLog(t, "", "")
	log.grow(10, "a")
	w := newTestWitness(t, "", log)
	if _, err := w.AddCheckpoint(ctx, log.body(0, 10)); err != nil {
		t.Fatal(err)
	}
	// Claiming the witness is at 5 and submitting 5: conflict, with the true size.
	_, err := w.AddCheckpoint(ctx, log.body(5, 5))
	var we *Error
	if !errors.As(err, &we) || we.Status != 409 || string(we.Body) != "10\n" || !errors.Is(err, ErrSizeConflict) {
		t.Fatalf("rollback to 5: %v", err)
	}
	// Honest old size, smaller checkpoint: 400.
	if _, err := w.AddCheckpoint(ctx, log.body(10, 5)); status(err) != 400 || !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback with old 10: %v", err)
	}
	if cp, _ := w.Latest(origin); !bytes.Contains(cp, []byte("\n10\n")) {
		t.Fatalf("state changed: %s", cp)
	}
}

// TestAttackForkRefused: the log signs a second tree that shares only a
// prefix with the one the witness cosigned.
func TestAttackForkRefused(t *testing.T) {
	ctx := context.Background()
	log := newFakeLog(t, "", "")
	log.grow(10, "a")
	w := newTestWitness(t, "", log)
	if _, err := w.AddCheckpoint(ctx, log.body(0, 10)); err != nil {
		t.Fatal(err)
	}
	fork := log.fork(5, "forked") // same key, same size 10, different entries 5..9
	if bytes.Equal(fork.tree.HashAt(10), log.tree.HashAt(10)) {
		t.Fatal("fork has the same root")
	}
	if _, err := w.AddCheckpoint(ctx, fork.body(10, 10)); status(err) != 422 || !errors.Is(err, ErrInconsistent) {
		t.Fatalf("same-size fork: %v", err)
	}
	fork.grow(6, "forked")
	if _, err := w.AddCheckpoint(ctx, fork.body(10, 16)); status(err) != 422 {
		t.Fatalf("larger fork with its own proof: %v", err)
	}
	// The honest continuation is still accepted.
	log.grow(6, "a")
	if _, err := w.AddCheckpoint(ctx, log.body(10, 16)); err != nil {
		t.Fatal(err)
	}
}

// TestAttackSplitViewWitnessRefusesSecondTree: the log shows tree A to one
// party and tree B to another; both views need the witness's cosignature, and
// the witness gives it to the first only.
func TestAttackSplitViewWitnessRefusesSecondTree(t *testing.T) {
	ctx := context.Background()
	viewA := newFakeLog(t, "", "")
	viewA.grow(20, "view A")
	viewB := viewA.fork(0, "view B")
	w := newTestWitness(t, "", viewA)
	if _, err := w.AddCheckpoint(ctx, viewA.body(0, 20)); err != nil {
		t.Fatal(err)
	}
	for _, old := range []uint64{0, 20} {
		if _, err := w.AddCheckpoint(ctx, viewB.body(old, 20)); err == nil {
			t.Fatalf("witness cosigned the second view (old %d)", old)
		}
	}
}

// FuzzParseRequest: any add-checkpoint body that parses re-encodes to the
// same bytes (strict decimal and strict base64, no slack).
func FuzzParseRequest(f *testing.F) {
	log := newFakeLog(f, "", "")
	log.grow(40, "a")
	f.Add(log.body(0, 3))
	f.Add(log.body(3, 40))
	f.Add([]byte("old 0\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseRequest(body)
		if err != nil {
			return
		}
		if len(r.proof) > maxProofLines {
			t.Fatalf("%d proof lines", len(r.proof))
		}
		if out := r.marshal(); !bytes.Equal(out, body) {
			t.Fatalf("round trip differs:\n%q\n%q", body, out)
		}
	})
}

// TestMLDSA44Cosignatures: a witness with a post-quantum key returns
// ML-DSA-44 cosignature/v1 signatures (type 0x06) that verify with its vkey.
func TestMLDSA44Cosignatures(t *testing.T) {
	ctx := context.Background()
	log := newFakeLog(t, "", "")
	log.grow(12, "a")
	dir := t.TempDir()
	signer, vkey, err := LoadOrCreateKeyOfType(filepath.Join(dir, "key"), "witness.test/pq", MLDSA44, nil)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(vkey, "+", 3)[2]); len(raw) != 1+1312 || raw[0] != 0x06 {
		t.Fatalf("vkey is not an ML-DSA-44 cosignature key: %d bytes", len(raw))
	}
	// Reloading gives the same key.
	if _, vkey2, err := LoadOrCreateKeyOfType(filepath.Join(dir, "key"), "witness.test/pq", Ed25519, nil); err != nil || vkey2 != vkey {
		t.Fatalf("reload: %v", err)
	}
	lv, _ := note.NewVerifier(log.vkey)
	w, err := New(Config{Signer: signer, Logs: []Log{{Origin: origin, Verifier: lv}}, Store: FileStore{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := w.AddCheckpoint(ctx, log.body(0, 12))
	if err != nil {
		t.Fatal(err)
	}
	verifyCosig(t, vkey, log.checkpoint(12), sigs)
	log.grow(3, "a")
	if _, err := w.AddCheckpoint(ctx, log.body(12, 15)); err != nil {
		t.Fatal(err)
	}
}
