package tlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"k8s.io/klog/v2"
)

// TestMain lets the test binary re-exec itself as a log process that appends
// until it is killed (TestAttackSIGKILLDuringAppends).
func TestMain(m *testing.M) {
	if dir := os.Getenv("DAYLIGHT_TLOG_CRASH_CHILD"); dir != "" {
		os.Exit(crashChild(dir, os.Getenv("DAYLIGHT_TLOG_CRASH_WITNESSES")))
	}
	// tessera logs through klog's global logger; keep test output readable.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// crashChild opens the log in dir and appends from 16 goroutines forever.
func crashChild(dir, witnesses string) int {
	ctx := context.Background()
	var ws []Witness
	for _, w := range strings.Fields(witnesses) {
		u, vkey, _ := strings.Cut(w, "=")
		ws = append(ws, Witness{URL: u, VKey: vkey})
	}
	l, err := Open(ctx, Config{Dir: dir, Origin: testOrigin, Witnesses: ws, WitnessThreshold: len(ws),
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 5 * time.Millisecond, BatchMaxSize: 64})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				n := g*1_000_000 + i
				idx, err := l.Append(ctx, sampleEntry(n))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					continue
				}
				// Acknowledge to the parent: one write(2) per line.
				fmt.Fprintf(os.Stdout, "ack %d %d\n", idx, n)
			}
		}()
	}
	select {}
}

// TestAttackSIGKILLDuringAppends kills a real log process with SIGKILL while
// it appends and publishes witnessed checkpoints, three times, restarting it
// on the same directory each time. Every checkpoint the log ever published
// (sampled from its checkpoint file every few milliseconds) must be
// consistent with the final one, the witnesses must keep cosigning after
// each restart, every entry must still parse and hash to the root, and every
// append the child acknowledged (Append returned, reported on its stdout)
// must be in the log at the index it was given.
func TestAttackSIGKILLDuringAppends(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, vkey := newLogKey(t, dir)
	ws := startWitnesses(t, 2, vkey)
	var spec []string
	for _, w := range ws {
		spec = append(spec, w.srv.URL+"="+w.vkey)
	}

	var mu sync.Mutex
	published := map[string]bool{}
	acked := map[uint64]int{} // index -> entry number, as acknowledged by Append
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() { // record every checkpoint that appears in the published file
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			if b, err := os.ReadFile(dir + "/checkpoint"); err == nil {
				mu.Lock()
				published[string(b)] = true
				mu.Unlock()
			}
		}
	}()

	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "DAYLIGHT_TLOG_CRASH_CHILD="+dir, "DAYLIGHT_TLOG_CRASH_WITNESSES="+strings.Join(spec, " "))
		cmd.Stderr = nil
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readAcks := make(chan struct{})
		go func() { // collect the child's acknowledgements
			defer close(readAcks)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				var idx uint64
				var n int
				if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &idx, &n); err == nil {
					mu.Lock()
					if prev, dup := acked[idx]; dup && prev != n {
						t.Errorf("index %d acknowledged for two entries", idx)
					}
					acked[idx] = n
					mu.Unlock()
				}
			}
		}()
		// Kill once the child is well into appending (robust to a slow,
		// loaded machine), at a different moment each round.
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n > before+200 {
				break
			}
		}
		time.Sleep(time.Duration(150+250*round) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-readAcks
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child exited on its own: %v", round, err)
		}
	}
	close(stop)
	sampler.Wait()

	// Restart in-process, append once more, and wait for a witnessed checkpoint.
	l := openTestLog(t, dir, ws, 2)
	idx, err := l.Append(ctx, sampleEntry(7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Await(ctx, idx); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(dir, l.Policy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	final, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d entries after 3 kills; %d acknowledged; %d distinct published checkpoints sampled", final.Size, len(acked), len(published))
	if len(published) < 3 || final.Size < 600 {
		t.Fatalf("the test did not exercise the log: %d checkpoints, %d entries", len(published), final.Size)
	}
	for raw := range published {
		cp, err := l.Policy().Verify([]byte(raw))
		if err != nil {
			t.Fatalf("a published checkpoint does not verify: %v\n%s", err, raw)
		}
		if err := c.VerifyConsistency(ctx, cp, final); err != nil {
			t.Fatalf("published checkpoint of size %d is inconsistent with the log after restart: %v", cp.Size, err)
		}
	}
	// Every append the log acknowledged before a kill is in the log, at the
	// index it was given.
	n, found := uint64(0), 0
	if err := c.Entries(ctx, final, func(i uint64, e []byte) error {
		n++
		if _, err := accesslog.Parse(e); err != nil {
			return err
		}
		if want, ok := acked[i]; ok {
			b, _ := accesslog.Marshal(sampleEntry(want))
			if !bytes.Equal(b, e) {
				return fmt.Errorf("entry %d is not the one acknowledged at that index", i)
			}
			found++
		}
		return nil
	}); err != nil || n != final.Size {
		t.Fatalf("entries: %d of %d, %v", n, final.Size, err)
	}
	if found != len(acked) || len(acked) < 100 {
		t.Fatalf("%d of %d acknowledged appends survived the kills", found, len(acked))
	}
}
