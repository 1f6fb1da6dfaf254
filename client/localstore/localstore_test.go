package localstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndWrongKey(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "key")
	k, err := NewKeyFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "s"), Key{Raw: k})
	if err != nil {
		t.Fatal(err)
	}
	s.Put("a/1", []byte("secret one"))
	s.Put("b", []byte{})
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "s"), Key{Raw: k}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open while locked: %v", err)
	}
	s.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, "s", fileName))
	if bytes.Contains(raw, []byte("secret one")) {
		t.Fatal("record stored in clear")
	}
	k2, _ := ReadKeyFile(kf)
	s, err = Open(filepath.Join(dir, "s"), Key{Raw: k2})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Get("a/1"); !ok || string(v) != "secret one" {
		t.Fatalf("got %q %v", v, ok)
	}
	if got := s.List("a/"); len(got) != 1 || got[0] != "a/1" {
		t.Fatalf("list %v", got)
	}
	s.Close()
	bad := bytes.Clone(k)
	bad[0] ^= 1
	if _, err := Open(filepath.Join(dir, "s"), Key{Raw: bad}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "s"), Key{Passphrase: []byte("x")}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("passphrase on key-file store: %v", err)
	}
}

func TestPassphraseAndTamper(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Key{Passphrase: []byte("correct horse")})
	if err != nil {
		t.Fatal(err)
	}
	s.Put("k", []byte("v"))
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir, Key{Passphrase: []byte("wrong")}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	p := filepath.Join(dir, fileName)
	raw, _ := os.ReadFile(p)
	raw[len(magic)+3] ^= 1 // the salt is authenticated as associated data
	os.WriteFile(p, raw, 0o600)
	if _, err := Open(dir, Key{Passphrase: []byte("correct horse")}); err == nil {
		t.Fatal("tampered header accepted")
	}
}

// FuzzDecodeRecords: the record decoder never panics, and what it accepts
// re-encodes to bytes that decode to the same records.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeRecords(map[string][]byte{"profile": []byte("{}"), "group/ab": {1, 2, 3}}))
	f.Add([]byte{0, 0, 0, 1, 'a', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRecords(b)
		if err != nil {
			return
		}
		m2, err := decodeRecords(encodeRecords(m))
		if err != nil || len(m2) != len(m) {
			t.Fatalf("re-decode: %v", err)
		}
		for k, v := range m {
			if !bytes.Equal(m2[k], v) {
				t.Fatalf("record %q changed", k)
			}
		}
	})
}

// BenchmarkCommit measures a durable commit (seal everything, temp file,
// fsync, rename, fsync dir) for stores of growing size.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("records=%d_1KiB", n), func(b *testing.B) {
			k := make([]byte, 32)
			s, err := Open(b.TempDir(), Key{Raw: k})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			v := make([]byte, 1024)
			for i := range n {
				s.Put(fmt.Sprintf("r/%d", i), v)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
