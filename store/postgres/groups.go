package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/daylight-im/daylight/ds"
)

func ids64(ids []ds.DeviceID) []int64 {
	out := make([]int64, len(ids))
	for i, d := range ids {
		out[i] = int64(d)
	}
	return out
}

func devIDs(v []int64) []ds.DeviceID {
	out := make([]ds.DeviceID, len(v))
	for i, d := range v {
		out[i] = ds.DeviceID(d)
	}
	return out
}

// CreateGroup implements ds.GroupStore.
func (s *Store) CreateGroup(ctx context.Context, g ds.Group, members []ds.DeviceID) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		last, err := lockLastID(ctx, tx)
		if err != nil {
			return err
		}
		var pk int64
		err = tx.QueryRow(ctx, `INSERT INTO groups (group_id, epoch, version, state, leaves, last_seq, created)
			VALUES ($1, $2, 0, $3, $4, 0, $5) ON CONFLICT (group_id) DO NOTHING RETURNING pk`,
			g.ID, int64(g.Epoch), g.State, ids64(g.Leaves), us(g.Created)).Scan(&pk)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store/postgres: group: %w", ds.ErrGroupExists)
		}
		if err != nil {
			return fmt.Errorf("store/postgres: insert group: %w", err)
		}
		for _, d := range members {
			if _, err := tx.Exec(ctx, `INSERT INTO memberships (group_pk, device, from_id) VALUES ($1, $2, $3)`, pk, int64(d), int64(last)); err != nil {
				return fmt.Errorf("store/postgres: insert membership: %w", err)
			}
		}
		return nil
	})
}

// Group implements ds.GroupStore.
func (s *Store) Group(ctx context.Context, id []byte) (ds.Group, error) {
	g := ds.Group{ID: id}
	var epoch, version, lastSeq, created int64
	var leaves []int64
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT epoch, version, state, leaves, last_seq, created FROM groups WHERE group_id = $1`, id).
			Scan(&epoch, &version, &g.State, &leaves, &lastSeq, &created)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ds.Group{}, fmt.Errorf("store/postgres: group: %w", ds.ErrNotFound)
	}
	if err != nil {
		return ds.Group{}, err
	}
	g.Epoch, g.Version, g.LastSeq, g.Created, g.Leaves = uint64(epoch), uint64(version), uint64(lastSeq), fromUS(created), devIDs(leaves)
	return g, nil
}

// Accepted implements ds.GroupStore.
func (s *Store) Accepted(ctx context.Context, groupID []byte, digest [32]byte) (bool, error) {
	var ok bool
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages m JOIN groups g ON m.group_pk = g.pk
			WHERE g.group_id = $1 AND m.digest = $2)`, groupID, digest[:]).Scan(&ok)
	})
	if err != nil {
		return false, fmt.Errorf("store/postgres: accepted: %w", err)
	}
	return ok, nil
}

// GroupMembers implements ds.GroupStore.
func (s *Store) GroupMembers(ctx context.Context, id []byte) ([]ds.DeviceID, error) {
	var out []ds.DeviceID
	err := s.read(ctx, func(tx pgx.Tx) error {
		var pk int64
		err := tx.QueryRow(ctx, `SELECT pk FROM groups WHERE group_id = $1`, id).Scan(&pk)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store/postgres: group: %w", ds.ErrNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT device FROM memberships WHERE group_pk = $1 AND to_id IS NULL ORDER BY device`, pk)
		if err != nil {
			return err
		}
		v, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		out = devIDs(v)
		return err
	})
	return out, err
}

type batchGroup struct {
	pk                   int64
	epoch, version, last uint64
	members              []ds.DeviceID
	dirty                bool
}

type digestKey struct {
	pk int64
	d  [32]byte
}

// AppendBatch implements ds.GroupStore with a fixed number of round trips per
// batch: lock the id counter, read the groups, their members and any
// already-stored digests, decide every item in memory, then COPY the messages
// and send the remaining updates as one pipelined batch.
func (s *Store) AppendBatch(ctx context.Context, batch []ds.Append) ([]ds.AppendResult, error) {
	results := make([]ds.AppendResult, len(batch))
	err := s.write(ctx, func(tx pgx.Tx) error {
		for i := range results {
			results[i] = ds.AppendResult{}
		}
		lastID, err := lockLastID(ctx, tx)
		if err != nil {
			return err
		}
		var gids [][]byte
		seenG := map[string]bool{}
		for _, a := range batch {
			if !seenG[string(a.GroupID)] {
				seenG[string(a.GroupID)] = true
				gids = append(gids, a.GroupID)
			}
		}
		groups := map[string]*batchGroup{}
		byPK := map[int64]*batchGroup{}
		rows, err := tx.Query(ctx, `SELECT pk, group_id, epoch, version, last_seq FROM groups WHERE group_id = ANY($1)`, gids)
		if err != nil {
			return fmt.Errorf("store/postgres: groups: %w", err)
		}
		for rows.Next() {
			g := &batchGroup{}
			var gid []byte
			var epoch, version, last int64
			if err := rows.Scan(&g.pk, &gid, &epoch, &version, &last); err != nil {
				rows.Close()
				return err
			}
			g.epoch, g.version, g.last = uint64(epoch), uint64(version), uint64(last)
			groups[string(gid)], byPK[g.pk] = g, g
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		pks := make([]int64, 0, len(byPK))
		for pk := range byPK {
			pks = append(pks, pk)
		}
		rows, err = tx.Query(ctx, `SELECT group_pk, device FROM memberships WHERE group_pk = ANY($1) AND to_id IS NULL ORDER BY device`, pks)
		if err != nil {
			return fmt.Errorf("store/postgres: members: %w", err)
		}
		for rows.Next() {
			var pk, dev int64
			if err := rows.Scan(&pk, &dev); err != nil {
				rows.Close()
				return err
			}
			byPK[pk].members = append(byPK[pk].members, ds.DeviceID(dev))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var qpk []int64
		var qd [][]byte
		for _, a := range batch {
			if g := groups[string(a.GroupID)]; g != nil {
				qpk, qd = append(qpk, g.pk), append(qd, a.Digest[:])
			}
		}
		seen := map[digestKey]bool{}
		rows, err = tx.Query(ctx, `SELECT m.group_pk, m.digest FROM messages m
			JOIN unnest($1::bigint[], $2::bytea[]) AS x(g, d) ON m.group_pk = x.g AND m.digest = x.d`, qpk, qd)
		if err != nil {
			return fmt.Errorf("store/postgres: digests: %w", err)
		}
		for rows.Next() {
			var k digestKey
			var d []byte
			if err := rows.Scan(&k.pk, &d); err != nil {
				rows.Close()
				return err
			}
			copy(k.d[:], d)
			seen[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		var msgs, directs [][]any
		var b pgx.Batch
		for i := range batch {
			a := &batch[i]
			g := groups[string(a.GroupID)]
			handshake := a.Kind == ds.KindCommit || a.Kind == ds.KindProposal
			switch {
			case g == nil:
				results[i].Err = fmt.Errorf("store/postgres: group: %w", ds.ErrNotFound)
				continue
			case a.SenderMustBeMember && !slices.Contains(g.members, a.Sender):
				results[i].Err = fmt.Errorf("store/postgres: device %d: %w", a.Sender, ds.ErrNotMember)
				continue
			case a.Epoch != g.epoch:
				results[i].Err = fmt.Errorf("store/postgres: message epoch %d, group epoch %d: %w", a.Epoch, g.epoch, ds.ErrStaleEpoch)
				continue
			case handshake && a.ExpectVersion != g.version:
				results[i].Err = fmt.Errorf("store/postgres: group state changed: %w", ds.ErrConflict)
				continue
			case seen[digestKey{g.pk, a.Digest}]:
				results[i].Err = fmt.Errorf("store/postgres: message already accepted: %w", ds.ErrReplay)
				continue
			}
			seen[digestKey{g.pk, a.Digest}] = true
			id, seq := lastID+1, g.last+1
			lastID, g.last, g.dirty = id, seq, true
			msgs = append(msgs, []any{int64(id), g.pk, int64(seq), int64(a.Epoch), int16(a.Kind), int64(a.Sender), a.Digest[:], a.Data, us(a.Received), a.Stamp})
			rcpt := make([]ds.DeviceID, 0, len(g.members)+len(a.Add))
			for _, d := range g.members {
				if d != a.Sender {
					rcpt = append(rcpt, d)
				}
			}
			if handshake {
				g.version++
				g.epoch = a.NewEpoch
				b.Queue(`UPDATE groups SET epoch = $1, version = $2, state = $3, leaves = $4 WHERE pk = $5`,
					int64(g.epoch), int64(g.version), a.NewState, ids64(a.NewLeaves), g.pk)
				for _, d := range a.Remove {
					b.Queue(`UPDATE memberships SET to_id = $1 WHERE group_pk = $2 AND device = $3 AND to_id IS NULL`, int64(id), g.pk, int64(d))
					g.members = slices.DeleteFunc(g.members, func(x ds.DeviceID) bool { return x == d })
				}
				for _, d := range a.Add {
					if slices.Contains(g.members, d) {
						continue
					}
					b.Queue(`INSERT INTO memberships (group_pk, device, from_id) VALUES ($1, $2, $3)`, g.pk, int64(d), int64(id))
					g.members = append(g.members, d)
				}
				if a.Welcome != nil {
					for _, d := range a.Add {
						lastID++
						directs = append(directs, []any{int64(lastID), int64(d), g.pk, int64(g.epoch), int16(ds.KindWelcome), a.Welcome, us(a.Received)})
						rcpt = append(rcpt, d)
					}
				}
			}
			results[i] = ds.AppendResult{Receipt: ds.Receipt{Cursor: id, Seq: seq, Epoch: g.epoch}, Recipients: rcpt}
		}
		if len(msgs) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"},
				[]string{"id", "group_pk", "seq", "epoch", "kind", "sender", "digest", "data", "received", "stamp"}, pgx.CopyFromRows(msgs)); err != nil {
				return fmt.Errorf("store/postgres: copy messages: %w", err)
			}
		}
		if len(directs) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"directs"},
				[]string{"id", "device", "group_pk", "epoch", "kind", "data", "received"}, pgx.CopyFromRows(directs)); err != nil {
				return fmt.Errorf("store/postgres: copy directs: %w", err)
			}
		}
		for _, g := range groups {
			if g.dirty {
				b.Queue(`UPDATE groups SET last_seq = $1 WHERE pk = $2`, int64(g.last), g.pk)
			}
		}
		b.Queue(`UPDATE meta SET v = $1 WHERE k = 'last_id'`, int64(lastID))
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("store/postgres: append updates: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// Fetch implements ds.GroupStore.
func (s *Store) Fetch(ctx context.Context, device ds.DeviceID, after uint64, limit int) (ds.Page, error) {
	var p ds.Page
	err := s.read(ctx, func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT v FROM meta WHERE k = 'last_id'`).Scan(&last); err != nil {
			return err
		}
		// Each source is an index range scan bounded by the limit (LATERAL),
		// so a page costs at most sources × limit rows however long the backlog.
		rows, err := tx.Query(ctx, `SELECT x.id, g.group_id, x.seq, x.epoch, x.kind, x.sender, x.data, x.received, x.stamp
			FROM memberships ms
			JOIN groups g ON g.pk = ms.group_pk
			CROSS JOIN LATERAL (
				SELECT m.id, m.seq, m.epoch, m.kind, m.sender, m.data, m.received, m.stamp FROM messages m
				WHERE m.group_pk = ms.group_pk AND m.id > GREATEST(ms.from_id, $2)
					AND (ms.to_id IS NULL OR m.id <= ms.to_id) AND m.sender <> $1
				ORDER BY m.id LIMIT $3) x
			WHERE ms.device = $1 AND (ms.to_id IS NULL OR ms.to_id > $2)
			UNION ALL
			(SELECT d.id, g.group_id, 0, d.epoch, d.kind, 0, d.data, d.received, NULL::BYTEA
			FROM directs d JOIN groups g ON g.pk = d.group_pk
			WHERE d.device = $1 AND d.id > $2 ORDER BY d.id LIMIT $3)
			ORDER BY 1 LIMIT $3`, int64(device), int64(after), limit)
		if err != nil {
			return fmt.Errorf("store/postgres: fetch: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var d ds.Delivery
			var id, seq, epoch, sender, received int64
			var kind int16
			if err := rows.Scan(&id, &d.GroupID, &seq, &epoch, &kind, &sender, &d.Data, &received, &d.Stamp); err != nil {
				return err
			}
			d.Cursor, d.Seq, d.Epoch, d.Kind, d.Received = uint64(id), uint64(seq), uint64(epoch), ds.Kind(kind), fromUS(received)
			if d.Kind == ds.KindCommit || d.Kind == ds.KindProposal {
				d.Sender = ds.DeviceID(sender)
			}
			p.Deliveries = append(p.Deliveries, d)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		p.Cursor = max(after, uint64(last))
		if len(p.Deliveries) == limit {
			p.Cursor = p.Deliveries[len(p.Deliveries)-1].Cursor
		}
		return nil
	})
	return p, err
}

// Ack implements ds.GroupStore.
func (s *Store) Ack(ctx context.Context, acks []ds.DeviceAck) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		for _, a := range acks {
			if err := ackOne(ctx, tx, a.Device, a.UpTo); err != nil {
				return err
			}
		}
		return nil
	})
}

func ackOne(ctx context.Context, tx pgx.Tx, device ds.DeviceID, upTo uint64) error {
	up := int64(min(upTo, 1<<62))
	if _, err := tx.Exec(ctx, `UPDATE devices SET acked = GREATEST(acked, LEAST($1, (SELECT v FROM meta WHERE k = 'last_id'))) WHERE id = $2`, up, int64(device)); err != nil {
		return fmt.Errorf("store/postgres: ack: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM directs WHERE device = $1 AND id <= $2`, int64(device), up); err != nil {
		return fmt.Errorf("store/postgres: ack: %w", err)
	}
	return nil
}

// GC implements ds.GroupStore (see store/sqlite for the rule: only prefixes
// of a group's log are deleted, keeping retained sequence numbers gap-free).
func (s *Store) GC(ctx context.Context, now, retainAfter, staleUploads time.Time) (int, error) {
	var deleted int
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT group_pk, MAX(id) FROM messages GROUP BY group_pk`)
		if err != nil {
			return err
		}
		type span struct{ pk, maxID int64 }
		spans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (span, error) {
			var sp span
			return sp, r.Scan(&sp.pk, &sp.maxID)
		})
		if err != nil {
			return err
		}
		for _, sp := range spans {
			var floor, old *int64
			if err := tx.QueryRow(ctx, `SELECT MIN(GREATEST(d.acked, ms.from_id)) FROM memberships ms JOIN devices d ON d.id = ms.device
				WHERE ms.group_pk = $1 AND d.revoked = 0 AND (ms.to_id IS NULL OR GREATEST(d.acked, ms.from_id) < ms.to_id)`, sp.pk).Scan(&floor); err != nil {
				return fmt.Errorf("store/postgres: gc floor: %w", err)
			}
			f := sp.maxID
			if floor != nil {
				f = min(*floor, sp.maxID)
			}
			if err := tx.QueryRow(ctx, `SELECT MAX(id) FROM messages WHERE group_pk = $1 AND received < $2`, sp.pk, us(retainAfter)).Scan(&old); err != nil {
				return fmt.Errorf("store/postgres: gc retention: %w", err)
			}
			if old != nil {
				f = max(f, *old)
			}
			tag, err := tx.Exec(ctx, `DELETE FROM messages WHERE group_pk = $1 AND id <= $2`, sp.pk, f)
			if err != nil {
				return fmt.Errorf("store/postgres: gc delete: %w", err)
			}
			deleted += int(tag.RowsAffected())
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM memberships ms USING devices d WHERE d.id = ms.device AND ms.to_id IS NOT NULL AND (d.revoked <> 0 OR d.acked >= ms.to_id)`, nil},
			{`DELETE FROM directs WHERE received < $1`, []any{us(retainAfter)}},
			{`DELETE FROM challenges WHERE expires <= $1`, []any{us(now)}},
			{`DELETE FROM tokens WHERE expires <= $1`, []any{us(now)}},
			{`DELETE FROM keypackages WHERE expires <= $1`, []any{us(now)}},
			{`DELETE FROM blob_chunks WHERE blob IN (SELECT id FROM blobs WHERE created < $1 OR (NOT complete AND created < $2))`, []any{us(retainAfter), us(staleUploads)}},
			{`DELETE FROM blobs WHERE created < $1 OR (NOT complete AND created < $2)`, []any{us(retainAfter), us(staleUploads)}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return fmt.Errorf("store/postgres: gc: %w", err)
			}
		}
		return nil
	})
	return deleted, err
}

// DeviceGroups implements ds.MembershipStore.
func (s *Store) DeviceGroups(ctx context.Context, device ds.DeviceID) ([]ds.GroupMembership, error) {
	var out []ds.GroupMembership
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT g.group_id, bool_or(m.to_id IS NULL) FROM memberships m JOIN groups g ON g.pk = m.group_pk
			WHERE m.device = $1 GROUP BY g.group_id ORDER BY g.group_id`, int64(device))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ds.GroupMembership, error) {
			var m ds.GroupMembership
			err := r.Scan(&m.GroupID, &m.Current)
			return m, err
		})
		return err
	})
	return out, err
}
