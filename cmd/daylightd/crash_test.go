package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

// buildDaylightd compiles this command into a temporary directory.
func buildDaylightd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "daylightd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type proc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	logs *bytes.Buffer
}

// startDaylightd starts bin and waits for its "listening on" line.
func startDaylightd(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--insecure-http", "--testing-only-fake-mls",
		"--rate-ip", "0", "--rate-account", "0", "--log-level", "warn"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(bytes.Buffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), logs: logs}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urlc <- strings.Fields(rest)[0]
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	select {
	case p.url = <-urlc:
		return p
	case <-p.done:
		t.Fatalf("daylightd exited: %s", logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("daylightd did not start: %s", logs)
	}
	return nil
}

func randDuration(lo, hi time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(hi-lo)))
	return lo + time.Duration(n.Int64())
}

type accepted struct {
	seq  uint64
	data []byte
}

// TestCrashSafetySIGKILL runs load against daylightd, kills it with SIGKILL
// at random moments 20 times, restarts it on the same data directory, and
// checks that every message the server acknowledged (a receipt) is delivered
// exactly once, in receipt (seq) order per group, and that `daylightd check`
// finds the database consistent.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and restarts daylightd 20 times; skipped in -short")
	}
	bin := buildDaylightd(t)
	data := t.TempDir()
	ctx := context.Background()

	const groups, size = 3, 3
	type member struct {
		sig dstest.Signer
		c   *transport.Client
	}
	members := make([][]member, groups)
	p := startDaylightd(t, bin, "--data", data)
	newClient := func(url string) *transport.Client {
		c, err := transport.New(transport.Config{BaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for g := range groups {
		for i := range size {
			_, k, _ := ed25519.GenerateKey(rand.Reader)
			name := fmt.Sprintf("u%d-%d", g, i)
			c := newClient(p.url)
			d, err := c.Register(ctx, name, "d", k)
			if err != nil {
				t.Fatal(err)
			}
			members[g] = append(members[g], member{dstest.Signer{Username: name, Device: ds.DeviceID(d.ID), Key: k}, c})
		}
		gid := fmt.Appendf(nil, "g%d", g)
		owner := members[g][0]
		if _, err := owner.c.CreateGroup(ctx, dstest.GroupInfo(gid, owner.sig)); err != nil {
			t.Fatal(err)
		}
		var add []dstest.FakeMember
		for _, m := range members[g][1:] {
			add = append(add, m.sig.Member())
		}
		if _, err := owner.c.Send(ctx, dstest.Commit(gid, 0, owner.sig, add)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	acked := make([][]accepted, groups) // per group, every receipted message
	var counter int
	const rounds = 20
	for round := range rounds {
		if round > 0 {
			p = startDaylightd(t, bin, "--data", data)
		}
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for g := range groups {
			gid := fmt.Appendf(nil, "g%d", g)
			for i, m := range members[g][:size-1] { // the last member only receives
				c := newClient(p.url)
				c.SetIdentity(m.sig.Username, api.DeviceID(m.sig.Device), m.sig.Key)
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := 0; rctx.Err() == nil; n++ {
							mu.Lock()
							counter++
							msg := dstest.Application(gid, 1, fmt.Appendf(nil, "r%d-m%d-w%d-n%d-%d", round, i, w, n, counter))
							mu.Unlock()
							rc, err := c.Send(rctx, msg)
							if err != nil {
								continue // killed mid-request: unknown outcome, not acknowledged
							}
							mu.Lock()
							acked[g] = append(acked[g], accepted{rc.Seq, msg})
							mu.Unlock()
						}
					}()
				}
			}
		}
		time.Sleep(randDuration(50*time.Millisecond, 400*time.Millisecond))
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		cancel()
		wg.Wait()
	}

	// The database's invariants hold after 20 crashes.
	var out bytes.Buffer
	if err := run(ctx, []string{"check", "--data", data, "--testing-only-fake-mls"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("daylightd check: %v\n%s", err, out.String())
	}

	p = startDaylightd(t, bin, "--data", data)
	total := 0
	for g := range groups {
		total += len(acked[g])
		// Receipts: seqs are unique per group.
		slices.SortFunc(acked[g], func(a, b accepted) int { return int(a.seq) - int(b.seq) })
		for i := 1; i < len(acked[g]); i++ {
			if acked[g][i].seq == acked[g][i-1].seq {
				t.Fatalf("group %d: two receipts with seq %d", g, acked[g][i].seq)
			}
		}
		// The receiving member's queue: every acknowledged message once, in seq order.
		rcv := members[g][size-1]
		c := newClient(p.url)
		c.SetIdentity(rcv.sig.Username, api.DeviceID(rcv.sig.Device), rcv.sig.Key)
		var got []api.Delivery
		for after := uint64(0); ; {
			pg, err := c.Fetch(ctx, after, 1000, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Deliveries) == 0 {
				break
			}
			got = append(got, pg.Deliveries...)
			after = pg.Cursor
		}
		bySeq := map[uint64][]byte{}
		seenData := map[string]bool{}
		for i, d := range got {
			if seenData[string(d.Data)] {
				t.Fatalf("group %d: message at seq %d delivered twice", g, d.Seq)
			}
			seenData[string(d.Data)] = true
			if i > 0 && d.Seq <= got[i-1].Seq {
				t.Fatalf("group %d: delivery seq %d after %d: reordered or duplicated", g, d.Seq, got[i-1].Seq)
			}
			bySeq[d.Seq] = d.Data
		}
		for _, a := range acked[g] {
			if d, ok := bySeq[a.seq]; !ok || !bytes.Equal(d, a.data) {
				t.Fatalf("group %d: acknowledged message seq %d lost or changed (%d delivered)", g, a.seq, len(got))
			}
		}
		t.Logf("group %d: %d acknowledged, %d delivered (the rest were in flight at a kill)", g, len(acked[g]), len(got))
	}
	if total < rounds {
		t.Fatalf("only %d messages acknowledged over %d rounds: the load did not run", total, rounds)
	}
}
