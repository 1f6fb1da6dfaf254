// Package tsmls drives a ts-mls peer (peer.mjs beside this file, run with node) over
// stdin/stdout JSON lines, so tests can make ts-mls and Daylight build a group together.
package tsmls

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
)

// Peer is one running ts-mls peer process.
type Peer struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	mu   sync.Mutex
	next int
}

// Start runs `node peer.mjs` in dir (the folder holding peer.mjs and node_modules).
// The process ends when ctx is done or Close is called.
func Start(ctx context.Context, node, dir string) (*Peer, error) {
	cmd := exec.CommandContext(ctx, node, "peer.mjs")
	cmd.Dir = dir
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("tsmls: start node peer: %w", err)
	}
	return &Peer{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

// Call sends one request and returns the response fields. A response with ok=false
// becomes an error carrying the peer's message.
func (p *Peer) Call(op string, args map[string]any) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	req := map[string]any{"id": p.next, "op": op}
	for k, v := range args {
		req[k] = v
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("tsmls: %s: write: %w", op, err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("tsmls: %s: read: %w", op, err)
	}
	var resp map[string]any
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("tsmls: %s: decode response: %w", op, err)
	}
	if id, _ := resp["id"].(float64); int(id) != p.next {
		return nil, fmt.Errorf("tsmls: %s: response id %v, want %d", op, resp["id"], p.next)
	}
	if ok, _ := resp["ok"].(bool); !ok {
		return nil, fmt.Errorf("tsmls: %s: %v", op, resp["error"])
	}
	return resp, nil
}

// String returns the string field k of a response ("" if absent).
func String(resp map[string]any, k string) string {
	s, _ := resp[k].(string)
	return s
}

// Close ends the peer process and waits for it.
func (p *Peer) Close() error {
	p.in.Close()
	return p.cmd.Wait()
}
