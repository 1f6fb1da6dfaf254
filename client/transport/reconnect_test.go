package transport_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// dropServer is a test server whose hijacked (WebSocket) connections can be
// cut, and which can refuse WebSockets altogether (a proxy that does not pass
// them).
type dropServer struct {
	ts       *httptest.Server
	mu       sync.Mutex
	hijacked []net.Conn
	noWS     bool
}

func newDropEnv(t *testing.T) (*dropServer, *transport.Client, *transport.Client, dstest.Signer, []byte) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	srv, _ := server.New(server.Config{Service: svc, AckInterval: 10 * time.Millisecond})
	d := &dropServer{}
	d.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		no := d.noWS
		d.mu.Unlock()
		if no && r.URL.Path == "/v1/ws" {
			http.Error(w, "websockets blocked", http.StatusBadGateway)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	d.ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateHijacked {
			d.mu.Lock()
			d.hijacked = append(d.hijacked, c)
			d.mu.Unlock()
		}
	}
	d.ts.Start()
	t.Cleanup(func() { d.cut(); srv.Close(); d.ts.Close(); svc.Close(); st.Close() })

	ctx := context.Background()
	mk := func(name string) (*transport.Client, dstest.Signer) {
		c, _ := transport.New(transport.Config{BaseURL: d.ts.URL})
		k := newKey(t)
		dev, err := c.Register(ctx, name, "d", k)
		if err != nil {
			t.Fatal(err)
		}
		return c, dstest.Signer{Username: name, Device: ds.DeviceID(dev.ID), Key: k}
	}
	alice, as := mk("alice")
	bob, bs := mk("bob")
	gid := []byte("g")
	if _, err := alice.CreateGroup(ctx, dstest.GroupInfo(gid, as)); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, dstest.Commit(gid, 0, as, []dstest.FakeMember{bs.Member()})); err != nil {
		t.Fatal(err)
	}
	return d, alice, bob, as, gid
}

// cut closes every WebSocket connection.
func (d *dropServer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.hijacked {
		c.Close()
	}
	d.hijacked = nil
}

// receiveAll runs Receive until n application messages arrived and returns
// them in order, with the states Receive went through.
func receiveAll(t *testing.T, c *transport.Client, n int, during func(got int)) ([]string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got, states []string
	var smu sync.Mutex
	c.Receive(ctx, transport.ReceiveConfig{
		MinBackoff: 20 * time.Millisecond, LongPollFor: 500 * time.Millisecond,
		OnState: func(s string, err error) { smu.Lock(); states = append(states, s); smu.Unlock() },
		Handle: func(_ context.Context, p api.Page) error {
			for _, d := range p.Deliveries {
				got = append(got, string(d.Data))
			}
			if during != nil {
				during(len(got))
			}
			if len(got) >= n {
				cancel()
			}
			return nil
		}})
	if len(got) != n {
		t.Fatalf("received %d of %d (states %v)", len(got), n, states)
	}
	smu.Lock()
	defer smu.Unlock()
	return got, states
}

// TestReceiveReconnectsAfterCut cuts the WebSocket repeatedly while messages
// flow: Receive reconnects, resumes after its cursor, and every message
// arrives once, in order.
func TestReceiveReconnectsAfterCut(t *testing.T) {
	d, alice, bob, _, gid := newDropEnv(t)
	ctx := context.Background()
	const n = 60
	go func() {
		for i := range n {
			alice.Send(ctx, dstest.Application(gid, 1, fmt.Appendf(nil, "m%03d", i)))
			if i%10 == 9 {
				d.cut()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	got, states := receiveAll(t, bob, n, nil)
	for i, g := range got {
		if want := string(dstest.Application(gid, 1, fmt.Appendf(nil, "m%03d", i))); g != want {
			t.Fatalf("delivery %d out of order or duplicated", i)
		}
	}
	reconnects := 0
	for _, s := range states {
		if s == "reconnecting" {
			reconnects++
		}
	}
	if reconnects == 0 {
		t.Fatalf("no reconnection observed (states %v)", states)
	}
}

// TestReceiveFallsBackToLongPoll blocks WebSockets: Receive switches to
// long-polling and still delivers everything, in order.
func TestReceiveFallsBackToLongPoll(t *testing.T) {
	d, alice, bob, _, gid := newDropEnv(t)
	d.mu.Lock()
	d.noWS = true
	d.mu.Unlock()
	ctx := context.Background()
	const n = 20
	go func() {
		for i := range n {
			alice.Send(ctx, dstest.Application(gid, 1, fmt.Appendf(nil, "p%03d", i)))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	got, states := receiveAll(t, bob, n, nil)
	for i, g := range got {
		if want := string(dstest.Application(gid, 1, fmt.Appendf(nil, "p%03d", i))); g != want {
			t.Fatalf("delivery %d out of order or duplicated", i)
		}
	}
	long := false
	for _, s := range states {
		long = long || s == "long-poll"
	}
	if !long {
		t.Fatalf("never fell back to long-poll: %v", states)
	}
}

// TestReceiveStopsWhenRevoked: a revoked device's Receive ends with the
// revoked error instead of retrying forever.
func TestReceiveStopsWhenRevoked(t *testing.T) {
	_, _, bob, _, _ := newDropEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- bob.Receive(ctx, transport.ReceiveConfig{MinBackoff: 10 * time.Millisecond, Handle: func(context.Context, api.Page) error { return nil }})
	}()
	time.Sleep(100 * time.Millisecond)
	if err := bob.RevokeDevice(ctx, bob.Device()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !api.HasCode(err, api.CodeRevoked) && !api.HasCode(err, api.CodeUnauthenticated) {
			t.Fatalf("Receive ended with %v, want revoked", err)
		}
	case <-ctx.Done():
		t.Fatal("Receive kept retrying after revocation")
	}
}

// TestConnCloseWithUndrainedPages: Close returns promptly even when nobody
// drains Pages.
func TestConnCloseWithUndrainedPages(t *testing.T) {
	_, alice, bob, _, gid := newDropEnv(t)
	ctx := context.Background()
	cn, err := bob.Dial(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		alice.Send(ctx, dstest.Application(gid, 1, fmt.Appendf(nil, "u%d", i)))
		time.Sleep(12 * time.Millisecond) // one frame each (PushDelay is 5 ms)
	}
	done := make(chan struct{})
	go func() { cn.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close blocked behind undrained pages")
	}
}
