package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/policy"
)

type options struct {
	url        string
	daylightd  string
	serverArgs string
	clients    int
	groupSize  int
	duration   time.Duration
	rate       float64
	inflight   int
	size       int
	maxMsgs    int64
	jsonOut    bool
	insecure   bool
	nats       string
	mls        bool
	cpuProfile string
	// --mls only (escrow.go): franking on the clients (and, with
	// --daylightd, on the server), escrow records per epoch, a commit every
	// N accepted messages per group.
	franking    bool
	escrow      bool
	commitEvery int
}

// Result is the report (--json prints it).
type Result struct {
	Clients          int     `json:"clients"`
	GroupSize        int     `json:"group_size"`
	DurationSeconds  float64 `json:"duration_s"`
	TargetRate       float64 `json:"target_rate"` // 0: as fast as the in-flight window allows
	Accepted         int64   `json:"accepted"`
	Delivered        int64   `json:"delivered"`
	Errors           int64   `json:"errors"`
	AcceptedPerSec   float64 `json:"accepted_per_s"`
	DeliveredPerSec  float64 `json:"delivered_per_s"`
	P50Millis        float64 `json:"p50_ms"`
	P99Millis        float64 `json:"p99_ms"`
	MaxMillis        float64 `json:"max_ms"`
	ServerCPUSeconds float64 `json:"server_cpu_s"`
	CPUMicrosPerMsg  float64 `json:"server_cpu_us_per_accepted"`
	CPUMicrosPerDel  float64 `json:"server_cpu_us_per_delivered"`
	// Missing counts deliveries expected from receipted messages but not seen
	// after a 10 s drain (messages sent while the window closed may be
	// delivered without a receipt; they are not counted as missing).
	Missing int64 `json:"missing"`
	// With --mls: what the clients did besides sending (escrow.go).
	Franking      bool  `json:"franking,omitempty"`
	Escrow        bool  `json:"escrow,omitempty"`
	CommitEvery   int   `json:"commit_every,omitempty"`
	Commits       int64 `json:"commits,omitempty"`
	EscrowUploads int64 `json:"escrow_uploads,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("daylight-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "base URL of a running daylightd on loopback (http://127.0.0.1:PORT)")
	fs.StringVar(&o.daylightd, "daylightd", "", "path of a daylightd binary to start for the run (instead of --url)")
	fs.StringVar(&o.serverArgs, "server-args", "", "extra arguments for the started daylightd (space separated)")
	fs.IntVar(&o.clients, "clients", 100, "simulated clients (each its own account and WebSocket), at most 5000")
	fs.IntVar(&o.groupSize, "group-size", 10, "members per group")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured sending time, at most 10m")
	fs.Float64Var(&o.rate, "rate", 0, "total messages/s to offer (0: closed loop, --inflight per client)")
	fs.IntVar(&o.inflight, "inflight", 4, "sends in flight per client in closed loop")
	fs.IntVar(&o.size, "size", 200, "application payload bytes")
	fs.Int64Var(&o.maxMsgs, "messages", 0, "stop after this many accepted messages (0: duration only)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&o.nats, "nats-server", "", "instead of daylightd, start this nats-server and run the same topology over NATS core pub/sub (the loopback reference)")
	fs.BoolVar(&o.mls, "mls", false, "real MLS (mls/group, suite 1): groups by Welcome, PrivateMessage application data; the server must run its real validator")
	fs.BoolVar(&o.franking, "franking", true, "with --mls: frank every message (commitment in authenticated_data); false also starts daylightd with --franking=false")
	fs.BoolVar(&o.escrow, "escrow", false, "with --mls: compliant escrowing clients (a generated 3-of-5 policy): each member checks/uploads the epoch's escrow record before sending in it, committers upload epoch statements")
	fs.IntVar(&o.commitEvery, "commit-every", 0, "with --mls: one member of each group commits (empty commit, UpdatePath) after every N accepted messages of the group (0: never)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the load tool's own CPU profile to this file")
	fs.BoolVar(&o.insecure, "insecure", false, "skip TLS verification (loopback https with the dev certificate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.nats != "" && (o.url != "" || o.daylightd != ""):
		return errors.New("--nats-server excludes --url and --daylightd")
	case o.nats == "" && (o.url == "") == (o.daylightd == ""):
		return errors.New("give exactly one of --url and --daylightd")
	case o.clients < 2 || o.clients > 5000:
		return errors.New("--clients must be 2..5000")
	case o.groupSize < 2 || o.groupSize > o.clients:
		return errors.New("--group-size must be 2..clients")
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return errors.New("--duration must be in (0, 10m]")
	case o.size < 16 || o.size > 64<<10:
		return errors.New("--size must be 16..65536")
	case !o.mls && (o.escrow || o.commitEvery != 0):
		return errors.New("--escrow and --commit-every need --mls")
	case o.commitEvery < 0:
		return errors.New("--commit-every must be >= 0")
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.nats != "" {
		res, err := natsLoad(ctx, o.nats, o, stderr)
		if err != nil {
			return err
		}
		return report(o, res, stdout)
	}
	var cpu func() (float64, error)
	if o.daylightd != "" {
		extra := strings.Fields(o.serverArgs)
		if o.mls && !o.franking {
			extra = append([]string{"--franking=false"}, extra...)
		}
		srv, err := startServer(ctx, o.daylightd, !o.mls, extra, stderr)
		if err != nil {
			return err
		}
		defer srv.stop()
		o.url = srv.url
		cpu = srv.cpuSeconds
	}
	u, err := url.Parse(o.url)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		return fmt.Errorf("--url %s: only loopback servers may be loaded", o.url)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	if o.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	hc := &http.Client{Transport: tr}
	if cpu == nil {
		cpu = func() (float64, error) { return metricsCPU(ctx, hc, o.url) }
	}
	res, err := load(ctx, o, hc, cpu, stderr)
	if err != nil {
		return err
	}
	return report(o, res, stdout)
}

func report(o options, res *Result, stdout io.Writer) error {
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "clients %d, groups of %d, %.1f s, offered %s\n", res.Clients, res.GroupSize, res.DurationSeconds, rateText(res.TargetRate))
	fmt.Fprintf(stdout, "accepted  %9d  %9.0f msg/s\n", res.Accepted, res.AcceptedPerSec)
	fmt.Fprintf(stdout, "delivered %9d  %9.0f msg/s\n", res.Delivered, res.DeliveredPerSec)
	fmt.Fprintf(stdout, "latency   p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", res.P50Millis, res.P99Millis, res.MaxMillis)
	fmt.Fprintf(stdout, "server    %.2f s CPU: %.1f µs per accepted, %.1f µs per delivered\n", res.ServerCPUSeconds, res.CPUMicrosPerMsg, res.CPUMicrosPerDel)
	fmt.Fprintf(stdout, "errors %d, missing deliveries %d\n", res.Errors, res.Missing)
	if o.mls {
		fmt.Fprintf(stdout, "mls: franking %v, escrow %v, commit every %d: %d commits, %d escrow uploads\n", res.Franking, res.Escrow, res.CommitEvery, res.Commits, res.EscrowUploads)
	}
	return nil
}

func rateText(r float64) string {
	if r == 0 {
		return "closed loop"
	}
	return fmt.Sprintf("%.0f msg/s", r)
}

type sim struct {
	c    *transport.Client
	sig  dstest.Signer
	mls  *mlsState
	gid  []byte
	conn *transport.Conn
	idx  int
}

func load(ctx context.Context, o options, hc *http.Client, cpu func() (float64, error), log io.Writer) (*Result, error) {
	run := make([]byte, 4)
	rand.Read(run)
	prefix := fmt.Sprintf("load%x", run)
	sims := make([]*sim, o.clients)
	var pol *policy.Verified
	if o.escrow {
		var err error
		if pol, err = loadPolicy(time.Now()); err != nil {
			return nil, fmt.Errorf("escrow policy: %w", err)
		}
	}
	// Setup: register everyone (in parallel, bounded).
	err := parallel(ctx, o.clients, 16, func(i int) error {
		c, err := transport.New(transport.Config{BaseURL: o.url, HTTPClient: hc})
		if err != nil {
			return err
		}
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		name := fmt.Sprintf("%s-%d", prefix, i)
		d, err := c.Register(ctx, name, "load", k)
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		sims[i] = &sim{c: c, sig: dstest.Signer{Username: name, Device: ds.DeviceID(d.ID), Key: k}, idx: i}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Groups: the first member creates the group and adds the others.
	groups := (o.clients + o.groupSize - 1) / o.groupSize
	gsims := make([]*groupSim, groups)
	err = parallel(ctx, groups, 8, func(g int) error {
		members := sims[g*o.groupSize : min((g+1)*o.groupSize, o.clients)]
		gsims[g] = &groupSim{members: members}
		gid := fmt.Appendf(nil, "%s-g%d", prefix, g)
		owner := members[0]
		if o.mls {
			if err := setupMLSGroup(ctx, members, gid, o.escrow); err != nil {
				return err
			}
			for _, m := range members {
				m.gid = gid
			}
			return nil
		}
		if _, err := owner.c.CreateGroup(ctx, dstest.GroupInfo(gid, owner.sig)); err != nil {
			return fmt.Errorf("create group: %w", err)
		}
		var add []dstest.FakeMember
		for _, m := range members[1:] {
			add = append(add, m.sig.Member())
		}
		if len(add) > 0 {
			if _, err := owner.c.Send(ctx, dstest.Commit(gid, 0, owner.sig, add)); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
		for _, m := range members {
			m.gid = gid
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pol != nil {
		// Escrow the groups' first epoch before the measured window, one
		// member after the other (the first uploads, the others verify), as
		// members joining at different times would: otherwise every member
		// would find no record at the same instant and upload its own.
		err = parallel(ctx, groups, 8, func(g int) error {
			for _, m := range gsims[g].members {
				m.mls.mu.Lock()
				_, err := m.ensureEscrow(ctx, pol)
				m.mls.mu.Unlock()
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	groupLen := func(s *sim) int {
		return len(sims[(s.idx/o.groupSize)*o.groupSize : min((s.idx/o.groupSize+1)*o.groupSize, o.clients)])
	}

	// Connect everyone.
	err = parallel(ctx, o.clients, 16, func(i int) error {
		cn, err := sims[i].c.Dial(ctx, 0)
		if err != nil {
			return fmt.Errorf("websocket: %w", err)
		}
		sims[i].conn = cn
		return nil
	})
	defer func() {
		for _, s := range sims {
			if s != nil && s.conn != nil {
				s.conn.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}

	var accepted, delivered, errs, expected, commits, uploads atomic.Int64
	var sent sentTable
	lat := make([][]time.Duration, o.clients)
	var latMu sync.Mutex
	start := time.Now()
	window := start.Add(o.duration)

	// Receivers: every page is acked; payload[0:8] is the send time.
	var rwg sync.WaitGroup
	recvCtx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	for i, s := range sims {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			var mine []time.Duration
			defer func() { latMu.Lock(); lat[i] = mine; latMu.Unlock() }()
			for {
				select {
				case <-recvCtx.Done():
					return
				case p, ok := <-s.conn.Pages():
					if !ok {
						return
					}
					now := time.Now()
					for _, d := range p.Deliveries {
						if d.Kind != api.KindApplication {
							continue
						}
						t, ok := time.Time{}, false
						if o.mls {
							t, ok = sent.take(d.Data)
						} else {
							t, ok = sentAt(d.Data)
						}
						if ok {
							mine = append(mine, now.Sub(t))
							delivered.Add(1)
						}
					}
					s.conn.Ack(recvCtx, p.Cursor)
				}
			}
		}()
	}

	cpu0, cpuErr := cpu()
	// Senders.
	sendCtx, stopSend := context.WithDeadline(ctx, window)
	defer stopSend()
	var swg sync.WaitGroup
	perClient := o.rate / float64(o.clients)
	for _, s := range sims {
		workers := o.inflight
		if o.rate > 0 {
			workers = 1
		}
		for w := range workers {
			swg.Add(1)
			go func() {
				defer swg.Done()
				var tick *time.Ticker
				if perClient > 0 {
					iv := time.Duration(float64(time.Second) / perClient)
					time.Sleep(time.Duration(int64(iv) * int64(s.idx) / int64(o.clients))) // spread the phases
					tick = time.NewTicker(iv)
					defer tick.Stop()
				}
				payload := make([]byte, o.size)
				for n := uint64(0); ; n++ {
					if tick != nil {
						select {
						case <-tick.C:
						case <-sendCtx.Done():
							return
						}
					}
					if sendCtx.Err() != nil || (o.maxMsgs > 0 && accepted.Load() >= o.maxMsgs) {
						return
					}
					binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
					binary.BigEndian.PutUint64(payload[8:], uint64(s.idx)<<32|uint64(w)<<24|n)
					var msg []byte
					gs := gsims[s.idx/o.groupSize]
					if o.mls {
						gs.epoch.RLock()
						m, up, err := s.mlsMessage(ctx, payload, o.franking, pol)
						if err != nil {
							gs.epoch.RUnlock()
							if errs.Add(1) <= 3 {
								fmt.Fprintln(log, "protect:", err)
							}
							return
						}
						if up {
							uploads.Add(1)
						}
						msg = m
						sent.put(msg, time.Now())
					} else {
						msg = dstest.Application(s.gid, 1, payload)
					}
					_, err := s.conn.Send(sendCtx, msg, nil)
					if o.mls {
						gs.epoch.RUnlock()
					}
					if err != nil {
						if sendCtx.Err() == nil {
							if errs.Add(1) <= 3 {
								fmt.Fprintln(log, "send:", err)
							}
						}
						continue
					}
					accepted.Add(1)
					expected.Add(int64(groupLen(s) - 1))
					if o.commitEvery > 0 && gs.sent.Add(1)%int64(o.commitEvery) == 0 && sendCtx.Err() == nil {
						gs.epoch.Lock()
						up, err := commitGroup(ctx, gs, s, pol)
						gs.epoch.Unlock()
						if err != nil {
							if errs.Add(1) <= 3 {
								fmt.Fprintln(log, "commit:", err)
							}
							return
						}
						commits.Add(1)
						if up {
							uploads.Add(1)
						}
					}
				}
			}()
		}
	}
	swg.Wait()
	elapsed := time.Since(start)
	acceptedN := accepted.Load()
	deliveredAtEnd := delivered.Load()
	// Drain: wait until everything accepted is delivered (or 10 s).
	drainEnd := time.Now().Add(10 * time.Second)
	for delivered.Load() < expected.Load() && time.Now().Before(drainEnd) {
		time.Sleep(20 * time.Millisecond)
	}
	cpu1, cpuErr2 := cpu()
	stopRecv()
	rwg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / 1e6
	}
	res := &Result{
		Clients: o.clients, GroupSize: o.groupSize, DurationSeconds: elapsed.Seconds(), TargetRate: o.rate,
		Accepted: acceptedN, Delivered: delivered.Load(), Errors: errs.Load(),
		AcceptedPerSec: float64(acceptedN) / elapsed.Seconds(), DeliveredPerSec: float64(deliveredAtEnd) / elapsed.Seconds(),
		P50Millis: pct(0.50), P99Millis: pct(0.99), Missing: max(0, expected.Load()-delivered.Load()),
	}
	if o.mls {
		res.Franking, res.Escrow, res.CommitEvery = o.franking, o.escrow, o.commitEvery
		res.Commits, res.EscrowUploads = commits.Load(), uploads.Load()
	}
	if len(all) > 0 {
		res.MaxMillis = float64(all[len(all)-1]) / 1e6
	}
	if cpuErr == nil && cpuErr2 == nil {
		res.ServerCPUSeconds = cpu1 - cpu0
		if acceptedN > 0 {
			res.CPUMicrosPerMsg = res.ServerCPUSeconds * 1e6 / float64(acceptedN)
		}
		if d := delivered.Load(); d > 0 {
			res.CPUMicrosPerDel = res.ServerCPUSeconds * 1e6 / float64(d)
		}
	}
	return res, nil
}

// sentAt reads the send time from a fake application message's payload.
func sentAt(msg []byte) (time.Time, bool) {
	// dstest framing: magic(8) wire(2) gid_len(1) gid epoch(8) content(1) body_len(4) body sig_len(1)
	if len(msg) < 11 {
		return time.Time{}, false
	}
	gl := int(msg[10])
	off := 11 + gl + 8 + 1 + 4
	if len(msg) < off+8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(msg[off:]))), true
}

// parallel runs fn(0..n-1) with at most width at once; the first error wins.
func parallel(ctx context.Context, n, width int, fn func(int) error) error {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// metricsCPU reads process_cpu_seconds_total from /metrics.
func metricsCPU(ctx context.Context, hc *http.Client, base string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, errors.New("no process_cpu_seconds_total in /metrics")
}

type server struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	done chan struct{}
}

// startServer starts daylightd on 127.0.0.1 with a fresh data directory.
func startServer(ctx context.Context, bin string, fakeMLS bool, extra []string, log io.Writer) (*server, error) {
	dir, err := os.MkdirTemp("", "daylight-load-")
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--insecure-http",
		"--rate-ip", "0", "--rate-account", "0", "--log-level", "warn"}
	if fakeMLS {
		args = append(args, "--testing-only-fake-mls")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urlc <- strings.Fields(rest)[0]
			}
		}
	}()
	select {
	case s.url = <-urlc:
		return s, nil
	case <-s.done:
		os.RemoveAll(dir)
		return nil, errors.New("daylightd exited before listening")
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, errors.New("daylightd did not start")
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// cpuSeconds reads utime+stime of the server from /proc/<pid>/stat.
func (s *server) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go supports.
const clockTicks = 100
