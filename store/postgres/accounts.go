package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

func insertDevice(ctx context.Context, tx pgx.Tx, d ds.Device) (ds.Device, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO devices (username, name, key, created, acked)
		VALUES ($1, $2, $3, $4, (SELECT v FROM meta WHERE k = 'last_id')) RETURNING id`, d.Username, d.Name, []byte(d.SigningKey), us(d.Created)).Scan(&id)
	if err != nil {
		return ds.Device{}, fmt.Errorf("store/postgres: insert device: %w", err)
	}
	d.ID, d.Revoked = ds.DeviceID(id), time.Time{}
	return d, nil
}

// CreateAccount implements ds.AccountStore.
func (s *Store) CreateAccount(ctx context.Context, first ds.Device) (ds.Device, error) {
	var out ds.Device
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO accounts (username, created) VALUES ($1, $2) ON CONFLICT DO NOTHING`, first.Username, us(first.Created))
		if err != nil {
			return fmt.Errorf("store/postgres: insert account: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("store/postgres: username %q: %w", first.Username, ds.ErrUsernameTaken)
		}
		out, err = insertDevice(ctx, tx, first)
		return err
	})
	return out, err
}

// AddDevice implements ds.AccountStore.
func (s *Store) AddDevice(ctx context.Context, d ds.Device) (ds.Device, error) {
	var out ds.Device
	err := s.write(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE username = $1`, d.Username).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store/postgres: account %q: %w", d.Username, ds.ErrNotFound)
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
	var id, created, revoked int64
	var key []byte
	if err := sc.Scan(&id, &d.Username, &d.Name, &key, &created, &revoked); err != nil {
		return ds.Device{}, err
	}
	d.ID, d.SigningKey, d.Created, d.Revoked = ds.DeviceID(id), key, fromUS(created), fromUS(revoked)
	return d, nil
}

// Device implements ds.AccountStore.
func (s *Store) Device(ctx context.Context, id ds.DeviceID) (ds.Device, error) {
	var d ds.Device
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		var err error
		d, err = scanDevice(c.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, int64(id)))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ds.Device{}, fmt.Errorf("store/postgres: device %d: %w", id, ds.ErrNotFound)
	}
	return d, err
}

// Devices implements ds.AccountStore.
func (s *Store) Devices(ctx context.Context, username string) ([]ds.Device, error) {
	var out []ds.Device
	err := s.read(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE username = $1`, username).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store/postgres: account %q: %w", username, ds.ErrNotFound)
		}
		rows, err := tx.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE username = $1 ORDER BY id`, username)
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

// lockLastID locks the meta row: writers that read or assign ids serialize
// on it, so ids are assigned in commit order.
func lockLastID(ctx context.Context, tx pgx.Tx) (uint64, error) {
	var v int64
	if err := tx.QueryRow(ctx, `SELECT v FROM meta WHERE k = 'last_id' FOR UPDATE`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store/postgres: last id: %w", err)
	}
	return uint64(v), nil
}

// RevokeDevice implements ds.AccountStore.
func (s *Store) RevokeDevice(ctx context.Context, id ds.DeviceID, at time.Time) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		last, err := lockLastID(ctx, tx)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE devices SET revoked = $1 WHERE id = $2 AND revoked = 0`, max(us(at), 1), int64(id))
		if err != nil {
			return fmt.Errorf("store/postgres: revoke: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var c int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE id = $1`, int64(id)).Scan(&c); err != nil {
				return err
			}
			if c == 0 {
				return fmt.Errorf("store/postgres: device %d: %w", id, ds.ErrNotFound)
			}
			return nil
		}
		for _, q := range []string{
			`DELETE FROM tokens WHERE device = $1`,
			`DELETE FROM challenges WHERE device = $1`,
			`DELETE FROM keypackages WHERE device = $1`,
			`DELETE FROM directs WHERE device = $1`,
		} {
			if _, err := tx.Exec(ctx, q, int64(id)); err != nil {
				return fmt.Errorf("store/postgres: revoke: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE memberships SET to_id = $1 WHERE device = $2 AND to_id IS NULL`, int64(last), int64(id))
		return err
	})
}

// PutChallenge implements ds.AccountStore.
func (s *Store) PutChallenge(ctx context.Context, c ds.ChallengeRecord) error {
	return s.pool.with(ctx, func(cn *pgx.Conn) error {
		_, err := cn.Exec(ctx, `INSERT INTO challenges (hash, device, expires) VALUES ($1, $2, $3)`, c.NonceHash[:], int64(c.Device), us(c.Expires))
		return err
	})
}

// TakeChallenge implements ds.AccountStore.
func (s *Store) TakeChallenge(ctx context.Context, device ds.DeviceID, nonceHash [32]byte, now time.Time) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `DELETE FROM challenges WHERE hash = $1 AND device = $2 AND expires > $3`, nonceHash[:], int64(device), us(now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("store/postgres: challenge unknown, used or expired: %w", ds.ErrUnauthenticated)
		}
		return nil
	})
}

// PutToken implements ds.AccountStore.
func (s *Store) PutToken(ctx context.Context, t ds.TokenRecord) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO tokens (hash, device, username, expires) VALUES ($1, $2, $3, $4)`, t.Hash[:], int64(t.Device), t.Username, us(t.Expires))
		return err
	})
}

// Token implements ds.AccountStore.
func (s *Store) Token(ctx context.Context, hash [32]byte, now time.Time) (ds.TokenRecord, error) {
	t := ds.TokenRecord{Hash: hash}
	var dev, exp int64
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT device, username, expires FROM tokens WHERE hash = $1 AND expires > $2`, hash[:], us(now)).Scan(&dev, &t.Username, &exp)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ds.TokenRecord{}, fmt.Errorf("store/postgres: token unknown or expired: %w", ds.ErrUnauthenticated)
	}
	if err != nil {
		return ds.TokenRecord{}, err
	}
	t.Device, t.Expires = ds.DeviceID(dev), fromUS(exp)
	return t, nil
}
