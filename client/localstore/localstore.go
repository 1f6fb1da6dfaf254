// Package localstore is the encrypted local store of one daylight device: its
// keys, MLS group states, contacts and pins, message history and queue cursor.
//
// The store is a directory holding one file, "store.sealed": a small header
// (magic, KDF parameters, salt) followed by an XChaCha20-Poly1305 ciphertext
// of every record. Records are named byte strings (Get/Put/Delete/List);
// Commit seals all of them under a fresh nonce and replaces the file
// atomically and durably (temp file, fsync, rename, fsync of the directory),
// so a crash leaves either the old or the new state, never a mix.
//
// The sealing key comes from a passphrase (scrypt, N=2^15, r=8, p=1, with a
// random salt kept in the header) or from a key file of 32 random bytes
// (hex) for scripts and tests; see docs/client.md. A lock file (flock)
// keeps two processes from using one store at the same time.
package localstore

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

const (
	fileName  = "store.sealed"
	lockName  = "store.lock"
	magic     = "daylight-localstore-v1\n"
	kdfNone   = 0 // key file: the key is used as is
	kdfScrypt = 1
	saltLen   = 16
	scryptN   = 1 << 15
)

// Sentinel errors callers branch on.
var (
	// ErrWrongKey reports a passphrase or key file that does not open the store.
	ErrWrongKey = errors.New("localstore: wrong passphrase or key file (the store does not decrypt)")
	// ErrLocked reports a store already opened by another process.
	ErrLocked = errors.New("localstore: store is in use by another process")
	// ErrCorrupt reports a store file that does not parse.
	ErrCorrupt = errors.New("localstore: store file is corrupt")
)

// Key is how the sealing key is obtained: exactly one of Passphrase or Raw.
type Key struct {
	Passphrase []byte // derived with scrypt and the store's salt
	Raw        []byte // 32 bytes, from a key file
}

// Store is an open store. It is not safe for concurrent use by goroutines;
// across processes the lock file serializes access.
type Store struct {
	dir     string
	lock    *os.File
	kdf     byte
	salt    []byte
	key     []byte
	records map[string][]byte
}

// Exists reports whether dir holds a store.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, fileName))
	return err == nil
}

// Open opens the store in dir, creating dir and an empty store (not yet
// written: call Commit) if there is none. It fails with ErrWrongKey if key
// does not decrypt an existing store and ErrLocked if another process holds
// it.
func Open(dir string, key Key) (*Store, error) {
	if (key.Passphrase == nil) == (key.Raw == nil) {
		return nil, errors.New("localstore: exactly one of a passphrase or a key file is needed")
	}
	if key.Raw != nil && len(key.Raw) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("localstore: key file: need %d bytes, have %d", chacha20poly1305.KeySize, len(key.Raw))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("%w (%s)", ErrLocked, dir)
	}
	s := &Store{dir: dir, lock: lf, records: map[string][]byte{}}
	data, err := os.ReadFile(filepath.Join(dir, fileName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.salt = make([]byte, saltLen)
		if _, err := rand.Read(s.salt); err != nil {
			s.Close()
			return nil, err
		}
		s.kdf = kdfNone
		if key.Passphrase != nil {
			s.kdf = kdfScrypt
		}
		if s.key, err = deriveKey(s.kdf, s.salt, key); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	case err != nil:
		s.Close()
		return nil, fmt.Errorf("localstore: %w", err)
	}
	if err := s.load(data, key); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func deriveKey(kdf byte, salt []byte, key Key) ([]byte, error) {
	switch kdf {
	case kdfNone:
		if key.Raw == nil {
			return nil, fmt.Errorf("%w: this store is sealed with a key file, not a passphrase", ErrWrongKey)
		}
		return bytes.Clone(key.Raw), nil
	case kdfScrypt:
		if key.Passphrase == nil {
			return nil, fmt.Errorf("%w: this store is sealed with a passphrase, not a key file", ErrWrongKey)
		}
		return scrypt.Key(key.Passphrase, salt, scryptN, 8, 1, chacha20poly1305.KeySize)
	}
	return nil, fmt.Errorf("%w: unknown KDF %d", ErrCorrupt, kdf)
}

// file layout: magic | kdf(1) | salt(16) | nonce(24) | ciphertext
func (s *Store) load(data []byte, key Key) error {
	hdr := len(magic) + 1 + saltLen
	if len(data) < hdr+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead || string(data[:len(magic)]) != magic {
		return ErrCorrupt
	}
	s.kdf = data[len(magic)]
	s.salt = bytes.Clone(data[len(magic)+1 : hdr])
	var err error
	if s.key, err = deriveKey(s.kdf, s.salt, key); err != nil {
		return err
	}
	aead, _ := chacha20poly1305.NewX(s.key)
	nonce := data[hdr : hdr+chacha20poly1305.NonceSizeX]
	pt, err := aead.Open(nil, nonce, data[hdr+chacha20poly1305.NonceSizeX:], data[:hdr])
	if err != nil {
		return ErrWrongKey
	}
	recs, err := decodeRecords(pt)
	clear(pt)
	if err != nil {
		return err
	}
	s.records = recs
	return nil
}

// records: repeated (u32 name length | name | u32 value length | value), names sorted.
func encodeRecords(m map[string][]byte) []byte {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	var b []byte
	for _, k := range names {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(m[k])))
		b = append(b, m[k]...)
	}
	return b
}

func decodeRecords(b []byte) (map[string][]byte, error) {
	m := map[string][]byte{}
	next := func() ([]byte, error) {
		if len(b) < 4 {
			return nil, ErrCorrupt
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(len(b)-4) < uint64(n) {
			return nil, ErrCorrupt
		}
		v := bytes.Clone(b[4 : 4+n])
		b = b[4+n:]
		return v, nil
	}
	for len(b) > 0 {
		k, err := next()
		if err != nil {
			return nil, err
		}
		v, err := next()
		if err != nil {
			return nil, err
		}
		if _, dup := m[string(k)]; dup {
			return nil, ErrCorrupt
		}
		m[string(k)] = v
	}
	return m, nil
}

// Get returns a copy of the record name, or nil and false.
func (s *Store) Get(name string) ([]byte, bool) {
	v, ok := s.records[name]
	return bytes.Clone(v), ok
}

// Put sets a record (in memory until Commit).
func (s *Store) Put(name string, value []byte) { s.records[name] = bytes.Clone(value) }

// Delete removes a record (in memory until Commit).
func (s *Store) Delete(name string) { delete(s.records, name) }

// List returns the sorted names of the records that start with prefix.
func (s *Store) List(prefix string) []string {
	var out []string
	for k := range s.records {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Commit seals every record and replaces the store file. It returns only
// after the new file and its directory entry are durable (fsync).
func (s *Store) Commit() error {
	hdr := append([]byte(magic), s.kdf)
	hdr = append(hdr, s.salt...)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	aead, _ := chacha20poly1305.NewX(s.key)
	pt := encodeRecords(s.records)
	out := aead.Seal(append(bytes.Clone(hdr), nonce...), nonce, pt, hdr)
	clear(pt)
	return WriteFileAtomic(filepath.Join(s.dir, fileName), out, 0o600)
}

// Close releases the lock and forgets the key.
func (s *Store) Close() error {
	clear(s.key)
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// WriteFileAtomic writes data to path durably: temp file in the same
// directory, fsync, rename over path, fsync of the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	return nil
}

// NewKeyFile writes a fresh random key file (hex of 32 bytes, mode 0600) at
// path; it refuses to overwrite an existing file.
func NewKeyFile(path string) ([]byte, error) {
	k := make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localstore: key file: %w", err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, hex.EncodeToString(k)+"\n"); err != nil {
		return nil, err
	}
	return k, f.Sync()
}

// ReadKeyFile reads a key file written by NewKeyFile.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("localstore: key file: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("localstore: key file %s: want %d hex-encoded bytes", filepath.Base(path), chacha20poly1305.KeySize)
	}
	return k, nil
}
