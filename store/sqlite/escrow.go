package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/ds"
)

var _ ds.EscrowStore = (*Store)(nil)

// PutEscrowRecord implements ds.EscrowStore.
func (s *Store) PutEscrowRecord(ctx context.Context, u ds.EscrowUpload) (bool, error) {
	var created bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		var have []byte
		err := tx.QueryRowContext(ctx, `SELECT record_id FROM escrow_uploads WHERE group_id = ? AND epoch = ? AND device = ?`,
			u.GroupID, int64(u.Epoch), int64(u.Uploader)).Scan(&have)
		switch {
		case err == nil:
			if !bytes.Equal(have, u.ID[:]) {
				return fmt.Errorf("store/sqlite: escrow record: device %d already has another candidate for epoch %d: %w", u.Uploader, u.Epoch, ds.ErrConflict)
			}
			return nil // the same upload again
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO escrow_records (group_id, epoch, record_id, record, first_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			u.GroupID, int64(u.Epoch), u.ID[:], u.Record, us(u.At))
		if err != nil {
			return fmt.Errorf("store/sqlite: insert escrow record: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO escrow_uploads (group_id, epoch, device, record_id, at_us) VALUES (?, ?, ?, ?, ?)`,
			u.GroupID, int64(u.Epoch), int64(u.Uploader), u.ID[:], us(u.At)); err != nil {
			return fmt.Errorf("store/sqlite: insert escrow upload: %w", err)
		}
		return nil
	})
	return created, err
}

// EscrowRecords implements ds.EscrowStore.
func (s *Store) EscrowRecords(ctx context.Context, groupID []byte, epoch uint64) ([]ds.EscrowCandidate, error) {
	out := []ds.EscrowCandidate{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.record_id, r.record, r.first_us, u.device FROM escrow_records r
			JOIN escrow_uploads u ON u.group_id = r.group_id AND u.epoch = r.epoch AND u.record_id = r.record_id
			WHERE r.group_id = ? AND r.epoch = ? ORDER BY r.first_us, r.record_id, u.device`, groupID, int64(epoch))
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
				return fmt.Errorf("store/sqlite: escrow record id of %d bytes", len(id))
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
	return s.write(ctx, func(tx *sql.Tx) error {
		var have []byte
		err := tx.QueryRowContext(ctx, `SELECT statement FROM epoch_statements WHERE group_id = ? AND epoch = ?`, st.GroupID, int64(st.Epoch)).Scan(&have)
		switch {
		case err == nil:
			if !bytes.Equal(have, st.Statement) {
				return fmt.Errorf("store/sqlite: epoch %d already has a statement: %w", st.Epoch, ds.ErrConflict)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_statements (group_id, epoch, uploader, statement, received_us) VALUES (?, ?, ?, ?, ?)`,
			st.GroupID, int64(st.Epoch), int64(st.Uploader), st.Statement, us(st.Received)); err != nil {
			return fmt.Errorf("store/sqlite: insert epoch statement: %w", err)
		}
		for _, m := range st.Members {
			if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_members (account, group_id, epoch) VALUES (?, ?, ?)`, m, st.GroupID, int64(st.Epoch)); err != nil {
				return fmt.Errorf("store/sqlite: insert epoch member: %w", err)
			}
		}
		return nil
	})
}

// EpochStatement implements ds.EpochStatementStore.
func (s *Store) EpochStatement(ctx context.Context, groupID []byte, epoch uint64) (ds.EpochStatement, error) {
	st := ds.EpochStatement{GroupID: groupID, Epoch: epoch}
	var up, rec int64
	err := s.r.QueryRowContext(ctx, `SELECT uploader, statement, received_us FROM epoch_statements WHERE group_id = ? AND epoch = ?`, groupID, int64(epoch)).
		Scan(&up, &st.Statement, &rec)
	if errors.Is(err, sql.ErrNoRows) {
		return ds.EpochStatement{}, fmt.Errorf("store/sqlite: epoch statement: %w", ds.ErrNotFound)
	}
	if err != nil {
		return ds.EpochStatement{}, err
	}
	st.Uploader, st.Received = ds.DeviceID(up), fromUS(rec)
	return st, nil
}

// MemberEpochs implements ds.EpochStatementStore.
func (s *Store) MemberEpochs(ctx context.Context, account string) ([]ds.EpochRef, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT group_id, epoch FROM epoch_members WHERE account = ? ORDER BY group_id, epoch`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ds.EpochRef{}
	for rows.Next() {
		var r ds.EpochRef
		var e int64
		if err := rows.Scan(&r.GroupID, &e); err != nil {
			return nil, err
		}
		r.Epoch = uint64(e)
		out = append(out, r)
	}
	return out, rows.Err()
}
