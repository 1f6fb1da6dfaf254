package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadAgainstStartedServer builds daylightd, lets daylight-load start it,
// and checks the report: messages were accepted, every receipted message
// reached every other member of its group, and server CPU was measured.
func TestLoadAgainstStartedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds daylightd and runs a short load; skipped in -short")
	}
	bin := filepath.Join(t.TempDir(), "daylightd")
	if out, err := exec.Command("go", "build", "-o", bin, "../daylightd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"--daylightd", bin, "--clients", "6", "--group-size", "3", "--duration", "1s", "--rate", "200", "--json"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if r.Accepted < 50 || r.Errors != 0 || r.Missing != 0 || r.Delivered < 2*r.Accepted || r.ServerCPUSeconds <= 0 || r.P99Millis <= 0 {
		t.Fatalf("implausible report: %+v", r)
	}
}

// TestLoadRealMLS runs the load with real MLS groups and PrivateMessages
// against daylightd's real validator.
func TestLoadRealMLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds daylightd and runs a short load; skipped in -short")
	}
	bin := filepath.Join(t.TempDir(), "daylightd")
	if out, err := exec.Command("go", "build", "-o", bin, "../daylightd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"--daylightd", bin, "--mls", "--clients", "6", "--group-size", "3", "--duration", "1s", "--rate", "100", "--json"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if r.Accepted < 20 || r.Errors != 0 || r.Missing != 0 || r.Delivered < 2*r.Accepted {
		t.Fatalf("implausible report: %+v", r)
	}
}

func TestLoadRefusesNonLoopback(t *testing.T) {
	err := run(context.Background(), []string{"--url", "http://192.0.2.1:8443"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("want loopback refusal, got %v", err)
	}
}

// TestLoadEscrowCommits runs the real-MLS load with franking off (daylightd
// started with --franking=false), then with escrowing clients and a commit
// every 10 messages per group: commits happen, every epoch's record is
// uploaded (at least one upload per commit), and nothing is lost.
func TestLoadEscrowCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds daylightd and runs a short load; skipped in -short")
	}
	bin := filepath.Join(t.TempDir(), "daylightd")
	if out, err := exec.Command("go", "build", "-o", bin, "../daylightd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--franking=false", "--commit-every", "10"}, {"--escrow", "--commit-every", "10"}} {
		var out bytes.Buffer
		full := append([]string{"--daylightd", bin, "--mls", "--clients", "6", "--group-size", "3", "--duration", "1s", "--rate", "100", "--json"}, args...)
		if err := run(context.Background(), full, &out, io.Discard); err != nil {
			t.Fatal(args, err)
		}
		var r Result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("--json output: %v\n%s", err, out.String())
		}
		escrow := args[0] == "--escrow"
		if r.Accepted < 20 || r.Errors != 0 || r.Missing != 0 || r.Commits < 2 || r.Franking == (args[0] == "--franking=false") || r.Escrow != escrow ||
			(escrow && r.EscrowUploads < r.Commits) || (!escrow && r.EscrowUploads != 0) {
			t.Fatalf("%v: implausible report: %+v", args, r)
		}
	}
}
