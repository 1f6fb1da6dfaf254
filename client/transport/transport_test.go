package transport_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
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

type env struct {
	t   *testing.T
	url string
	ts  *httptest.Server
	srv *server.Server
}

// newEnv starts a TLS test server on SQLite with the fake validator.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Service: svc, AckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		svc.Close()
		st.Close()
	})
	return &env{t: t, url: ts.URL, ts: ts, srv: srv}
}

func (e *env) client() *transport.Client {
	c, err := transport.New(transport.Config{BaseURL: e.url, HTTPClient: e.ts.Client()})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

type device struct {
	c   *transport.Client
	sig dstest.Signer
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (e *env) register(ctx context.Context, user string) device {
	k := newKey(e.t)
	c := e.client()
	d, err := c.Register(ctx, user, "laptop", k)
	if err != nil {
		e.t.Fatalf("register %s: %v", user, err)
	}
	return device{c: c, sig: dstest.Signer{Username: user, Device: ds.DeviceID(d.ID), Key: k}}
}

// collect receives deliveries on a device until want arrive or the timeout.
func collect(t *testing.T, ctx context.Context, c *transport.Client, want int) []api.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []api.Delivery
	errDone := errors.New("done")
	err := c.Receive(ctx, transport.ReceiveConfig{Handle: func(_ context.Context, p api.Page) error {
		got = append(got, p.Deliveries...)
		if len(got) >= want {
			return errDone
		}
		return nil
	}})
	if !errors.Is(err, errDone) {
		t.Fatalf("receive: got %d of %d deliveries: %v", len(got), want, err)
	}
	return got
}

func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.register(ctx, "alice")
	bob := e.register(ctx, "bob")

	// Link a second device for alice.
	k2 := newKey(t)
	approval := transport.LinkApproval(alice.sig.Key, "alice", api.DeviceID(alice.sig.Device), "phone", k2.Public().(ed25519.PublicKey))
	c2 := e.client()
	d2, err := c2.LinkDevice(ctx, "alice", "phone", k2, api.DeviceID(alice.sig.Device), approval)
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	alice2 := device{c: c2, sig: dstest.Signer{Username: "alice", Device: ds.DeviceID(d2.ID), Key: k2}}
	devs, err := bob.c.Devices(ctx, "alice")
	if err != nil || len(devs) != 2 {
		t.Fatalf("devices: %v %v", devs, err)
	}

	// KeyPackages: upload, count, claim once.
	kp := dstest.KeyPackage(bob.sig, time.Now().Add(time.Hour), false, []byte("n1"))
	if err := bob.c.UploadKeyPackages(ctx, [][]byte{kp}); err != nil {
		t.Fatalf("upload kp: %v", err)
	}
	if n, err := bob.c.KeyPackageCount(ctx); err != nil || n != 1 {
		t.Fatalf("count: %d %v", n, err)
	}
	claimed, err := alice.c.ClaimKeyPackages(ctx, "bob")
	if err != nil || len(claimed) != 1 || !bytes.Equal(claimed[0].Data, kp) {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if _, err := alice.c.ClaimKeyPackages(ctx, "bob"); !api.HasCode(err, api.CodeNoKeyPackage) {
		t.Fatalf("second claim: want no_key_package, got %v", err)
	}

	// Group: alice creates, adds alice2 and bob with a Welcome.
	gid := []byte("group-1")
	if _, err := alice.c.CreateGroup(ctx, dstest.GroupInfo(gid, alice.sig)); err != nil {
		t.Fatalf("create group: %v", err)
	}
	commit := dstest.Commit(gid, 0, alice.sig, []dstest.FakeMember{alice2.sig.Member(), bob.sig.Member()})
	if _, err := alice.c.SendCommit(ctx, commit, dstest.Welcome([]byte("welcome"))); err != nil {
		t.Fatalf("commit: %v", err)
	}
	g, err := bob.c.Group(ctx, gid)
	if err != nil || g.Epoch != 1 || len(g.Members) != 3 {
		t.Fatalf("group: %+v %v", g, err)
	}

	// Application messages, in order, to every other member device.
	for i := range 5 {
		if _, err := alice.c.Send(ctx, dstest.Application(gid, 1, fmt.Appendf(nil, "a%d", i))); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	if _, err := bob.c.Send(ctx, dstest.Application(gid, 1, []byte("from bob"))); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := collect(t, ctx, bob.c, 6) // welcome + 5 (not its own)
	if got[0].Kind != api.KindWelcome {
		t.Fatalf("bob's first delivery is %s, want welcome", got[0].Kind)
	}
	for i, d := range got[1:] {
		if want := dstest.Application(gid, 1, fmt.Appendf(nil, "a%d", i)); !bytes.Equal(d.Data, want) {
			t.Fatalf("bob delivery %d out of order", i)
		}
	}
	got2 := collect(t, ctx, alice2.c, 7) // welcome + 5 + bob's
	if !bytes.Equal(got2[6].Data, dstest.Application(gid, 1, []byte("from bob"))) {
		t.Fatalf("alice2 did not get bob's message last")
	}

	// Long-poll: empty page after the last cursor waits, then a message wakes it.
	go func() {
		time.Sleep(200 * time.Millisecond)
		alice.c.Send(ctx, dstest.Application(gid, 1, []byte("late")))
	}()
	start := time.Now()
	p, err := bob.c.Fetch(ctx, got[len(got)-1].Cursor, 0, 5*time.Second)
	if err != nil || len(p.Deliveries) != 1 || time.Since(start) > 4*time.Second {
		t.Fatalf("long-poll: %+v %v after %v", p, err, time.Since(start))
	}
	if err := bob.c.Ack(ctx, p.Cursor); err != nil {
		t.Fatalf("ack: %v", err)
	}

	// Attachments: 5 MB with progress, then a resumed download.
	blob := make([]byte, 5<<20+123)
	rand.Read(blob)
	var last int64
	b, err := alice.c.UploadBlob(ctx, bytes.NewReader(blob), int64(len(blob)), func(done, total int64) { last = done })
	if err != nil || b.Size != int64(len(blob)) || last != int64(len(blob)) {
		t.Fatalf("upload: %+v %v (progress %d)", b, err, last)
	}
	var buf bytes.Buffer
	half := int64(len(blob) / 2)
	if _, err := bob.c.DownloadBlob(ctx, b.ID, 0, &limitedWriter{w: &buf, n: half}, nil); err == nil {
		t.Fatalf("cut download succeeded")
	}
	if int64(buf.Len()) != half {
		t.Fatalf("cut download wrote %d, want %d", buf.Len(), half)
	}
	var prog int64
	if _, err := bob.c.DownloadBlob(ctx, b.ID, half, &buf, func(done, total int64) { prog = done }); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if !bytes.Equal(buf.Bytes(), blob) || prog != int64(len(blob)) {
		t.Fatalf("resumed download differs (progress %d)", prog)
	}
}

type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		k, _ := l.w.Write(p[:l.n])
		l.n = 0
		return k, errors.New("disk full")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// TestWebSocketSendAndReconnect sends over a WebSocket connection, drops it,
// and checks that Receive resumes after the last processed cursor with no
// duplicate.
func TestWebSocketSendAndReconnect(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.register(ctx, "alice")
	bob := e.register(ctx, "bob")
	gid := []byte("g")
	if _, err := alice.c.CreateGroup(ctx, dstest.GroupInfo(gid, alice.sig)); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.Send(ctx, dstest.Commit(gid, 0, alice.sig, []dstest.FakeMember{bob.sig.Member()})); err != nil {
		t.Fatal(err)
	}
	cn, err := alice.c.Dial(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cn.Send(ctx, dstest.Application(gid, 1, fmt.Appendf(nil, "m%02d", i)), nil); err != nil {
				t.Errorf("ws send %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// A replay of accepted bytes is refused with a clear code.
	if _, err := cn.Send(ctx, dstest.Application(gid, 1, []byte("m00")), nil); !api.HasCode(err, api.CodeReplay) {
		t.Fatalf("replay over ws: want replay, got %v", err)
	}
	cn.Close()

	// Bob receives all 50 (not the commit that added him), each once, in
	// cursor order; then stops.
	ctx1, cancel1 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel1()
	var first []api.Delivery
	bob.c.Receive(ctx1, transport.ReceiveConfig{Handle: func(_ context.Context, p api.Page) error {
		first = append(first, p.Deliveries...)
		if len(first) >= 50 {
			cancel1()
		}
		return nil
	}})
	seen := map[string]bool{}
	for i, d := range first {
		if seen[string(d.Data)] || (i > 0 && d.Cursor <= first[i-1].Cursor) {
			t.Fatalf("delivery %d (%q) duplicated or out of cursor order", i, d.Data)
		}
		seen[string(d.Data)] = true
	}
	if len(first) != 50 {
		t.Fatalf("got %d deliveries, want 50", len(first))
	}
	// Ten more; a Receive resuming after the last cursor gets exactly those.
	for i := range 10 {
		if _, err := alice.c.Send(ctx, dstest.Application(gid, 1, fmt.Appendf(nil, "late%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	after := collect2(t, ctx, bob.c, first[len(first)-1].Cursor, 10)
	for i, d := range after {
		if want := fmt.Sprintf("late%d", i); !bytes.Equal(d.Data, dstest.Application(gid, 1, []byte(want))) {
			t.Fatalf("resumed delivery %d is not %s", i, want)
		}
	}
}

func collect2(t *testing.T, ctx context.Context, c *transport.Client, after uint64, want int) []api.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []api.Delivery
	c.Receive(ctx, transport.ReceiveConfig{After: after, Handle: func(_ context.Context, p api.Page) error {
		got = append(got, p.Deliveries...)
		if len(got) >= want {
			cancel()
		}
		return nil
	}})
	if len(got) != want {
		t.Fatalf("got %d deliveries, want %d", len(got), want)
	}
	return got
}
