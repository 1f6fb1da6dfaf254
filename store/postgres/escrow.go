package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/ds"
	"github.com/jackc/pgx/v5"
)

var _ ds.EscrowStore = (*Store)(nil)

// PutEscrowRecord implements ds.EscrowStore.
func (s *Store) PutEscrowRecord(ctx context.Context, u ds.EscrowUpload) (bool, error) {
	var created bool
	err := s.write(ctx, func(tx pgx.Tx) error {
		created = false
		// Serialize uploads of one (group, epoch) so that the one-candidate-
		// per-device rule holds under concurrent uploads from replicas.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(encode($1::bytea, 'hex') || '/' || $2::bigint::text, 0))`,
			u.GroupID, int64(u.Epoch)); err != nil {
			return fmt.Errorf("store/postgres: escrow lock: %w", err)
		}
		var have []byte
		err := tx.QueryRow(ctx, `SELECT record_id FROM escrow_uploads WHERE group_id = $1 AND epoch = $2 AND device = $3`,
			u.GroupID, int64(u.Epoch), int64(u.Uploader)).Scan(&have)
		switch {
		case err == nil:
			if !bytes.Equal(have, u.ID[:]) {
				return fmt.Errorf("store/postgres: escrow record: device %d already has another candidate for epoch %d: %w", u.Uploader, u.Epoch, ds.ErrConflict)
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO escrow_records (group_id, epoch, record_id, record, first_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			u.GroupID, int64(u.Epoch), u.ID[:], u.Record, us(u.At))
		if err != nil {
			return fmt.Errorf("store/postgres: insert escrow record: %w", err)
		}
		created = tag.RowsAffected() == 1
		if _, err := tx.Exec(ctx, `INSERT INTO escrow_uploads (group_id, epoch, device, record_id, at_us) VALUES ($1, $2, $3, $4, $5)`,
			u.GroupID, int64(u.Epoch), int64(u.Uploader), u.ID[:], us(u.At)); err != nil {
			return fmt.Errorf("store/postgres: insert escrow upload: %w", err)
		}
		return nil
	})
	return created, err
}

// EscrowRecords implements ds.EscrowStore.
func (s *Store) EscrowRecords(ctx context.Context, groupID []byte, epoch uint64) ([]ds.EscrowCandidate, error) {
	var out []ds.EscrowCandidate
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = []ds.EscrowCandidate{}
		rows, err := tx.Query(ctx, `SELECT r.record_id, r.record, r.first_us, u.device FROM escrow_records r
			JOIN escrow_uploads u ON u.group_id = r.group_id AND u.epoch = r.epoch AND u.record_id = r.record_id
			WHERE r.group_id = $1 AND r.epoch = $2 ORDER BY r.first_us, r.record_id, u.device`, groupID, int64(epoch))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, rec []byte
			var first, dev int64
			if err := rows.Scan(&id, &rec, &first, &dev); err != nil {
				return err
			}
			if len(id) != 32 {
				return fmt.Errorf("store/postgres: escrow record id of %d bytes", len(id))
			}
			if n := len(out); n > 0 && bytes.Equal(out[n-1].ID[:], id) {
				out[n-1].Uploaders = append(out[n-1].Uploaders, ds.DeviceID(dev))
				continue
			}
			c := ds.EscrowCandidate{Record: rec, First: fromUS(first), Uploaders: []ds.DeviceID{ds.DeviceID(dev)}}
			copy(c.ID[:], id)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var _ ds.EpochStatementStore = (*Store)(nil)

// PutEpochStatement implements ds.EpochStatementStore.
func (s *Store) PutEpochStatement(ctx context.Context, st ds.EpochStatement) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO epoch_statements (group_id, epoch, uploader, statement, received_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			st.GroupID, int64(st.Epoch), int64(st.Uploader), st.Statement, us(st.Received))
		if err != nil {
			return fmt.Errorf("store/postgres: insert epoch statement: %w", err)
		}
		if tag.RowsAffected() == 1 {
			for _, m := range st.Members {
				if _, err := tx.Exec(ctx, `INSERT INTO epoch_members (account, group_id, epoch) VALUES ($1, $2, $3)`, m, st.GroupID, int64(st.Epoch)); err != nil {
					return fmt.Errorf("store/postgres: insert epoch member: %w", err)
				}
			}
		}
		var have []byte
		if err := tx.QueryRow(ctx, `SELECT statement FROM epoch_statements WHERE group_id = $1 AND epoch = $2`, st.GroupID, int64(st.Epoch)).Scan(&have); err != nil {
			return err
		}
		if !bytes.Equal(have, st.Statement) {
			return fmt.Errorf("store/postgres: epoch %d already has a statement: %w", st.Epoch, ds.ErrConflict)
		}
		return nil
	})
}

// EpochStatement implements ds.EpochStatementStore.
func (s *Store) EpochStatement(ctx context.Context, groupID []byte, epoch uint64) (ds.EpochStatement, error) {
	st := ds.EpochStatement{GroupID: groupID, Epoch: epoch}
	err := s.read(ctx, func(tx pgx.Tx) error {
		var up, rec int64
		if err := tx.QueryRow(ctx, `SELECT uploader, statement, received_us FROM epoch_statements WHERE group_id = $1 AND epoch = $2`, groupID, int64(epoch)).
			Scan(&up, &st.Statement, &rec); err != nil {
			return err
		}
		st.Uploader, st.Received = ds.DeviceID(up), fromUS(rec)
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ds.EpochStatement{}, fmt.Errorf("store/postgres: epoch statement: %w", ds.ErrNotFound)
	}
	if err != nil {
		return ds.EpochStatement{}, err
	}
	return st, nil
}

// MemberEpochs implements ds.EpochStatementStore.
func (s *Store) MemberEpochs(ctx context.Context, account string) ([]ds.EpochRef, error) {
	out := []ds.EpochRef{}
	err := s.read(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT group_id, epoch FROM epoch_members WHERE account = $1 ORDER BY group_id, epoch`, account)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ds.EpochRef
			var e int64
			if err := rows.Scan(&r.GroupID, &e); err != nil {
				return err
			}
			r.Epoch = uint64(e)
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
