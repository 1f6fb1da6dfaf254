package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

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
