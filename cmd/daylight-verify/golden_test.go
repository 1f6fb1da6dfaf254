package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/log (a witnessed log copy) and testdata/log.golden")

// TestGoldenLogCopy verifies a fixed copy of a witnessed access log kept in
// testdata/log (checkpoint + tiles only, as a mirror or an auditor would
// have them; the private keys that made it were discarded) and compares the
// report with testdata/log.golden. It pins the entry encoding and the
// report: a change to either shows up here. Regenerate with
// `go test ./cmd/daylight-verify -run TestGoldenLogCopy -update`.
func TestGoldenLogCopy(t *testing.T) {
	if *update {
		regenerateGolden(t)
	}
	keys, err := os.ReadFile(filepath.Join("testdata", "log.keys"))
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	args := []string{"log", "--log", filepath.Join("testdata", "log")}
	for _, line := range strings.Split(strings.TrimSpace(string(keys)), "\n") {
		kind, vkey, _ := strings.Cut(line, " ")
		switch kind {
		case "log":
			args = append(args, "--log-key", vkey)
		case "witness":
			args = append(args, "--witness", vkey)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), append(args, "--json"), nil, &out, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", "log.golden"), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(filepath.Join("testdata", "log.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("report differs from testdata/log.golden:\n%s", out.Bytes())
	}
}

func regenerateGolden(t *testing.T) {
	f := newFixture(t) // 9 entries, 2 witnesses
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	f.log.Close(ctx)
	dst := filepath.Join("testdata", "log")
	os.RemoveAll(dst)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(f.dir, "checkpoint"), filepath.Join(f.dir, "tile"), dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	// Keep only the partial tiles of the published size (what a mirror of
	// that checkpoint has); tessera leaves older partials until its GC runs.
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, ".p/") && filepath.Base(p) != "9" {
			os.Remove(p)
		}
		return nil
	})
	keys := "log " + f.vkey + "\n"
	for _, w := range f.witnesses {
		keys += "witness " + w + "\n"
	}
	if err := os.WriteFile(filepath.Join("testdata", "log.keys"), []byte(keys), 0o644); err != nil {
		t.Fatal(err)
	}
}
