package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Store keeps intake records. Implementations: MemStore (tests) and
// FileStore (durable, one file per request).
type Store interface {
	// Create stores a new record; ErrExists if its id is present.
	Create(ctx context.Context, r *Record) error
	// Get returns a copy of a record; ErrNotFound if absent.
	Get(ctx context.Context, id ID) (*Record, error)
	// Put replaces an existing record; ErrNotFound if absent. It returns
	// only once the record is durable (FileStore).
	Put(ctx context.Context, r *Record) error
	// List returns every record ordered by receipt time, then id.
	List(ctx context.Context) ([]*Record, error)
}

func clone(r *Record) *Record {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a Record always encodes
	}
	var c Record
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

func sortRecords(rs []*Record) {
	sort.Slice(rs, func(i, j int) bool {
		ti, tj := rs[i].History[0].Time, rs[j].History[0].Time
		if ti != tj {
			return ti < tj
		}
		return rs[i].ID.String() < rs[j].ID.String()
	})
}

// MemStore is an in-memory Store.
type MemStore struct {
	mu sync.Mutex
	m  map[ID]*Record
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[ID]*Record{}} }

func (s *MemStore) Create(_ context.Context, r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[r.ID]; ok {
		return ErrExists
	}
	s.m[r.ID] = clone(r)
	return nil
}

func (s *MemStore) Get(_ context.Context, id ID) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	if !ok {
		return nil, ErrNotFound
	}
	return clone(r), nil
}

func (s *MemStore) Put(_ context.Context, r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[r.ID]; !ok {
		return ErrNotFound
	}
	s.m[r.ID] = clone(r)
	return nil
}

func (s *MemStore) List(context.Context) ([]*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Record, 0, len(s.m))
	for _, r := range s.m {
		out = append(out, clone(r))
	}
	sortRecords(out)
	return out, nil
}

// FileStore is a durable Store: one JSON file per request in Dir, written
// atomically (temporary file, fsync, rename, fsync of the directory).
type FileStore struct {
	Dir string
	mu  sync.Mutex
}

// NewFileStore returns a FileStore in dir, creating it (mode 0700).
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &FileStore{Dir: dir}, nil
}

func (s *FileStore) path(id ID) string { return filepath.Join(s.Dir, id.String()+".json") }

func (s *FileStore) write(r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
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
	if err := os.Rename(tmp, s.path(r.ID)); err != nil {
		return err
	}
	d, err := os.Open(s.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *FileStore) read(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("intake: %s: %w", filepath.Base(path), err)
	}
	return &r, nil
}

func (s *FileStore) Create(_ context.Context, r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(r.ID)); err == nil {
		return ErrExists
	}
	return s.write(r)
}

func (s *FileStore) Get(_ context.Context, id ID) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read(s.path(id))
}

func (s *FileStore) Put(_ context.Context, r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(r.ID)); err != nil {
		return ErrNotFound
	}
	return s.write(r)
}

func (s *FileStore) List(context.Context) ([]*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	des, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") || !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		r, err := s.read(filepath.Join(s.Dir, de.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortRecords(out)
	return out, nil
}
