package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds/dstest"
)

// BenchmarkSendHTTP: one durable application message per POST /v1/messages
// (SQLite, one sender at a time: the latency floor of the HTTP path).
func BenchmarkSendHTTP(b *testing.B) {
	h := newHarness(b, nil)
	alice, _, gid := h.groupOf()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n++
		r := h.send(alice, dstest.Application(gid, 1, fmt.Appendf(nil, "m%d", n)))
		if r.status != 201 {
			b.Fatalf("send: %d %s", r.status, r.body)
		}
	}
}

// BenchmarkSendWebSocketParallel: sends over one WebSocket per goroutine,
// pipelined, so group commit batches them (the load tool's path).
func BenchmarkSendWebSocketParallel(b *testing.B) {
	h := newHarness(b, nil)
	alice, _, gid := h.groupOf()
	url := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/v1/ws"
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		hdr := http.Header{}
		hdr.Set("Authorization", "Bearer "+alice.token)
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
		if err != nil {
			b.Error(err)
			return
		}
		defer c.CloseNow()
		c.Read(ctx) // ready
		for pb.Next() {
			i := n.Add(1)
			f := api.Frame{Type: api.FrameSend, ID: uint64(i), Send: &api.SendRequest{Message: dstest.Application(gid, 1, fmt.Appendf(nil, "w%d", i))}}
			b1, _ := json.Marshal(f)
			if err := c.Write(ctx, websocket.MessageText, b1); err != nil {
				b.Error(err)
				return
			}
			if _, resp, err := c.Read(ctx); err != nil || !strings.Contains(string(resp), `"receipt"`) {
				b.Errorf("receipt: %s %v", resp, err)
				return
			}
		}
	})
}
