package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	f_log "github.com/transparency-dev/formats/log"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const origin = "daylight.test/log"

// TestMain re-execs the test binary as the witness process when asked.
func TestMain(m *testing.M) {
	if args := os.Getenv("DAYLIGHT_WITNESS_CHILD_ARGS"); args != "" {
		if err := run(context.Background(), strings.Split(args, "\x1f"), os.Stdin, io.Discard, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunRejectsBadFlags(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{},
		{"--data", t.TempDir()},
		{"--data", t.TempDir(), "--log", "no-equals-sign"},
		{"--data", t.TempDir(), "--log", origin + "=not-a-vkey"},
		{"--data", t.TempDir(), "extra"},
		{"--data", t.TempDir(), "--key-type", "rsa", "--log", origin + "=" + testVKey(t)},
	} {
		if err := run(ctx, args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir, logVKey string) *child {
	t.Helper()
	addrFile := filepath.Join(dir, "addr")
	os.Remove(addrFile)
	args := []string{"--addr", "127.0.0.1:0", "--addr-file", addrFile, "--data", dir, "--name", "witness.test/w", "--log", origin + "=" + logVKey}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DAYLIGHT_WITNESS_CHILD_ARGS="+strings.Join(args, "\x1f"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 500 {
		if b, err := os.ReadFile(addrFile); err == nil {
			return &child{cmd: cmd, addr: "http://" + strings.TrimSpace(string(b))}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("witness child did not start")
	return nil
}

func (c *child) kill(t *testing.T) {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

type fakeLog struct {
	mu     sync.Mutex
	signer note.Signer
	tree   *testonly.Tree
}

func (l *fakeLog) body(t *testing.T, old, size uint64) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	if old > 0 {
		p, err := l.tree.ConsistencyProof(old, size)
		if err != nil {
			t.Error(err)
		}
		for _, h := range p {
			b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
		}
	}
	b.WriteString("\n")
	n, _ := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: origin, Size: size, Hash: l.tree.HashAt(size)}.Marshal())}, l.signer)
	b.Write(n)
	return b.Bytes()
}

// TestAttackWitnessSIGKILLMidCosign runs the witness as a real process, has
// four clients race add-checkpoint requests at it, kills it with SIGKILL in
// the middle, and restarts it, three times. After each restart the witness's
// state must be a checkpoint it really cosigned, no older than any
// cosignature it returned (nothing acknowledged is lost), and it must keep
// cosigning consistent growth from there while refusing a rollback.
func TestAttackWitnessSIGKILLMidCosign(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	lv, _ := note.NewVerifier(vkey)
	log := &fakeLog{signer: s, tree: testonly.New(rfc6962.DefaultHasher)}
	for i := range 50000 {
		log.tree.AppendData(fmt.Appendf(nil, "entry %d", i))
	}
	hash := sha256.Sum256([]byte(origin))

	var maxAcked uint64
	for round := range 3 {
		c := startChild(t, dir, vkey)
		wvkey, _ := os.ReadFile(filepath.Join(dir, "witness.vkey"))
		wv, err := f_note.NewVerifierForCosignatureV1(strings.TrimSpace(string(wvkey)))
		if err != nil {
			t.Fatal(err)
		}
		// State after restart.
		resp, err := http.Get(c.addr + "/" + hex.EncodeToString(hash[:]) + "/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		state, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var cur uint64
		if round > 0 {
			n, err := note.Open(state, note.VerifierList(lv, wv))
			if err != nil || len(n.Sigs) != 2 {
				t.Fatalf("round %d: stored state is not a checkpoint cosigned by the witness: %v\n%s", round, err, state)
			}
			var cp f_log.Checkpoint
			if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
				t.Fatal(err)
			}
			if cp.Size < maxAcked {
				t.Fatalf("round %d: witness restarted at size %d but had acknowledged %d", round, cp.Size, maxAcked)
			}
			if !bytes.Equal(cp.Hash, log.tree.HashAt(cp.Size)) {
				t.Fatalf("round %d: stored root is not the log's", round)
			}
			cur = cp.Size
			// A rollback is still refused after the restart.
			if cur > 1 {
				r, _ := http.Post(c.addr+"/add-checkpoint", "text/plain", bytes.NewReader(log.body(t, cur-1, cur-1)))
				r.Body.Close()
				if r.StatusCode != http.StatusConflict {
					t.Fatalf("rollback after restart: %d", r.StatusCode)
				}
			}
		} else if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("fresh witness serves a checkpoint: %d", resp.StatusCode)
		}

		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		acks := 0
		for g := range 4 {
			wg.Go(func() {
				old := cur
				for {
					select {
					case <-stop:
						return
					default:
					}
					step, _ := rand.Int(rand.Reader, big.NewInt(20))
					size := old + 1 + step.Uint64() + uint64(g)
					if size > log.tree.Size() {
						return
					}
					r, err := http.Post(c.addr+"/add-checkpoint", "text/plain", bytes.NewReader(log.body(t, old, size)))
					if err != nil {
						return // killed
					}
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					switch r.StatusCode {
					case http.StatusOK:
						cp := append(log.body(t, 0, size)[len("old 0\n\n"):], b...)
						if _, err := note.Open(cp, note.VerifierList(wv)); err != nil {
							t.Errorf("bad cosignature: %v", err)
						}
						mu.Lock()
						maxAcked = max(maxAcked, size)
						acks++
						mu.Unlock()
						old = size
					case http.StatusConflict:
						old, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
					default:
						t.Errorf("status %d: %s", r.StatusCode, b)
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(300+200*round) * time.Millisecond)
		c.kill(t)
		close(stop)
		wg.Wait()
		if acks == 0 {
			t.Fatalf("round %d: no cosignature before the kill", round)
		}
		t.Logf("round %d: %d cosignatures, max acknowledged size %d", round, acks, maxAcked)
	}
	// Final restart: consistent growth from the stored state is cosigned.
	c := startChild(t, dir, vkey)
	resp, err := http.Post(c.addr+"/add-checkpoint", "text/plain", bytes.NewReader(log.body(t, 0, log.tree.Size())))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	old, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if resp.StatusCode != http.StatusConflict || old < maxAcked {
		t.Fatalf("final restart: %d %q (acknowledged %d)", resp.StatusCode, b, maxAcked)
	}
	resp, err = http.Post(c.addr+"/add-checkpoint", "text/plain", bytes.NewReader(log.body(t, old, log.tree.Size())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consistent growth after restarts refused: %d", resp.StatusCode)
	}
}

func testVKey(t *testing.T) string {
	_, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}
