package keydir_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/kdstoretest"
)

func TestMemStoreConformance(t *testing.T) {
	kdstoretest.Run(t, func(*testing.T) keydir.Store { return keydir.NewMemStore() })
}

func TestFileStoreConformance(t *testing.T) {
	kdstoretest.Run(t, func(t *testing.T) keydir.Store {
		s, err := keydir.OpenFileStore(filepath.Join(t.TempDir(), "keydir.journal"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestFileStoreReopenAndTornTail: a directory on a FileStore restarts with
// the same state; a torn last record is dropped, not fatal.
func TestFileStoreReopenAndTornTail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keydir.journal")
	fx := newFixture(t)
	s, err := keydir.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fx.cfg
	cfg.Store = s
	d, err := keydir.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	enc, _, _ := registration(t, "alice")
	d.Register(ctx, enc)
	h1, err := d.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 0, 50, 1, 2, 3}) // a torn record
	f.Close()
	s2, err := keydir.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	cfg.Store = s2
	d2, err := keydir.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d2.Lookup(ctx, "alice")
	if err != nil || len(r.Records) != 1 {
		t.Fatalf("lookup after reopen: %v", err)
	}
	h2, err := d2.Publish(ctx)
	if err != nil || h2.Epoch != h1.Epoch+1 || h2.Root != h1.Root {
		t.Fatalf("publish after reopen: epoch %d: %v", h2.Epoch, err)
	}
}

// TestFileStoreSIGKILL: a child process registers accounts and prints each
// acknowledged one; the parent kills it with SIGKILL mid-stream, reopens the
// journal and finds every acknowledged registration.
func TestFileStoreSIGKILL(t *testing.T) {
	if os.Getenv("KEYDIR_SIGKILL_CHILD") != "" {
		sigkillChild()
		return
	}
	path := filepath.Join(t.TempDir(), "keydir.journal")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreSIGKILL$")
	cmd.Env = append(os.Environ(), "KEYDIR_SIGKILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []uint64
	sc := bufio.NewScanner(out)
	deadline := time.After(20 * time.Second)
	for len(acked) < 40 && sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			v, _ := strconv.ParseUint(n, 10, 64)
			acked = append(acked, v)
		}
		select {
		case <-deadline:
			t.Fatal("child too slow")
		default:
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if len(acked) < 40 {
		t.Fatalf("child acknowledged only %d writes", len(acked))
	}
	s, err := keydir.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range acked {
		var l [32]byte
		copy(l[:], fmt.Sprintf("label %d", n))
		if _, err := s.Versions(context.Background(), l); err != nil {
			t.Fatalf("acknowledged write %d lost: %v", n, err)
		}
	}
}

func sigkillChild() {
	s, err := keydir.OpenFileStore(os.Getenv("KEYDIR_SIGKILL_CHILD"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for n := uint64(0); ; n++ {
		var l [32]byte
		copy(l[:], fmt.Sprintf("label %d", n))
		if err := s.AppendVersion(context.Background(), l, 0, keydir.StoredVersion{Record: make([]byte, 300)}, l); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", n)
	}
}

func FuzzJournalRecord(f *testing.F) {
	for _, seed := range keydir.TestingOnlyJournalSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, ok := keydir.TestingOnlyJournalRoundTrip(data)
		if ok && string(out) != string(data) {
			t.Fatal("re-marshal differs")
		}
	})
}
