package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/daylight-im/daylight/ds"
)

// Retention holds and retained ciphertext of presented warrants
// (ds.RetentionStore, ds/retention.go; migration 7).

var _ ds.RetentionStore = (*Store)(nil)

// PutRetentionHold implements ds.RetentionStore.
func (s *Store) PutRetentionHold(ctx context.Context, h ds.RetentionHold) (ds.RetentionHold, error) {
	for _, t := range h.Targets {
		if strings.Contains(t, "\n") {
			return ds.RetentionHold{}, fmt.Errorf("store/sqlite: retention hold: target with a newline: %w", ds.ErrInvalidInput)
		}
	}
	var out ds.RetentionHold
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO retention_holds (commitment, targets, from_us, until_us) VALUES (?, ?, ?, ?)
			ON CONFLICT (commitment) DO UPDATE SET until_us = MAX(until_us, excluded.until_us)`,
			h.Commitment[:], strings.Join(h.Targets, "\n"), us(h.From), us(h.Until)); err != nil {
			return fmt.Errorf("store/sqlite: retention hold: %w", err)
		}
		var targets string
		var from, until int64
		if err := tx.QueryRowContext(ctx, `SELECT targets, from_us, until_us FROM retention_holds WHERE commitment = ?`, h.Commitment[:]).Scan(&targets, &from, &until); err != nil {
			return err
		}
		out = ds.RetentionHold{Commitment: h.Commitment, Targets: strings.Split(targets, "\n"), From: fromUS(from), Until: fromUS(until)}
		return nil
	})
	return out, err
}

// ActiveRetentionHolds implements ds.RetentionStore.
func (s *Store) ActiveRetentionHolds(ctx context.Context, now time.Time) ([]ds.RetentionHold, error) {
	var out []ds.RetentionHold
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT commitment, targets, from_us, until_us FROM retention_holds WHERE from_us <= ? AND until_us > ? ORDER BY from_us, commitment`, us(now), us(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c []byte
			var targets string
			var from, until int64
			if err := rows.Scan(&c, &targets, &from, &until); err != nil {
				return err
			}
			h := ds.RetentionHold{Targets: strings.Split(targets, "\n"), From: fromUS(from), Until: fromUS(until)}
			copy(h.Commitment[:], c)
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}

// RetainMessage implements ds.RetentionStore.
func (s *Store) RetainMessage(ctx context.Context, m ds.RetainedMessage, until time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO retained_messages (commitment, digest, group_id, epoch, received_us, data, until_us) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, m.Commitment[:], m.Digest[:], m.GroupID, int64(m.Epoch), us(m.Received), m.Data, us(until))
		if err != nil {
			return fmt.Errorf("store/sqlite: retain message: %w", err)
		}
		return nil
	})
}

// RetainedMessages implements ds.RetentionStore.
func (s *Store) RetainedMessages(ctx context.Context, commitment [32]byte, from, to time.Time) ([]ds.RetainedMessage, error) {
	out := []ds.RetainedMessage{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT digest, group_id, epoch, received_us, data FROM retained_messages
			WHERE commitment = ? AND received_us >= ? AND received_us < ? ORDER BY received_us, digest`, commitment[:], us(from), us(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d []byte
			var epoch, at int64
			m := ds.RetainedMessage{Commitment: commitment}
			if err := rows.Scan(&d, &m.GroupID, &epoch, &at, &m.Data); err != nil {
				return err
			}
			copy(m.Digest[:], d)
			m.Epoch, m.Received = uint64(epoch), fromUS(at)
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// PurgeRetained implements ds.RetentionStore.
func (s *Store) PurgeRetained(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM retained_messages WHERE until_us <= ?`, us(now))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM retention_holds WHERE until_us <= ?`, us(now))
		return err
	})
	return int(n), err
}
