package service_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
)

func crashKey(p uint32) []byte { return bytes.Repeat([]byte{byte(p), byte(p >> 8), 0xA5, 0x5A}, 8) }

// TestFileStoreCrashHelper is the child of TestAttackFileStoreSIGKILL: it
// puts period keys and destroys every third one, printing each
// acknowledgement only after the call returned.
func TestFileStoreCrashHelper(t *testing.T) {
	dir := os.Getenv("DAYLIGHT_TRUSTEE_CRASH_DIR")
	if dir == "" {
		return // only runs as the child process
	}
	s, err := service.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for p := uint32(0); ; p++ {
		if err := s.PutPeriodKey(ctx, p, crashKey(p)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("put %d\n", p)
		if p%3 == 0 {
			if err := s.DestroyPeriodKey(ctx, p); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("destroyed %d\n", p)
		}
	}
}

// TestAttackFileStoreSIGKILL kills a process writing and destroying keys at
// an arbitrary point: after reopening, every acknowledged key is there, every
// acknowledged destruction holds (the key unreadable, its bytes gone), and
// the store is usable.
func TestAttackFileStoreSIGKILL(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreCrashHelper$")
		cmd.Env = append(os.Environ(), "DAYLIGHT_TRUSTEE_CRASH_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		put, destroyed := map[uint32]bool{}, map[uint32]bool{}
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(time.Duration(150+100*round) * time.Millisecond)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 {
				n, _ := strconv.ParseUint(f[1], 10, 32)
				switch f[0] {
				case "put":
					put[uint32(n)] = true
				case "destroyed":
					destroyed[uint32(n)] = true
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
		if len(put) < 3 {
			t.Fatalf("round %d: child acknowledged only %d puts", round, len(put))
		}
		s, err := service.OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		raw := s.Raw()
		for p := range put {
			k, err := s.PeriodKey(ctx, p)
			switch {
			case destroyed[p]:
				if !errors.Is(err, trustee.ErrKeyDestroyed) || bytes.Contains(raw, crashKey(p)) {
					t.Fatalf("round %d: acknowledged destruction of period %d lost: %v", round, p, err)
				}
			case p%3 == 0 && errors.Is(err, trustee.ErrKeyDestroyed):
				// destroyed but killed before the acknowledgement: fine
			case err != nil || !bytes.Equal(k, crashKey(p)):
				t.Fatalf("round %d: acknowledged key of period %d lost: %v", round, p, err)
			}
		}
		// Every destruction whose marker reached the disk is complete after
		// the reopen, acknowledged or not: no key bytes remain.
		for p := range put {
			if gone, _ := s.Destroyed(ctx, p); gone && bytes.Contains(raw, crashKey(p)) {
				t.Fatalf("round %d: key of destroyed period %d still in the store", round, p)
			}
		}
		if _, err := s.Periods(ctx); err != nil {
			t.Fatalf("round %d: store unusable after the crash: %v", round, err)
		}
		t.Logf("round %d: %d puts, %d destructions acknowledged before SIGKILL", round, len(put), len(destroyed))
	}
}
