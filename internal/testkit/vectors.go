// Package testkit holds helpers shared by tests: locating the shared MLS test
// vectors (read in place from ../shared, never copied into the repository) and
// decoding them strictly.
package testkit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, found by walking up from the
// test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testkit: getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testkit: no go.mod above the test directory")
		}
		dir = parent
	}
}

// SharedDir returns ../shared beside the repository root. A missing directory
// fails the test: vectors are never skipped silently.
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("DAYLIGHT_SHARED"); d != "" {
		return d
	}
	d := filepath.Join(RepoRoot(t), "..", "shared")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("testkit: shared data directory %s: %v (hint: the repository must sit beside shared/, or set DAYLIGHT_SHARED)", d, err)
	}
	return d
}

// VectorPath returns the path of an official MLS test-vector file, failing the
// test if it does not exist.
func VectorPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(SharedDir(t), "mls-test-vectors", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testkit: vector file %s: %v", name, err)
	}
	return p
}

// LoadVectors decodes the vector file name into v, rejecting unknown fields so
// that a vector the test does not understand is noticed rather than ignored.
func LoadVectors(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(VectorPath(t, name))
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("testkit: decoding %s: %v", name, err)
	}
}

// HexBytes is a byte string that decodes from a JSON hex string.
type HexBytes []byte

// UnmarshalJSON implements json.Unmarshaler.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// RequirePostgres returns the DSN of the throwaway PostgreSQL cluster that
// .ci/run starts (DAYLIGHT_TEST_POSTGRES). Under CI a missing DSN fails the
// test; elsewhere the test is skipped with a message saying how to run it.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("DAYLIGHT_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("DAYLIGHT_TEST_POSTGRES is not set under CI: .ci/run must start PostgreSQL")
		}
		t.Skip("PostgreSQL tests need DAYLIGHT_TEST_POSTGRES (a DSN); .ci/run starts a throwaway cluster and sets it")
	}
	return dsn
}
