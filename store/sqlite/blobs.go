package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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

// PutBlobChunk implements ds.BlobStore.
func (s *Store) PutBlobChunk(ctx context.Context, id string, index int, data []byte) error {
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
		_, err = tx.ExecContext(ctx, `INSERT INTO blob_chunks (blob, idx, data) VALUES (?, ?, ?)
			ON CONFLICT (blob, idx) DO UPDATE SET data = excluded.data`, id, index, data)
		return err
	})
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
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store/sqlite: blob %s chunk %d: %w", id, index, ds.ErrNotFound)
	}
	return data, err
}

// DeleteBlob implements ds.BlobStore.
func (s *Store) DeleteBlob(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_chunks WHERE blob = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, id)
		return err
	})
}
