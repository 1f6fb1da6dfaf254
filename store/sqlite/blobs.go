package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/daylight-im/daylight/ds"
)

// CreateBlob implements ds.BlobStore.
func (s *Store) CreateBlob(ctx context.Context, m ds.BlobMeta) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (id, owner, size, chunk_size, created, complete) VALUES (?, ?, ?, ?, ?, 0)`,
			m.ID, int64(m.Owner), m.Size, m.ChunkSize, us(m.Created))
		if err != nil {
			return fmt.Errorf("store/sqlite: create blob: %w", err)
		}
		return nil
	})
}

// PutBlobChunk implements ds.BlobStore. With a BlobDir the chunk's file is
// written and fsynced before the write transaction that records it, so the
// single write connection is never held during file I/O.
func (s *Store) PutBlobChunk(ctx context.Context, id string, index int, data []byte) error {
	if s.blobDir != "" {
		if err := s.writeChunkFile(id, index, data); err != nil {
			return err
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var complete bool
		err := tx.QueryRowContext(ctx, `SELECT complete FROM blobs WHERE id = ?`, id).Scan(&complete)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store/sqlite: blob %s: %w", id, ds.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if complete {
			return fmt.Errorf("store/sqlite: blob %s is complete: %w", id, ds.ErrConflict)
		}
		if s.blobDir != "" {
			_, err = tx.ExecContext(ctx, `INSERT INTO blob_files (blob, idx, length) VALUES (?, ?, ?)
				ON CONFLICT (blob, idx) DO UPDATE SET length = excluded.length`, id, index, len(data))
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO blob_chunks (blob, idx, data) VALUES (?, ?, ?)
			ON CONFLICT (blob, idx) DO UPDATE SET data = excluded.data`, id, index, data)
		return err
	})
}

// validBlobID accepts the ids ds assigns: 32 lowercase hex digits. Checked
// before an id becomes part of a file path.
func validBlobID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) chunkPath(id string, index int) (string, error) {
	if !validBlobID(id) || index < 0 {
		return "", fmt.Errorf("store/sqlite: blob id %q: %w", id, ds.ErrInvalidInput)
	}
	return filepath.Join(s.blobDir, id[:2], id, strconv.Itoa(index)), nil
}

// writeChunkFile writes a chunk atomically and durably: temporary file,
// fsync, rename, fsync of the directory (and of new parent directories).
func (s *Store) writeChunkFile(id string, index int, data []byte) error {
	p, err := s.chunkPath(id, index)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("store/sqlite: blob directory: %w", err)
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(filepath.Dir(dir))); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(dir, ".chunk-*")
	if err != nil {
		return fmt.Errorf("store/sqlite: blob chunk: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store/sqlite: blob chunk: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store/sqlite: sync %s: %w", filepath.Base(dir), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store/sqlite: sync %s: %w", filepath.Base(dir), err)
	}
	return nil
}

// CompleteBlob implements ds.BlobStore.
func (s *Store) CompleteBlob(ctx context.Context, id string, size int64, sum [32]byte) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE blobs SET complete = 1, size = ?, sha256 = ? WHERE id = ? AND complete = 0`, size, sum[:], id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("store/sqlite: blob %s: %w", id, ds.ErrNotFound)
		}
		return nil
	})
}

// Blob implements ds.BlobStore.
func (s *Store) Blob(ctx context.Context, id string) (ds.BlobMeta, error) {
	m := ds.BlobMeta{ID: id}
	var owner, created int64
	var sum []byte
	err := s.r.QueryRowContext(ctx, `SELECT owner, size, chunk_size, sha256, created, complete FROM blobs WHERE id = ?`, id).
		Scan(&owner, &m.Size, &m.ChunkSize, &sum, &created, &m.Complete)
	if errors.Is(err, sql.ErrNoRows) {
		return ds.BlobMeta{}, fmt.Errorf("store/sqlite: blob %s: %w", id, ds.ErrNotFound)
	}
	if err != nil {
		return ds.BlobMeta{}, err
	}
	m.Owner, m.Created = ds.DeviceID(owner), fromUS(created)
	copy(m.SHA256[:], sum)
	return m, nil
}

// BlobChunk implements ds.BlobStore.
func (s *Store) BlobChunk(ctx context.Context, id string, index int) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM blob_chunks WHERE blob = ? AND idx = ?`, id, index).Scan(&data)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return data, err
	}
	var n int64
	err = s.r.QueryRowContext(ctx, `SELECT length FROM blob_files WHERE blob = ? AND idx = ?`, id, index).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store/sqlite: blob %s chunk %d: %w", id, index, ds.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	p, err := s.chunkPath(id, index)
	if err != nil {
		return nil, err
	}
	data, err = os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: blob %s chunk %d: %w", id, index, err)
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("store/sqlite: blob %s chunk %d: file has %d bytes, recorded %d", id, index, len(data), n)
	}
	return data, nil
}

// DeleteBlob implements ds.BlobStore. Rows go first, then files: a crash in
// between leaves unreferenced files, never a row without its file.
func (s *Store) DeleteBlob(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM blob_chunks WHERE blob = ?`, `DELETE FROM blob_files WHERE blob = ?`, `DELETE FROM blobs WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || s.blobDir == "" || !validBlobID(id) {
		return err
	}
	if err := os.RemoveAll(filepath.Join(s.blobDir, id[:2], id)); err != nil {
		return fmt.Errorf("store/sqlite: removing blob files: %w", err)
	}
	return nil
}
