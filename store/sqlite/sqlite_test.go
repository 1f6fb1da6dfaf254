package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/store/sqlite"
	"github.com/daylight-im/daylight/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) ds.Store {
		return open(t, filepath.Join(t.TempDir(), "daylight.db"))
	})
}

// TestDurabilitySettings is the crash-safety building block: every write
// transaction is fsynced to the WAL before Commit returns.
func TestDurabilitySettings(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "daylight.db"))
	defer st.Close()
	mode, sync, err := st.Durability(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Fatalf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
}

func BenchmarkAccepted(b *testing.B) {
	storetest.BenchAccepted(b, func(t testing.TB) ds.Store { return open(t, filepath.Join(t.TempDir(), "daylight.db")) })
}

func BenchmarkDelivered(b *testing.B) {
	storetest.BenchDelivered(b, func(t testing.TB) ds.Store { return open(t, filepath.Join(t.TempDir(), "daylight.db")) })
}

func BenchmarkSendLatency(b *testing.B) {
	storetest.BenchSendLatency(b, func(t testing.TB) ds.Store { return open(t, filepath.Join(t.TempDir(), "daylight.db")) })
}

// TestSchemaVersion: reopening migrates nothing twice, and a database from a
// newer binary is refused with a hint instead of being written to.
func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daylight.db")
	st := open(t, path)
	st.Close()
	st = open(t, path) // idempotent
	st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := sqlite.Open(t.Context(), sqlite.Config{Path: path}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// TestConformanceBlobDir runs the suite with attachment bytes kept as files in
// a data directory, and checks that they are files, not database rows.
func TestConformanceBlobDir(t *testing.T) {
	storetest.Run(t, func(t testing.TB) ds.Store {
		dir := t.TempDir()
		st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "daylight.db"), BlobDir: filepath.Join(dir, "blobs")})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "daylight.db"), BlobDir: filepath.Join(dir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := "00112233445566778899aabbccddeeff"
	if err := st.CreateBlob(t.Context(), ds.BlobMeta{ID: id, Owner: 1, Size: 3, ChunkSize: 3, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutBlobChunk(t.Context(), id, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "blobs", "00", id, "0")
	if b, err := os.ReadFile(p); err != nil || string(b) != "abc" {
		t.Fatalf("chunk file %s: %q, %v", p, b, err)
	}
	if err := st.PutBlobChunk(t.Context(), "../../../../etc/passwd0000000000", 0, []byte("x")); !errors.Is(err, ds.ErrInvalidInput) {
		t.Fatalf("path-like blob id: %v", err)
	}
	// A chunk file removed behind the store's back is reported by Check.
	os.Remove(p)
	if err := st.CompleteBlob(t.Context(), id, 3, [32]byte{}); err != nil {
		t.Fatal(err)
	}
	problems, err := st.Check(t.Context())
	if err != nil || len(problems) == 0 {
		t.Fatalf("Check with a missing chunk file: %v, %v", problems, err)
	}
	if err := st.DeleteBlob(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "00", id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("blob directory left after DeleteBlob: %v", err)
	}
}

func BenchmarkFetchSmall(b *testing.B) {
	storetest.BenchFetchSmall(b, func(t testing.TB) ds.Store { return open(t, filepath.Join(t.TempDir(), "daylight.db")) })
}
