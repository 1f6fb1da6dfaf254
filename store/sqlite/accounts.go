package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/daylight-im/daylight/ds"
)

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func insertDevice(ctx context.Context, tx *sql.Tx, d ds.Device) (ds.Device, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO devices (username, name, key, created, acked)
		VALUES (?, ?, ?, ?, (SELECT v FROM meta WHERE k = 'last_id'))`, d.Username, d.Name, []byte(d.SigningKey), us(d.Created))
	if err != nil {
		return ds.Device{}, fmt.Errorf("store/sqlite: insert device: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return ds.Device{}, err
	}
	d.ID = ds.DeviceID(id)
	d.Revoked = time.Time{}
	return d, nil
}

// CreateAccount implements ds.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, first ds.Device) (ds.Device, error) {
	var out ds.Device
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE username = ?`, first.Username).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("store/sqlite: username %q: %w", first.Username, ds.ErrUsernameTaken)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (username, created) VALUES (?, ?)`, first.Username, us(first.Created)); err != nil {
			return fmt.Errorf("store/sqlite: insert account: %w", err)
		}
		var err error
		out, err = insertDevice(ctx, tx, first)
		return err
	})
	return out, err
}

// AddDevice implements ds.AccountStore.
func (s *Store) AddDevice(ctx context.Context, d ds.Device) (ds.Device, error) {
	var out ds.Device
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE username = ?`, d.Username).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store/sqlite: account %q: %w", d.Username, ds.ErrNotFound)
		}
		var err error
		out, err = insertDevice(ctx, tx, d)
		return err
	})
	return out, err
}

const deviceCols = `id, username, name, key, created, revoked`

func scanDevice(sc interface{ Scan(...any) error }) (ds.Device, error) {
	var d ds.Device
	var key []byte
	var created, revoked int64
	if err := sc.Scan(&d.ID, &d.Username, &d.Name, &key, &created, &revoked); err != nil {
		return ds.Device{}, err
	}
	d.SigningKey, d.Created, d.Revoked = key, fromUS(created), fromUS(revoked)
	return d, nil
}

// Device implements ds.AccountStore.
func (s *Store) Device(ctx context.Context, id ds.DeviceID) (ds.Device, error) {
	d, err := scanDevice(s.stmts.device.QueryRowContext(ctx, int64(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return ds.Device{}, fmt.Errorf("store/sqlite: device %d: %w", id, ds.ErrNotFound)
	}
	if err != nil {
		return ds.Device{}, fmt.Errorf("store/sqlite: device %d: %w", id, err)
	}
	return d, nil
}

// Devices implements ds.AccountStore.
func (s *Store) Devices(ctx context.Context, username string) ([]ds.Device, error) {
	var out []ds.Device
	err := s.read(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE username = ?`, username).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store/sqlite: account %q: %w", username, ds.ErrNotFound)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE username = ? ORDER BY id`, username)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDevice(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeDevice implements ds.AccountStore.
func (s *Store) RevokeDevice(ctx context.Context, id ds.DeviceID, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET revoked = ? WHERE id = ? AND revoked = 0`, max(us(at), 1), int64(id))
		if err != nil {
			return fmt.Errorf("store/sqlite: revoke: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var c int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE id = ?`, int64(id)).Scan(&c); err != nil {
				return err
			}
			if c == 0 {
				return fmt.Errorf("store/sqlite: device %d: %w", id, ds.ErrNotFound)
			}
			return nil // already revoked
		}
		for _, q := range []string{
			`DELETE FROM tokens WHERE device = ?`,
			`DELETE FROM challenges WHERE device = ?`,
			`DELETE FROM keypackages WHERE device = ?`,
			`DELETE FROM directs WHERE device = ?`,
			`UPDATE memberships SET to_id = (SELECT v FROM meta WHERE k = 'last_id') WHERE device = ? AND to_id IS NULL`,
		} {
			if _, err := tx.ExecContext(ctx, q, int64(id)); err != nil {
				return fmt.Errorf("store/sqlite: revoke: %w", err)
			}
		}
		return nil
	})
}

// PutChallenge implements ds.AccountStore.
func (s *Store) PutChallenge(ctx context.Context, c ds.ChallengeRecord) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO challenges (hash, device, expires) VALUES (?, ?, ?)`, c.NonceHash[:], int64(c.Device), us(c.Expires))
		return err
	})
}

// TakeChallenge implements ds.AccountStore.
func (s *Store) TakeChallenge(ctx context.Context, device ds.DeviceID, nonceHash [32]byte, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM challenges WHERE hash = ? AND device = ? AND expires > ?`, nonceHash[:], int64(device), us(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("store/sqlite: challenge unknown, used or expired: %w", ds.ErrUnauthenticated)
		}
		return nil
	})
}

// PutToken implements ds.AccountStore.
func (s *Store) PutToken(ctx context.Context, t ds.TokenRecord) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, device, username, expires) VALUES (?, ?, ?, ?)`, t.Hash[:], int64(t.Device), t.Username, us(t.Expires))
		return err
	})
}

// Token implements ds.AccountStore.
func (s *Store) Token(ctx context.Context, hash [32]byte, now time.Time) (ds.TokenRecord, error) {
	t := ds.TokenRecord{Hash: hash}
	var dev, exp int64
	err := s.stmts.token.QueryRowContext(ctx, hash[:], us(now)).Scan(&dev, &t.Username, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return ds.TokenRecord{}, fmt.Errorf("store/sqlite: token unknown or expired: %w", ds.ErrUnauthenticated)
	}
	if err != nil {
		return ds.TokenRecord{}, err
	}
	t.Device, t.Expires = ds.DeviceID(dev), fromUS(exp)
	return t, nil
}
