package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/daylight-im/daylight/ds"
)

// CreateBlob implements ds.BlobStore.
func (s *Store) CreateBlob(ctx context.Context, m ds.BlobMeta) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO blobs (id, owner, size, chunk_size, created) VALUES ($1, $2, $3, $4, $5)`,
			m.ID, int64(m.Owner), m.Size, m.ChunkSize, us(m.Created))
		if err != nil {
			return fmt.Errorf("store/postgres: create blob: %w", err)
		}
		return nil
	})
}

// PutBlobChunk implements ds.BlobStore.
func (s *Store) PutBlobChunk(ctx context.Context, id string, index int, data []byte) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		var complete bool
		err := tx.QueryRow(ctx, `SELECT complete FROM blobs WHERE id = $1 FOR SHARE`, id).Scan(&complete)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store/postgres: blob %s: %w", id, ds.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if complete {
			return fmt.Errorf("store/postgres: blob %s is complete: %w", id, ds.ErrConflict)
		}
		_, err = tx.Exec(ctx, `INSERT INTO blob_chunks (blob, idx, data) VALUES ($1, $2, $3)
			ON CONFLICT (blob, idx) DO UPDATE SET data = excluded.data`, id, index, data)
		return err
	})
}

// CompleteBlob implements ds.BlobStore.
func (s *Store) CompleteBlob(ctx context.Context, id string, size int64, sum [32]byte) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `UPDATE blobs SET complete = true, size = $1, sha256 = $2 WHERE id = $3 AND NOT complete`, size, sum[:], id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("store/postgres: blob %s: %w", id, ds.ErrNotFound)
		}
		return nil
	})
}

// Blob implements ds.BlobStore.
func (s *Store) Blob(ctx context.Context, id string) (ds.BlobMeta, error) {
	m := ds.BlobMeta{ID: id}
	var owner, created int64
	var sum []byte
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT owner, size, chunk_size, sha256, created, complete FROM blobs WHERE id = $1`, id).
			Scan(&owner, &m.Size, &m.ChunkSize, &sum, &created, &m.Complete)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ds.BlobMeta{}, fmt.Errorf("store/postgres: blob %s: %w", id, ds.ErrNotFound)
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
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT data FROM blob_chunks WHERE blob = $1 AND idx = $2`, id, index).Scan(&data)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store/postgres: blob %s chunk %d: %w", id, index, ds.ErrNotFound)
	}
	return data, err
}

// DeleteBlob implements ds.BlobStore.
func (s *Store) DeleteBlob(ctx context.Context, id string) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM blob_chunks WHERE blob = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM blobs WHERE id = $1`, id)
		return err
	})
}
