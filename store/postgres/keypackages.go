package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/daylight-im/daylight/ds"
)

// PutKeyPackages implements ds.KeyPackageStore.
func (s *Store) PutKeyPackages(ctx context.Context, kps []ds.KeyPackage) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		for i, kp := range kps {
			if kp.LastResort {
				if _, err := tx.Exec(ctx, `DELETE FROM keypackages WHERE device = $1 AND last_resort`, int64(kp.Device)); err != nil {
					return err
				}
			}
			tag, err := tx.Exec(ctx, `INSERT INTO keypackages (ref, device, data, expires, last_resort) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
				kp.Ref, int64(kp.Device), kp.Data, us(kp.Expires), kp.LastResort)
			if err != nil {
				return fmt.Errorf("store/postgres: KeyPackage %d: %w", i, err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("store/postgres: KeyPackage %d: ref already stored: %w", i, ds.ErrInvalidInput)
			}
		}
		return nil
	})
	if isUnique(err) {
		return fmt.Errorf("store/postgres: KeyPackage ref already stored: %w", ds.ErrInvalidInput)
	}
	return err
}

// ClaimKeyPackage implements ds.KeyPackageStore: DELETE ... RETURNING on a
// row locked with SKIP LOCKED, so concurrent claims take distinct rows.
func (s *Store) ClaimKeyPackage(ctx context.Context, device ds.DeviceID, now time.Time) (ds.KeyPackage, error) {
	kp := ds.KeyPackage{Device: device}
	var exp int64
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `DELETE FROM keypackages WHERE ref = (
				SELECT ref FROM keypackages WHERE device = $1 AND NOT last_resort AND expires > $2
				ORDER BY expires, ref LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING ref, data, expires, last_resort`, int64(device), us(now)).Scan(&kp.Ref, &kp.Data, &exp, &kp.LastResort)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return c.QueryRow(ctx, `SELECT ref, data, expires, last_resort FROM keypackages WHERE device = $1 AND last_resort AND expires > $2`,
			int64(device), us(now)).Scan(&kp.Ref, &kp.Data, &exp, &kp.LastResort)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ds.KeyPackage{}, fmt.Errorf("store/postgres: device %d: %w", device, ds.ErrNoKeyPackage)
	}
	if err != nil {
		return ds.KeyPackage{}, err
	}
	kp.Expires = fromUS(exp)
	return kp, nil
}

// CountKeyPackages implements ds.KeyPackageStore.
func (s *Store) CountKeyPackages(ctx context.Context, device ds.DeviceID, now time.Time) (int, error) {
	var n int
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT COUNT(*) FROM keypackages WHERE device = $1 AND NOT last_resort AND expires > $2`, int64(device), us(now)).Scan(&n)
	})
	return n, err
}
