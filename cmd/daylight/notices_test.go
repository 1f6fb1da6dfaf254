package main

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/warrant"
)

// TestNoticesCommand: `daylight opening-key` prints a stable key; an Opening
// sealed to it in the access log shows in `daylight notices --json` with its
// case and court; without a log key the command refuses.
func TestNoticesCommand(t *testing.T) {
	ctx := context.Background()
	c := &cli{t: t, url: startServer(t), dir: t.TempDir()}
	c.ok("alice", "register", "alice")
	var k1, k2 struct {
		OpeningKey string `json:"opening_key"`
	}
	c.json("alice", &k1, "opening-key")
	c.json("alice", &k2, "opening-key")
	if k1.OpeningKey == "" || k1.OpeningKey != k2.OpeningKey {
		t.Fatalf("opening-key not stable: %q then %q", k1.OpeningKey, k2.OpeningKey)
	}
	pub, err := base64.StdEncoding.DecodeString(k1.OpeningKey)
	if err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	l, err := tlog.Open(ctx, tlog.Config{Dir: logDir, Origin: "daylight.test/log", CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	o := &warrant.Opening{WarrantCommitment: [32]byte{7}, Target: "alice", Court: "court-a", Jurisdiction: "A",
		CaseNumber: "2026-CR-1", LegalBasis: "demo", WindowStart: 1_800_000_000, WindowEnd: 1_800_000_600, Records: 3, Opened: 1_800_001_000}
	sealed, err := warrant.SealOpening(pub, o)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := l.Append(ctx, &accesslog.Opening{WarrantCommitment: o.WarrantCommitment, Trustee: "trustee-1", Time: o.Opened, Sealed: sealed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Await(ctx, idx); err != nil {
		t.Fatal(err)
	}
	var ns []struct {
		Court      string `json:"court"`
		CaseNumber string `json:"case_number"`
		Records    int    `json:"records"`
	}
	c.json("alice", &ns, "notices", "--log", logDir, "--log-key", l.VKey())
	if len(ns) != 1 || ns[0].Court != "court-a" || ns[0].CaseNumber != "2026-CR-1" || ns[0].Records != 3 {
		t.Fatalf("notices = %+v", ns)
	}
	c.ok("bob", "register", "bob")
	c.ok("bob", "opening-key")
	var none []any
	c.json("bob", &none, "notices", "--log", logDir, "--log-key", l.VKey())
	if len(none) != 0 {
		t.Fatalf("bob sees %v", none)
	}
	if _, err := c.run("alice", "notices", "--log", logDir); err == nil {
		t.Fatal("notices without --log-key accepted")
	}
}
