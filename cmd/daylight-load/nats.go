package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The NATS reference: the same topology (N clients, groups of S, one subject
// per group, no echo) over NATS core pub/sub on loopback. NATS core keeps
// nothing and acknowledges nothing, so its figures are the ceiling of
// "moving small messages between local processes", the reference daylightd's
// durable figures are compared with. The client is the few lines of the NATS
// text protocol it needs (CONNECT, SUB, PUB, MSG, PING/PONG), written here so
// the module needs no NATS dependency.

type natsConn struct {
	c     net.Conn
	r     *bufio.Reader
	mu    sync.Mutex
	w     *bufio.Writer
	pongs chan struct{}
}

func natsDial(addr string) (*natsConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	n := &natsConn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10), pongs: make(chan struct{}, 1024)}
	line, err := n.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO ") {
		c.Close()
		return nil, fmt.Errorf("nats: no INFO: %q %v", line, err)
	}
	fmt.Fprintf(n.w, "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"lang\":\"go\",\"version\":\"0\"}\r\n")
	return n, n.w.Flush()
}

func (n *natsConn) write(s string, payload []byte, flush bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.w.WriteString(s)
	if payload != nil {
		n.w.Write(payload)
		n.w.WriteString("\r\n")
	}
	if flush {
		return n.w.Flush()
	}
	return nil
}

// readLoop handles MSG (calling onMsg with the payload), PING and PONG.
func (n *natsConn) readLoop(onMsg func([]byte)) error {
	buf := make([]byte, 0, 1024)
	for {
		line, err := n.r.ReadString('\n')
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "MSG "):
			f := strings.Fields(line)
			size, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return fmt.Errorf("nats: bad MSG line %q", line)
			}
			buf = slices.Grow(buf[:0], size+2)[:size+2]
			if _, err := io.ReadFull(n.r, buf); err != nil {
				return err
			}
			onMsg(buf[:size])
		case strings.HasPrefix(line, "PING"):
			n.write("PONG\r\n", nil, true)
		case strings.HasPrefix(line, "PONG"):
			n.pongs <- struct{}{}
		case strings.HasPrefix(line, "-ERR"):
			return fmt.Errorf("nats: %s", strings.TrimSpace(line))
		}
	}
}

// natsLoad runs the reference load against a nats-server it starts.
func natsLoad(ctx context.Context, bin string, o options, log io.Writer) (*Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	var conns []*natsConn
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := natsDial(addr)
		if err == nil {
			c.c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("nats-server did not start: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv := &server{cmd: cmd}
	for i := 0; i < o.clients; i++ {
		c, err := natsDial(addr)
		if err != nil {
			return nil, err
		}
		defer c.c.Close()
		conns = append(conns, c)
		if err := c.write(fmt.Sprintf("SUB g.%d %d\r\n", i/o.groupSize, i+1), nil, true); err != nil {
			return nil, err
		}
	}
	var accepted, delivered, expected atomic.Int64
	lat := make([][]time.Duration, o.clients)
	var rwg sync.WaitGroup
	for i, c := range conns {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			c.readLoop(func(p []byte) {
				if len(p) >= 8 {
					lat[i] = append(lat[i], time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(p)))))
					delivered.Add(1)
				}
			})
		}()
	}
	// Make sure every SUB is registered before publishing.
	for _, c := range conns {
		c.write("PING\r\n", nil, true)
		<-c.pongs
	}
	cpu0, _ := srv.cpuSeconds()
	start := time.Now()
	sendCtx, stop := context.WithDeadline(ctx, start.Add(o.duration))
	defer stop()
	perClient := o.rate / float64(o.clients)
	var swg sync.WaitGroup
	for i, c := range conns {
		swg.Add(1)
		go func() {
			defer swg.Done()
			members := min(o.groupSize, o.clients-(i/o.groupSize)*o.groupSize)
			subj := fmt.Sprintf("PUB g.%d %d\r\n", i/o.groupSize, o.size)
			payload := make([]byte, o.size)
			var tick *time.Ticker
			if perClient > 0 {
				tick = time.NewTicker(time.Duration(float64(time.Second) / perClient))
				defer tick.Stop()
			}
			for n := 0; sendCtx.Err() == nil; n++ {
				if tick != nil {
					select {
					case <-tick.C:
					case <-sendCtx.Done():
						return
					}
				}
				binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
				// Flow control in closed loop: a PING round trip every
				// inflight messages bounds what is outstanding.
				sync := tick == nil && n%max(o.inflight, 1) == 0
				if err := c.write(subj, payload, tick != nil || sync); err != nil {
					return
				}
				if sync {
					c.write("PING\r\n", nil, true)
					select {
					case <-c.pongs:
					case <-sendCtx.Done():
						return
					}
				}
				accepted.Add(1)
				expected.Add(int64(members - 1))
			}
		}()
	}
	swg.Wait()
	for _, c := range conns {
		c.write("", nil, true)
	}
	elapsed := time.Since(start)
	deliveredAtEnd := delivered.Load()
	for end := time.Now().Add(5 * time.Second); delivered.Load() < expected.Load() && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	cpu1, _ := srv.cpuSeconds()
	for _, c := range conns {
		c.c.Close()
	}
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
	r := &Result{
		Clients: o.clients, GroupSize: o.groupSize, DurationSeconds: elapsed.Seconds(), TargetRate: o.rate,
		Accepted: accepted.Load(), Delivered: delivered.Load(),
		AcceptedPerSec: float64(accepted.Load()) / elapsed.Seconds(), DeliveredPerSec: float64(deliveredAtEnd) / elapsed.Seconds(),
		P50Millis: pct(0.5), P99Millis: pct(0.99), ServerCPUSeconds: cpu1 - cpu0,
		Missing: max(0, expected.Load()-delivered.Load()),
	}
	if len(all) > 0 {
		r.MaxMillis = float64(all[len(all)-1]) / 1e6
	}
	if r.Accepted > 0 {
		r.CPUMicrosPerMsg = r.ServerCPUSeconds * 1e6 / float64(r.Accepted)
	}
	if r.Delivered > 0 {
		r.CPUMicrosPerDel = r.ServerCPUSeconds * 1e6 / float64(r.Delivered)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, errors.New("nats-server binary vanished")
	}
	return r, nil
}
