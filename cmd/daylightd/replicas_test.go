package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/store/postgres"
)

// startInProcess runs one daylightd (run) with args and returns its URL.
func startInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, args, func(string) string { return "" }, &out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("daylightd %v: %v", args, err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
			return strings.Fields(rest)[0]
		}
		select {
		case err := <-errc:
			t.Fatalf("daylightd exited: %v", err)
		default:
		}
	}
	t.Fatalf("daylightd did not start: %s", out.String())
	return ""
}

// TestTwoReplicasOnePostgres runs two daylightd replicas over one PostgreSQL
// database; a client on each receives, over its WebSocket (push, no
// polling), what the client on the other replica sends.
func TestTwoReplicasOnePostgres(t *testing.T) {
	dsn := testkit.RequirePostgres(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "replicas_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		st, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Schema: schema})
		if err == nil {
			st.DropSchema(context.Background())
			st.Close()
		}
	})
	common := []string{"--addr", "127.0.0.1:0", "--insecure-http", "--testing-only-fake-mls", "--postgres", dsn, "--postgres-schema", schema}
	// One replica runs the access log and key directory (one log per
	// deployment); the other only delivers.
	urlA := startInProcess(t, append(common, "--data", t.TempDir())...)
	urlB := startInProcess(t, append(common, "--data", t.TempDir(), "--access-log=false")...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := func(url, name string) (*transport.Client, dstest.Signer) {
		c, err := transport.New(transport.Config{BaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		d, err := c.Register(ctx, name, "d", k)
		if err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		return c, dstest.Signer{Username: name, Device: ds.DeviceID(d.ID), Key: k}
	}
	alice, aliceSig := client(urlA, "alice")
	bob, bobSig := client(urlB, "bob")
	gid := []byte("cross")
	if _, err := alice.CreateGroup(ctx, dstest.GroupInfo(gid, aliceSig)); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, dstest.Commit(gid, 0, aliceSig, []dstest.FakeMember{bobSig.Member()})); err != nil {
		t.Fatal(err)
	}
	connA, err := alice.Dial(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer connA.Close()
	connB, err := bob.Dial(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer connB.Close()

	// recv waits for a pushed application message on conn; long-polling is
	// not involved, so only a cross-replica wake-up can deliver it quickly.
	recv := func(cn *transport.Conn, want []byte) time.Duration {
		start := time.Now()
		for {
			select {
			case p, ok := <-cn.Pages():
				if !ok {
					t.Fatalf("connection closed: %v", cn.Err())
				}
				for _, d := range p.Deliveries {
					if d.Kind == api.KindApplication && string(d.Data) == string(want) {
						cn.Ack(ctx, p.Cursor)
						return time.Since(start)
					}
				}
			case <-ctx.Done():
				t.Fatalf("message %q not pushed across replicas", want)
			}
		}
	}
	for i := range 5 {
		m := dstest.Application(gid, 1, fmt.Appendf(nil, "a->b %d", i))
		if _, err := connA.Send(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		if d := recv(connB, m); d > 5*time.Second {
			t.Fatalf("push A->B took %v", d)
		}
		m = dstest.Application(gid, 1, fmt.Appendf(nil, "b->a %d", i))
		if _, err := bob.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if d := recv(connA, m); d > 5*time.Second {
			t.Fatalf("push B->A took %v", d)
		}
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}
