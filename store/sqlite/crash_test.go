package sqlite_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/store/sqlite"
)

const crashGroups = 3

// TestKillNineKeepsAcknowledged runs a child process that sends messages as
// fast as it can and prints each one the service acknowledged, kills it with
// SIGKILL at a random moment, 20 times, then checks on the reopened database
// that every acknowledged message is there exactly once, with the sequence
// number it was acknowledged with, and that the invariants hold.
func TestKillNineKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs 20 child processes; skipped with -short")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "daylight.db")
	st := open(t, path)
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	if err != nil {
		t.Fatal(err)
	}
	reg := func(name string) dstest.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "", pub))})
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}
	}
	alice, bob := reg("alice"), reg("bob")
	for g := range crashGroups {
		gid := fmt.Appendf(nil, "crash-%d", g)
		if _, err := svc.CreateGroup(ctx, ds.Principal{Username: "alice", Device: alice.Device}, dstest.GroupInfo(gid, alice)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Send(ctx, ds.Principal{Username: "alice", Device: alice.Device}, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}), nil); err != nil {
			t.Fatal(err)
		}
	}
	svc.Close()
	st.Close()

	type ack struct {
		group int
		seq   uint64
	}
	acked := map[string]ack{}
	for run := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), "DS_CRASH_DB="+path, "DS_CRASH_DEVICE="+strconv.FormatInt(int64(alice.Device), 10), "DS_CRASH_RUN="+strconv.Itoa(run))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		var readers sync.WaitGroup
		readers.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		})
		n, _ := rand.Int(rand.Reader, big.NewInt(250))
		deadline := time.After(time.Duration(100+n.Int64()) * time.Millisecond)
		started := false
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("run %d: child exited early", run)
				}
				if strings.HasPrefix(l, "ACK ") {
					started = true
					f := strings.Fields(l)
					g, _ := strconv.Atoi(f[1])
					seq, _ := strconv.ParseUint(f[2], 10, 64)
					if _, dup := acked[f[3]]; dup {
						t.Fatalf("run %d: message %s acknowledged twice", run, f[3])
					}
					acked[f[3]] = ack{g, seq}
				}
			case <-deadline:
				if started {
					break wait
				}
				deadline = time.After(20 * time.Millisecond)
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		// Lines already written to the pipe were acknowledged before the kill.
		for l := range lines {
			if strings.HasPrefix(l, "ACK ") {
				f := strings.Fields(l)
				g, _ := strconv.Atoi(f[1])
				seq, _ := strconv.ParseUint(f[2], 10, 64)
				acked[f[3]] = ack{g, seq}
			}
		}
		readers.Wait()
		cmd.Wait()
	}
	if len(acked) < 100 {
		t.Fatalf("only %d messages acknowledged across 20 runs: the child did not get going", len(acked))
	}

	st = open(t, path)
	defer st.Close()
	problems, err := st.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("invariant violated after crashes: %s", p)
	}
	seen := map[string]bool{}
	lastSeq := map[string]uint64{}
	var cur uint64
	for {
		pg, err := st.Fetch(ctx, bob.Device, cur, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range pg.Deliveries {
			if d.Kind != ds.KindApplication {
				continue
			}
			key := hex.EncodeToString(d.Data)
			if seen[key] {
				t.Fatalf("message stored twice")
			}
			seen[key] = true
			if d.Seq <= lastSeq[string(d.GroupID)] {
				t.Fatalf("group %s reordered: seq %d after %d", d.GroupID, d.Seq, lastSeq[string(d.GroupID)])
			}
			lastSeq[string(d.GroupID)] = d.Seq
			if a, ok := acked[key]; ok {
				if a.seq != d.Seq || string(d.GroupID) != fmt.Sprintf("crash-%d", a.group) {
					t.Fatalf("acknowledged as group %d seq %d, stored as %s seq %d", a.group, a.seq, d.GroupID, d.Seq)
				}
			}
		}
		if len(pg.Deliveries) < 1000 {
			break
		}
		cur = pg.Cursor
	}
	lost := 0
	for k := range acked {
		if !seen[k] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged messages lost", lost, len(acked))
	}
	t.Logf("%d acknowledged messages survived 20 SIGKILLs (%d stored in all)", len(acked), len(seen))
}

// TestCrashChild is the child process of TestKillNineKeepsAcknowledged; it
// does nothing unless DS_CRASH_DB is set.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("DS_CRASH_DB")
	if path == "" {
		return
	}
	dev, _ := strconv.ParseInt(os.Getenv("DS_CRASH_DEVICE"), 10, 64)
	run := os.Getenv("DS_CRASH_RUN")
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	if err != nil {
		t.Fatal(err)
	}
	p := ds.Principal{Username: "alice", Device: ds.DeviceID(dev)}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for k := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				g := (k + i) % crashGroups
				payload := fmt.Appendf(nil, "run %s sender %d message %d", run, k, i)
				msg := dstest.Application(fmt.Appendf(nil, "crash-%d", g), 1, payload)
				r, err := svc.Send(context.Background(), p, msg, nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, "send:", err)
					return
				}
				mu.Lock()
				fmt.Fprintf(w, "ACK %d %d %s\n", g, r.Seq, hex.EncodeToString(msg))
				w.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
