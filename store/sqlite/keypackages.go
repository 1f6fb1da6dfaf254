package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/daylight-im/daylight/ds"
)

// PutKeyPackages implements ds.KeyPackageStore.
func (s *Store) PutKeyPackages(ctx context.Context, kps []ds.KeyPackage) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for i, kp := range kps {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM keypackages WHERE ref = ?`, kp.Ref).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("store/sqlite: KeyPackage %d: ref already stored: %w", i, ds.ErrInvalidInput)
			}
			if kp.LastResort {
				if _, err := tx.ExecContext(ctx, `DELETE FROM keypackages WHERE device = ? AND last_resort = 1`, int64(kp.Device)); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO keypackages (ref, device, data, expires, last_resort) VALUES (?, ?, ?, ?, ?)`,
				kp.Ref, int64(kp.Device), kp.Data, us(kp.Expires), kp.LastResort); err != nil {
				return fmt.Errorf("store/sqlite: KeyPackage %d: %w", i, err)
			}
		}
		return nil
	})
}

// ClaimKeyPackage implements ds.KeyPackageStore. The select and the delete
// run in one write transaction on the single write connection, so two claims
// never see the same one-time KeyPackage.
func (s *Store) ClaimKeyPackage(ctx context.Context, device ds.DeviceID, now time.Time) (ds.KeyPackage, error) {
	var kp ds.KeyPackage
	err := s.write(ctx, func(tx *sql.Tx) error {
		var exp int64
		err := tx.QueryRowContext(ctx, `SELECT ref, data, expires, last_resort FROM keypackages
			WHERE device = ? AND expires > ? ORDER BY last_resort, expires, ref LIMIT 1`, int64(device), us(now)).
			Scan(&kp.Ref, &kp.Data, &exp, &kp.LastResort)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store/sqlite: device %d: %w", device, ds.ErrNoKeyPackage)
		}
		if err != nil {
			return err
		}
		kp.Device, kp.Expires = device, fromUS(exp)
		if !kp.LastResort {
			if _, err := tx.ExecContext(ctx, `DELETE FROM keypackages WHERE ref = ?`, kp.Ref); err != nil {
				return err
			}
		}
		return nil
	})
	return kp, err
}

// CountKeyPackages implements ds.KeyPackageStore.
func (s *Store) CountKeyPackages(ctx context.Context, device ds.DeviceID, now time.Time) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM keypackages WHERE device = ? AND last_resort = 0 AND expires > ?`, int64(device), us(now)).Scan(&n)
	return n, err
}
