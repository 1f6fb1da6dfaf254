package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"

	"github.com/daylight-im/daylight/ds"
)

// checks are invariant queries: each returns rows describing violations.
var checks = []struct{ name, query string }{
	{"message references a missing group", `SELECT m.id FROM messages m LEFT JOIN groups g ON g.pk = m.group_pk WHERE g.pk IS NULL`},
	{"message id beyond meta.last_id", `SELECT id FROM messages WHERE id > (SELECT v FROM meta WHERE k = 'last_id')`},
	{"direct message id beyond meta.last_id", `SELECT id FROM directs WHERE id > (SELECT v FROM meta WHERE k = 'last_id')`},
	{"message and direct message share an id", `SELECT m.id FROM messages m JOIN directs d ON d.id = m.id`},
	{"group sequence numbers not gap-free in id order", `SELECT group_pk || ':' || seq FROM (
		SELECT group_pk, seq, seq - LAG(seq) OVER (PARTITION BY group_pk ORDER BY id) AS step FROM messages) WHERE step <> 1`},
	{"group's last retained seq differs from groups.last_seq", `SELECT g.pk FROM groups g JOIN (SELECT group_pk, MAX(seq) AS s FROM messages GROUP BY group_pk) m ON m.group_pk = g.pk WHERE m.s <> g.last_seq`},
	{"message seq out of range", `SELECT id FROM messages WHERE seq < 1`},
	{"direct message for a missing or revoked device", `SELECT d.id FROM directs d LEFT JOIN devices v ON v.id = d.device WHERE v.id IS NULL OR v.revoked <> 0`},
	{"direct message references a missing group", `SELECT d.id FROM directs d LEFT JOIN groups g ON g.pk = d.group_pk WHERE g.pk IS NULL`},
	{"membership references a missing group", `SELECT ms.group_pk || ':' || ms.device FROM memberships ms LEFT JOIN groups g ON g.pk = ms.group_pk WHERE g.pk IS NULL`},
	{"membership references a missing device", `SELECT ms.group_pk || ':' || ms.device FROM memberships ms LEFT JOIN devices d ON d.id = ms.device WHERE d.id IS NULL`},
	{"open membership of a revoked device", `SELECT ms.group_pk || ':' || ms.device FROM memberships ms JOIN devices d ON d.id = ms.device WHERE ms.to_id IS NULL AND d.revoked <> 0`},
	{"membership ends before it starts", `SELECT group_pk || ':' || device FROM memberships WHERE to_id IS NOT NULL AND to_id < from_id`},
	{"two open memberships of one device in a group", `SELECT group_pk || ':' || device FROM memberships WHERE to_id IS NULL GROUP BY group_pk, device HAVING COUNT(*) > 1`},
	{"device ack cursor beyond meta.last_id", `SELECT id FROM devices WHERE acked > (SELECT v FROM meta WHERE k = 'last_id')`},
	{"device of a missing account", `SELECT d.id FROM devices d LEFT JOIN accounts a ON a.username = d.username WHERE a.username IS NULL`},
	{"token of a missing or revoked device", `SELECT t.device FROM tokens t LEFT JOIN devices d ON d.id = t.device WHERE d.id IS NULL OR d.revoked <> 0 OR d.username <> t.username`},
	{"KeyPackage of a missing or revoked device", `SELECT k.device FROM keypackages k LEFT JOIN devices d ON d.id = k.device WHERE d.id IS NULL OR d.revoked <> 0`},
	{"two last-resort KeyPackages for one device", `SELECT device FROM keypackages WHERE last_resort = 1 GROUP BY device HAVING COUNT(*) > 1`},
	{"chunk of a missing blob", `SELECT c.blob FROM blob_chunks c LEFT JOIN blobs b ON b.id = c.blob WHERE b.id IS NULL
		UNION ALL SELECT f.blob FROM blob_files f LEFT JOIN blobs b ON b.id = f.blob WHERE b.id IS NULL`},
	{"chunk stored both in the database and as a file", `SELECT c.blob FROM blob_chunks c JOIN blob_files f ON f.blob = c.blob AND f.idx = c.idx`},
	{"complete blob whose chunks do not add up to its size", `SELECT b.id FROM blobs b LEFT JOIN (SELECT blob, SUM(n) AS n, COUNT(*) AS c, MAX(idx) AS hi FROM
			(SELECT blob, idx, LENGTH(data) AS n FROM blob_chunks UNION ALL SELECT blob, idx, length FROM blob_files) GROUP BY blob) c ON c.blob = b.id
		WHERE b.complete = 1 AND (COALESCE(c.n, 0) <> b.size OR COALESCE(c.c, 0) <> COALESCE(c.hi, -1) + 1)`},
}

// Check implements ds.Store: it runs every invariant query in one snapshot,
// and also checks that every open membership belongs to a device holding a
// leaf of the group's public state.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx *sql.Tx) error {
		for _, c := range checks {
			rows, err := tx.QueryContext(ctx, c.query)
			if err != nil {
				return fmt.Errorf("store/sqlite: check %q: %w", c.name, err)
			}
			for rows.Next() {
				var v any
				if err := rows.Scan(&v); err != nil {
					rows.Close()
					return err
				}
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				out = append(out, fmt.Sprintf("%s: %v", c.name, v))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT g.pk, g.leaves, ms.device FROM memberships ms JOIN groups g ON g.pk = ms.group_pk WHERE ms.to_id IS NULL`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pk, dev int64
			var leaves string
			if err := rows.Scan(&pk, &leaves, &dev); err != nil {
				return err
			}
			ids, err := decodeIDs(leaves)
			if err != nil {
				out = append(out, fmt.Sprintf("group %d: unreadable leaves: %v", pk, err))
				continue
			}
			if !slices.ContainsFunc(ids, func(d ds.DeviceID) bool { return int64(d) == dev }) {
				out = append(out, fmt.Sprintf("open membership without a leaf: group %d device %d", pk, dev))
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Every chunk recorded as a file exists with its recorded length.
		frows, err := tx.QueryContext(ctx, `SELECT blob, idx, length FROM blob_files`)
		if err != nil {
			return err
		}
		defer frows.Close()
		for frows.Next() {
			var id string
			var idx int
			var n int64
			if err := frows.Scan(&id, &idx, &n); err != nil {
				return err
			}
			p, err := s.chunkPath(id, idx)
			if err != nil {
				out = append(out, fmt.Sprintf("blob file with a bad id: %q", id))
				continue
			}
			if fi, err := os.Stat(p); err != nil || fi.Size() != n {
				out = append(out, fmt.Sprintf("blob file missing or of the wrong size: %s chunk %d", id, idx))
			}
		}
		return frows.Err()
	})
	return out, err
}
