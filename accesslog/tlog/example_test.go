package tlog_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
)

// Example shows how daylightd embeds the log: open it, mount it read-only at
// /log/, append an entry and wait for the witnessed checkpoint that covers
// it; and how a client verifies the entry from the tiles.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "daylight-log-example")
	defer os.RemoveAll(dir)

	l, err := tlog.Open(ctx, tlog.Config{
		Dir:    dir,
		Origin: "daylight.example/log",
		// Witnesses: []tlog.Witness{{URL: "http://127.0.0.1:8701", VKey: "..."}, ...},
		// WitnessThreshold: 2,
		CheckpointInterval: 100 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close(ctx)

	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))

	entry := &accesslog.WarrantCommitment{Court: "court.example", Jurisdiction: "FR", NumTargets: 1, Filed: 1764000000}
	idx, err := l.Append(ctx, entry)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := l.Await(ctx, idx); err != nil {
		fmt.Println(err)
		return
	}

	// A client (here reading the directory; an URL works the same way).
	c, _ := tlog.NewClient(dir, l.Policy(), nil)
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, _ := accesslog.Marshal(entry)
	fmt.Println("index", idx, "tree size", cp.Size, "verified:", c.VerifyEntry(ctx, cp, idx, raw) == nil)
	// Output: index 0 tree size 1 verified: true
}
