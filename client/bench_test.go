package client

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/daylight-im/daylight/client/localstore"
)

// BenchmarkSendText measures one text message end to end: sync, protect,
// durable local commit, send over HTTP to an in-process server (durable
// there too).
func BenchmarkSendText(b *testing.B) {
	ctx := context.Background()
	url := startServer(b)
	dir := b.TempDir()
	alice := openB(b, url, filepath.Join(dir, "alice"))
	bob := openB(b, url, filepath.Join(dir, "bob"))
	if _, err := alice.Register(ctx, "alice", "d"); err != nil {
		b.Fatal(err)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		b.Fatal(err)
	}
	if _, err := alice.CreateGroup(ctx, "g", []string{"bob"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := alice.SendText(ctx, "g", "hello"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ms, err := bob.Sync(ctx)
	if err != nil || len(ms) < b.N {
		b.Fatalf("bob got %d messages of %d: %v", len(ms), b.N, err)
	}
}

func openB(b *testing.B, url, home string) *Client {
	b.Helper()
	key := make([]byte, 32)
	copy(key, home)
	c, err := Open(Config{Home: home, Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
