package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/daylight-im/daylight/trustee"
)

// FileStore is a trustee.Store (and the service's replay ledger) kept as
// files in one directory, owned by the trustee's operator:
//
//	keys/<period>          live X-Wing period key seed (mode 0600)
//	destroyed/<period>     marker: the period's key was destroyed
//	checkpoint             the largest access-log checkpoint accepted
//	released/<request id>  a release request already served (replay refusal)
//	warrants/<commitment>  a warrant this trustee released for, awaiting its opening (A7)
//	destructions/<period>  the trustee's signed statement that it destroyed a period key
//
// Every write is atomic and durable: temp file, fsync, rename, fsync of the
// directory (house style 16). DestroyPeriodKey first writes the destroyed
// marker durably (so the key can never be used or re-imported again, even
// after a crash half-way), then overwrites the key file with zeros, fsyncs,
// removes it and fsyncs the directory.
//
// Limit: overwriting in place erases the bytes on file systems that update
// in place (ext4 data=ordered, xfs); a copy-on-write or journaling-data file
// system, a snapshot or a backup may keep old blocks. Operators put the data
// directory on a dedicated, unbacked-up, encrypted volume (docs/trustee.md).
type FileStore struct {
	dir string
	mu  sync.Mutex
}

// OpenFileStore opens (creating if needed) a store in dir.
func OpenFileStore(dir string) (*FileStore, error) {
	for _, d := range []string{dir, filepath.Join(dir, "keys"), filepath.Join(dir, "destroyed"), filepath.Join(dir, "released"), filepath.Join(dir, "warrants"), filepath.Join(dir, "destructions")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("trustee/service: store: %w", err)
		}
	}
	s := &FileStore{dir: dir}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("trustee/service: store: recovery: %w", err)
	}
	return s, nil
}

// recover finishes what a crash interrupted: temp files of unacknowledged
// writes are overwritten and removed (they may hold key bytes), and a key
// whose destroyed marker is durable but whose file survived is destroyed.
func (s *FileStore) recover() error {
	for _, sub := range []string{"keys", "destroyed", "released", "warrants", "destructions", "."} {
		d := filepath.Join(s.dir, sub)
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				if err := shred(filepath.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	gone, err := s.list("destroyed")
	if err != nil {
		return err
	}
	for _, p := range gone {
		if err := shred(filepath.Join(s.dir, "keys", periodName(p))); err != nil {
			return err
		}
	}
	return nil
}

// shred overwrites a file with zeros, fsyncs, removes it and fsyncs its
// directory. A missing file is not an error.
func shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(make([]byte, fi.Size()), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("overwrite %s: %w", filepath.Base(path), err)
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

var _ trustee.Store = (*FileStore)(nil)

func periodName(p uint32) string { return strconv.FormatUint(uint64(p), 10) }

// writeAtomic writes data to path durably: temp file, fsync, rename, fsync dir.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// PutPeriodKey stores priv for period; it returns only after the key is durable.
func (s *FileStore) PutPeriodKey(_ context.Context, period uint32, priv []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gone, err := exists(filepath.Join(s.dir, "destroyed", periodName(period))); err != nil {
		return err
	} else if gone {
		return fmt.Errorf("%w: period %d", trustee.ErrKeyDestroyed, period)
	}
	path := filepath.Join(s.dir, "keys", periodName(period))
	if there, err := exists(path); err != nil {
		return err
	} else if there {
		return fmt.Errorf("%w: period %d", trustee.ErrKeyExists, period)
	}
	return writeAtomic(path, priv)
}

// PeriodKey returns the live key of period.
func (s *FileStore) PeriodKey(_ context.Context, period uint32) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gone, err := exists(filepath.Join(s.dir, "destroyed", periodName(period))); err != nil {
		return nil, err
	} else if gone {
		return nil, fmt.Errorf("%w: period %d", trustee.ErrKeyDestroyed, period)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "keys", periodName(period)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: period %d", trustee.ErrNoKey, period)
	}
	return b, err
}

// DestroyPeriodKey destroys period's key for good (see FileStore).
func (s *FileStore) DestroyPeriodKey(_ context.Context, period uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeAtomic(filepath.Join(s.dir, "destroyed", periodName(period)), nil); err != nil {
		return err
	}
	if err := shred(filepath.Join(s.dir, "keys", periodName(period))); err != nil {
		return fmt.Errorf("trustee/service: destroy key of period %d: %w", period, err)
	}
	return nil
}

func (s *FileStore) list(sub string) ([]uint32, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, sub))
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("trustee/service: store: unexpected file %s/%s", sub, e.Name())
		}
		out = append(out, uint32(p))
	}
	slices.Sort(out)
	return out, nil
}

// Periods lists live periods, ascending.
func (s *FileStore) Periods(_ context.Context) ([]uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	live, err := s.list("keys")
	if err != nil {
		return nil, err
	}
	gone, err := s.list("destroyed")
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(live, func(p uint32) bool { return slices.Contains(gone, p) }), nil
}

// Destroyed reports whether period's key was destroyed.
func (s *FileStore) Destroyed(_ context.Context, period uint32) (bool, error) {
	return exists(filepath.Join(s.dir, "destroyed", periodName(period)))
}

// LatestCheckpoint returns the stored checkpoint, nil if none.
func (s *FileStore) LatestCheckpoint(_ context.Context) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "checkpoint"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// SetLatestCheckpoint durably replaces the stored checkpoint.
func (s *FileStore) SetLatestCheckpoint(_ context.Context, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeAtomic(filepath.Join(s.dir, "checkpoint"), raw)
}

// ClaimRequest durably records that request id is being served and reports
// false if it was claimed before (a replay).
func (s *FileStore) ClaimRequest(_ context.Context, id [32]byte, note []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, "released", fmt.Sprintf("%x", id))
	if there, err := exists(path); err != nil || there {
		return false, err
	}
	return true, writeAtomic(path, note)
}

// PutWarrant durably stores (replaces) the record of a warrant this trustee
// released for, under its commitment.
func (s *FileStore) PutWarrant(_ context.Context, commitment [32]byte, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeAtomic(filepath.Join(s.dir, "warrants", fmt.Sprintf("%x", commitment)), data)
}

// Warrant returns the stored record of a warrant, nil if none.
func (s *FileStore) Warrant(_ context.Context, commitment [32]byte) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "warrants", fmt.Sprintf("%x", commitment)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Warrants returns every stored warrant record.
func (s *FileStore) Warrants(_ context.Context) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := os.ReadDir(filepath.Join(s.dir, "warrants"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, "warrants", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Claimed returns the note stored with a claimed request (the signed
// Release entry), nil if the request was never claimed.
func (s *FileStore) Claimed(_ context.Context, id [32]byte) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "released", fmt.Sprintf("%x", id)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil && b == nil {
		b = []byte{}
	}
	return b, err
}

// PutDestruction durably stores the signed statement of a period key's
// destruction.
func (s *FileStore) PutDestruction(_ context.Context, period uint32, statement []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeAtomic(filepath.Join(s.dir, "destructions", periodName(period)), statement)
}

// Destructions returns every stored destruction statement, by period.
func (s *FileStore) Destructions(_ context.Context) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.list("destructions")
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, p := range ps {
		b, err := os.ReadFile(filepath.Join(s.dir, "destructions", periodName(p)))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Raw returns the contents of every file in the store, for destruction tests.
func (s *FileStore) Raw() []byte {
	var buf bytes.Buffer
	filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			buf.Write(b)
		}
		return nil
	})
	return buf.Bytes()
}
