package localstore

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const crashChildEnv = "DAYLIGHT_LOCALSTORE_CRASH_CHILD"

// TestCrashChild is the child of TestSIGKILLLosesNothingAcknowledged: it
// commits an increasing counter and prints each value once Commit returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		return // only meaningful as the re-executed child
	}
	key, err := ReadKeyFile(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "s"), Key{Raw: key})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if v, ok := s.Get("n"); ok {
		n, _ = strconv.Atoi(string(v))
	}
	pad := make([]byte, 64<<10) // make each commit a real write
	for {
		n++
		s.Put("n", []byte(strconv.Itoa(n)))
		s.Put("pad", pad)
		if err := s.Commit(); err != nil {
			t.Fatal(err)
		}
		fmt.Println(n)
	}
}

// TestSIGKILLLosesNothingAcknowledged kills a committing process 20 times at
// random moments: the store must always open with the key, and hold at
// least the last value whose Commit had returned.
func TestSIGKILLLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	key, err := NewKeyFile(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		acked, stopAfter := 0, 1+rand.IntN(30)
		for i := 0; i < stopAfter && sc.Scan(); i++ {
			acked, _ = strconv.Atoi(sc.Text())
		}
		cmd.Process.Kill()
		for sc.Scan() { // values acknowledged before the kill landed
			acked, _ = strconv.Atoi(sc.Text())
		}
		cmd.Wait()
		s, err := Open(filepath.Join(dir, "s"), Key{Raw: key})
		if err != nil {
			t.Fatalf("round %d: store does not open after SIGKILL: %v", round, err)
		}
		v, _ := s.Get("n")
		n, _ := strconv.Atoi(string(v))
		s.Close()
		if n < acked {
			t.Fatalf("round %d: store holds %d, but %d was acknowledged", round, n, acked)
		}
	}
}
