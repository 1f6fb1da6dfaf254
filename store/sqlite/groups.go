package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/daylight-im/daylight/ds"
)

// CreateGroup implements ds.GroupStore.
func (s *Store) CreateGroup(ctx context.Context, g ds.Group, members []ds.DeviceID) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM groups WHERE group_id = ?`, g.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("store/sqlite: group: %w", ds.ErrGroupExists)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO groups (group_id, epoch, version, state, leaves, last_seq, created) VALUES (?, ?, 0, ?, ?, 0, ?)`,
			g.ID, g.Epoch, g.State, encodeIDs(g.Leaves), us(g.Created))
		if err != nil {
			return fmt.Errorf("store/sqlite: insert group: %w", err)
		}
		pk, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, d := range members {
			if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (group_pk, device, from_id) VALUES (?, ?, (SELECT v FROM meta WHERE k = 'last_id'))`, pk, int64(d)); err != nil {
				return fmt.Errorf("store/sqlite: insert membership: %w", err)
			}
		}
		return nil
	})
}

// Group implements ds.GroupStore.
func (s *Store) Group(ctx context.Context, id []byte) (ds.Group, error) {
	g := ds.Group{ID: id}
	var leaves string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT epoch, version, state, leaves, last_seq, created FROM groups WHERE group_id = ?`, id).
		Scan(&g.Epoch, &g.Version, &g.State, &leaves, &g.LastSeq, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ds.Group{}, fmt.Errorf("store/sqlite: group: %w", ds.ErrNotFound)
	}
	if err != nil {
		return ds.Group{}, err
	}
	g.Created = fromUS(created)
	g.Leaves, err = decodeIDs(leaves)
	return g, err
}

// Accepted implements ds.GroupStore.
func (s *Store) Accepted(ctx context.Context, groupID []byte, digest [32]byte) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM messages m JOIN groups g ON m.group_pk = g.pk
		WHERE g.group_id = ? AND m.digest = ?`, groupID, digest[:]).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store/sqlite: accepted: %w", err)
	}
	return n > 0, nil
}

// GroupMembers implements ds.GroupStore.
func (s *Store) GroupMembers(ctx context.Context, id []byte) ([]ds.DeviceID, error) {
	var out []ds.DeviceID
	err := s.read(ctx, func(tx *sql.Tx) error {
		var pk int64
		err := tx.QueryRowContext(ctx, `SELECT pk FROM groups WHERE group_id = ?`, id).Scan(&pk)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store/sqlite: group: %w", ds.ErrNotFound)
		}
		if err != nil {
			return err
		}
		out, err = queryIDs(ctx, tx, `SELECT device FROM memberships WHERE group_pk = ? AND to_id IS NULL ORDER BY device`, pk)
		return err
	})
	return out, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]ds.DeviceID, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ds.DeviceID
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, ds.DeviceID(d))
	}
	return out, rows.Err()
}

// batchGroup is a group's row as it evolves within one AppendBatch.
type batchGroup struct {
	pk                   int64
	epoch, version, last uint64
	members              []ds.DeviceID // open memberships
	dirty                bool
}

// AppendBatch implements ds.GroupStore: one write transaction, one fsync, for
// the whole batch (group commit).
func (s *Store) AppendBatch(ctx context.Context, batch []ds.Append) ([]ds.AppendResult, error) {
	results := make([]ds.AppendResult, len(batch))
	err := s.write(ctx, func(tx *sql.Tx) error {
		st := func(x *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, x) }
		groupRow, members, insertMessage := st(s.stmts.groupRow), st(s.stmts.members), st(s.stmts.insertMessage)
		var lastID uint64
		if err := st(s.stmts.lastID).QueryRowContext(ctx).Scan(&lastID); err != nil {
			return fmt.Errorf("store/sqlite: last id: %w", err)
		}
		groups := make(map[string]*batchGroup)
		for i := range batch {
			a := &batch[i]
			g := groups[string(a.GroupID)]
			if g == nil {
				g = &batchGroup{}
				err := groupRow.QueryRowContext(ctx, a.GroupID).Scan(&g.pk, &g.epoch, &g.version, &g.last)
				if errors.Is(err, sql.ErrNoRows) {
					results[i].Err = fmt.Errorf("store/sqlite: group: %w", ds.ErrNotFound)
					continue
				}
				if err != nil {
					return fmt.Errorf("store/sqlite: group: %w", err)
				}
				if g.members, err = stmtIDs(ctx, members, g.pk); err != nil {
					return fmt.Errorf("store/sqlite: members: %w", err)
				}
				groups[string(a.GroupID)] = g
			}
			handshake := a.Kind == ds.KindCommit || a.Kind == ds.KindProposal
			switch {
			case a.SenderMustBeMember && !slices.Contains(g.members, a.Sender):
				results[i].Err = fmt.Errorf("store/sqlite: device %d: %w", a.Sender, ds.ErrNotMember)
				continue
			case a.Epoch != g.epoch:
				results[i].Err = fmt.Errorf("store/sqlite: message epoch %d, group epoch %d: %w", a.Epoch, g.epoch, ds.ErrStaleEpoch)
				continue
			case handshake && a.ExpectVersion != g.version:
				results[i].Err = fmt.Errorf("store/sqlite: group state changed: %w", ds.ErrConflict)
				continue
			}
			id, seq := lastID+1, g.last+1
			sender := a.Sender
			res, err := insertMessage.ExecContext(ctx, id, g.pk, seq, a.Epoch, int(a.Kind), int64(sender), a.Digest[:], a.Data, us(a.Received), a.Stamp)
			if err != nil {
				return fmt.Errorf("store/sqlite: insert message: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				results[i].Err = fmt.Errorf("store/sqlite: message already accepted: %w", ds.ErrReplay)
				continue
			}
			lastID, g.last, g.dirty = id, seq, true
			rcpt := make([]ds.DeviceID, 0, len(g.members)+len(a.Add))
			for _, d := range g.members {
				if d != a.Sender {
					rcpt = append(rcpt, d)
				}
			}
			if handshake {
				g.version++
				g.epoch = a.NewEpoch
				if _, err := st(s.stmts.updateGroup).ExecContext(ctx, g.epoch, g.version, a.NewState, encodeIDs(a.NewLeaves), g.pk); err != nil {
					return fmt.Errorf("store/sqlite: update group: %w", err)
				}
				for _, d := range a.Remove {
					if _, err := st(s.stmts.closeMembership).ExecContext(ctx, id, g.pk, int64(d)); err != nil {
						return fmt.Errorf("store/sqlite: close membership: %w", err)
					}
					g.members = slices.DeleteFunc(g.members, func(x ds.DeviceID) bool { return x == d })
				}
				for _, d := range a.Add {
					if slices.Contains(g.members, d) {
						continue
					}
					if _, err := st(s.stmts.openMembership).ExecContext(ctx, g.pk, int64(d), id); err != nil {
						return fmt.Errorf("store/sqlite: open membership: %w", err)
					}
					g.members = append(g.members, d)
				}
				if a.Welcome != nil {
					for _, d := range a.Add {
						lastID++
						if _, err := st(s.stmts.insertDirect).ExecContext(ctx, lastID, int64(d), g.pk, g.epoch, int(ds.KindWelcome), a.Welcome, us(a.Received)); err != nil {
							return fmt.Errorf("store/sqlite: insert welcome: %w", err)
						}
						rcpt = append(rcpt, d)
					}
				}
			}
			results[i] = ds.AppendResult{Receipt: ds.Receipt{Cursor: id, Seq: seq, Epoch: g.epoch}, Recipients: rcpt}
		}
		for _, g := range groups {
			if g.dirty {
				if _, err := st(s.stmts.setLastSeq).ExecContext(ctx, g.last, g.pk); err != nil {
					return fmt.Errorf("store/sqlite: update group: %w", err)
				}
			}
		}
		if _, err := st(s.stmts.setLastID).ExecContext(ctx, lastID); err != nil {
			return fmt.Errorf("store/sqlite: last id: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// Fetch implements ds.GroupStore. Each source of the device's queue (one
// range of each group log it is a member of, and its direct messages) is read
// with an index range scan bounded by limit, in one snapshot; the sources are
// merged by id and cut at limit. A page costs O(sources × limit) rows at most,
// however long the backlog.
func (s *Store) Fetch(ctx context.Context, device ds.DeviceID, after uint64, limit int) (ds.Page, error) {
	var p ds.Page
	err := s.read(ctx, func(tx *sql.Tx) error {
		var last uint64
		if err := tx.StmtContext(ctx, s.stmts.lastIDRead).QueryRowContext(ctx).Scan(&last); err != nil {
			return err
		}
		type span struct {
			pk       int64
			gid      []byte
			from, to int64
		}
		rows, err := tx.StmtContext(ctx, s.stmts.fetchMemberships).QueryContext(ctx, int64(device))
		if err != nil {
			return fmt.Errorf("store/sqlite: fetch: %w", err)
		}
		var spans []span
		for rows.Next() {
			var sp span
			if err := rows.Scan(&sp.pk, &sp.gid, &sp.from, &sp.to); err != nil {
				rows.Close()
				return err
			}
			spans = append(spans, sp)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var all []ds.Delivery
		fetchGroup := tx.StmtContext(ctx, s.stmts.fetchGroup)
		for _, sp := range spans {
			if sp.to >= 0 && uint64(sp.to) <= after {
				continue
			}
			rows, err := fetchGroup.QueryContext(ctx, sp.pk, max(int64(after), sp.from), sp.to, int64(device), limit)
			if err != nil {
				return fmt.Errorf("store/sqlite: fetch: %w", err)
			}
			for rows.Next() {
				d := ds.Delivery{GroupID: sp.gid}
				var kind int
				var sender, received int64
				if err := rows.Scan(&d.Cursor, &d.Seq, &d.Epoch, &kind, &sender, &d.Data, &received, &d.Stamp); err != nil {
					rows.Close()
					return err
				}
				d.Kind, d.Received = ds.Kind(kind), fromUS(received)
				if d.Kind == ds.KindCommit || d.Kind == ds.KindProposal {
					d.Sender = ds.DeviceID(sender)
				}
				all = append(all, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		rows, err = tx.StmtContext(ctx, s.stmts.fetchDirects).QueryContext(ctx, int64(device), after, limit)
		if err != nil {
			return fmt.Errorf("store/sqlite: fetch: %w", err)
		}
		for rows.Next() {
			var d ds.Delivery
			var kind int
			var received int64
			if err := rows.Scan(&d.Cursor, &d.GroupID, &d.Epoch, &kind, &d.Data, &received); err != nil {
				rows.Close()
				return err
			}
			d.Kind, d.Received = ds.Kind(kind), fromUS(received)
			all = append(all, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(spans) > 0 {
			slices.SortFunc(all, func(a, b ds.Delivery) int { return cmp.Compare(a.Cursor, b.Cursor) })
		}
		if len(all) > limit {
			all = all[:limit]
		}
		p.Deliveries = all
		p.Cursor = max(after, last)
		if len(all) == limit {
			p.Cursor = all[len(all)-1].Cursor
		}
		return nil
	})
	return p, err
}

// Ack implements ds.GroupStore.
func (s *Store) Ack(ctx context.Context, acks []ds.DeviceAck) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, a := range acks {
			device, upTo := a.Device, a.UpTo
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET acked = MAX(acked, MIN(?, (SELECT v FROM meta WHERE k = 'last_id'))) WHERE id = ?`, upTo, int64(device)); err != nil {
				return fmt.Errorf("store/sqlite: ack: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM directs WHERE device = ? AND id <= ?`, int64(device), upTo); err != nil {
				return fmt.Errorf("store/sqlite: ack: %w", err)
			}
		}
		return nil
	})
}

// GC implements ds.GroupStore. Per group it deletes the prefix of the log that
// every membership needing it has acked (a membership needs the messages
// after its start and up to its end; revoked devices need nothing), and the
// prefix received before retainAfter. Deleting only prefixes keeps each
// group's retained sequence numbers gap-free.
func (s *Store) GC(ctx context.Context, now, retainAfter, staleUploads time.Time) (int, error) {
	type span struct{ pk, maxID int64 }
	var spans []span
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT group_pk, MAX(id) FROM messages GROUP BY group_pk`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sp span
			if err := rows.Scan(&sp.pk, &sp.maxID); err != nil {
				return err
			}
			spans = append(spans, sp)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("store/sqlite: gc: %w", err)
	}
	// Groups are collected gcChunk at a time, each chunk one short write
	// transaction, so GC never holds the writer for long.
	const gcChunk = 256
	var deleted int
	for len(spans) > 0 {
		chunk := spans[:min(gcChunk, len(spans))]
		spans = spans[len(chunk):]
		err := s.write(ctx, func(tx *sql.Tx) error {
			for _, sp := range chunk {
				var floor sql.NullInt64
				if err := tx.QueryRowContext(ctx, `SELECT MIN(MAX(d.acked, ms.from_id)) FROM memberships ms JOIN devices d ON d.id = ms.device
					WHERE ms.group_pk = ? AND d.revoked = 0 AND (ms.to_id IS NULL OR MAX(d.acked, ms.from_id) < ms.to_id)`, sp.pk).Scan(&floor); err != nil {
					return fmt.Errorf("store/sqlite: gc floor: %w", err)
				}
				f := sp.maxID
				if floor.Valid {
					f = min(floor.Int64, sp.maxID)
				}
				var old sql.NullInt64
				if err := tx.QueryRowContext(ctx, `SELECT MAX(id) FROM messages WHERE group_pk = ? AND received < ?`, sp.pk, us(retainAfter)).Scan(&old); err != nil {
					return fmt.Errorf("store/sqlite: gc retention: %w", err)
				}
				if old.Valid {
					f = max(f, old.Int64)
				}
				res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE group_pk = ? AND id <= ?`, sp.pk, f)
				if err != nil {
					return fmt.Errorf("store/sqlite: gc delete: %w", err)
				}
				n, _ := res.RowsAffected()
				deleted += int(n)
			}
			return nil
		})
		if err != nil {
			return deleted, err
		}
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM memberships WHERE to_id IS NOT NULL AND EXISTS (SELECT 1 FROM devices d WHERE d.id = memberships.device AND (d.revoked <> 0 OR d.acked >= memberships.to_id))`, nil},
			{`DELETE FROM directs WHERE received < ?`, []any{us(retainAfter)}},
			{`DELETE FROM challenges WHERE expires <= ?`, []any{us(now)}},
			{`DELETE FROM tokens WHERE expires <= ?`, []any{us(now)}},
			{`DELETE FROM keypackages WHERE expires <= ?`, []any{us(now)}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return fmt.Errorf("store/sqlite: gc: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return deleted, err
	}
	var expired []string
	err = s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM blobs WHERE created < ? OR (complete = 0 AND created < ?)`, us(retainAfter), us(staleUploads))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			expired = append(expired, id)
		}
		return rows.Err()
	})
	if err != nil {
		return deleted, fmt.Errorf("store/sqlite: gc blobs: %w", err)
	}
	for _, id := range expired {
		if err := s.DeleteBlob(ctx, id); err != nil {
			return deleted, fmt.Errorf("store/sqlite: gc blob %s: %w", id, err)
		}
	}
	return deleted, nil
}

func stmtIDs(ctx context.Context, st *sql.Stmt, args ...any) ([]ds.DeviceID, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ds.DeviceID
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, ds.DeviceID(d))
	}
	return out, rows.Err()
}

// DeviceGroups implements ds.MembershipStore.
func (s *Store) DeviceGroups(ctx context.Context, device ds.DeviceID) ([]ds.GroupMembership, error) {
	var out []ds.GroupMembership
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT g.group_id, MAX(m.to_id IS NULL) FROM memberships m JOIN groups g ON g.pk = m.group_pk
			WHERE m.device = ? GROUP BY g.group_id ORDER BY g.group_id`, int64(device))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m ds.GroupMembership
			if err := rows.Scan(&m.GroupID, &m.Current); err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}
