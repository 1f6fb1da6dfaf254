package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// checks are invariant queries returning one text row per violation; the
// same list as store/sqlite's, in PostgreSQL's dialect.
var checks = []struct{ name, query string }{
	{"message references a missing group", `SELECT m.id::text FROM messages m LEFT JOIN groups g ON g.pk = m.group_pk WHERE g.pk IS NULL`},
	{"message id beyond meta.last_id", `SELECT id::text FROM messages WHERE id > (SELECT v FROM meta WHERE k = 'last_id')`},
	{"direct message id beyond meta.last_id", `SELECT id::text FROM directs WHERE id > (SELECT v FROM meta WHERE k = 'last_id')`},
	{"message and direct message share an id", `SELECT m.id::text FROM messages m JOIN directs d ON d.id = m.id`},
	{"group sequence numbers not gap-free in id order", `SELECT concat(group_pk, ':', seq) FROM (
		SELECT group_pk, seq, seq - LAG(seq) OVER (PARTITION BY group_pk ORDER BY id) AS step FROM messages) x WHERE step <> 1`},
	{"group's last retained seq differs from groups.last_seq", `SELECT g.pk::text FROM groups g JOIN (SELECT group_pk, MAX(seq) AS s FROM messages GROUP BY group_pk) m ON m.group_pk = g.pk WHERE m.s <> g.last_seq`},
	{"message seq out of range", `SELECT id::text FROM messages WHERE seq < 1`},
	{"direct message for a missing or revoked device", `SELECT d.id::text FROM directs d LEFT JOIN devices v ON v.id = d.device WHERE v.id IS NULL OR v.revoked <> 0`},
	{"direct message references a missing group", `SELECT d.id::text FROM directs d LEFT JOIN groups g ON g.pk = d.group_pk WHERE g.pk IS NULL`},
	{"membership references a missing group", `SELECT concat(ms.group_pk, ':', ms.device) FROM memberships ms LEFT JOIN groups g ON g.pk = ms.group_pk WHERE g.pk IS NULL`},
	{"membership references a missing device", `SELECT concat(ms.group_pk, ':', ms.device) FROM memberships ms LEFT JOIN devices d ON d.id = ms.device WHERE d.id IS NULL`},
	{"open membership of a revoked device", `SELECT concat(ms.group_pk, ':', ms.device) FROM memberships ms JOIN devices d ON d.id = ms.device WHERE ms.to_id IS NULL AND d.revoked <> 0`},
	{"membership ends before it starts", `SELECT concat(group_pk, ':', device) FROM memberships WHERE to_id IS NOT NULL AND to_id < from_id`},
	{"two open memberships of one device in a group", `SELECT concat(group_pk, ':', device) FROM memberships WHERE to_id IS NULL GROUP BY group_pk, device HAVING COUNT(*) > 1`},
	{"open membership without a leaf", `SELECT concat(ms.group_pk, ':', ms.device) FROM memberships ms JOIN groups g ON g.pk = ms.group_pk WHERE ms.to_id IS NULL AND NOT (ms.device = ANY(g.leaves))`},
	{"device ack cursor beyond meta.last_id", `SELECT id::text FROM devices WHERE acked > (SELECT v FROM meta WHERE k = 'last_id')`},
	{"device of a missing account", `SELECT d.id::text FROM devices d LEFT JOIN accounts a ON a.username = d.username WHERE a.username IS NULL`},
	{"token of a missing or revoked device", `SELECT t.device::text FROM tokens t LEFT JOIN devices d ON d.id = t.device WHERE d.id IS NULL OR d.revoked <> 0 OR d.username <> t.username`},
	{"KeyPackage of a missing or revoked device", `SELECT k.device::text FROM keypackages k LEFT JOIN devices d ON d.id = k.device WHERE d.id IS NULL OR d.revoked <> 0`},
	{"two last-resort KeyPackages for one device", `SELECT device::text FROM keypackages WHERE last_resort GROUP BY device HAVING COUNT(*) > 1`},
	{"chunk of a missing blob", `SELECT c.blob FROM blob_chunks c LEFT JOIN blobs b ON b.id = c.blob WHERE b.id IS NULL`},
	{"complete blob whose chunks do not add up to its size", `SELECT b.id FROM blobs b LEFT JOIN (SELECT blob, SUM(octet_length(data)) AS n, COUNT(*) AS c, MAX(idx) AS hi FROM blob_chunks GROUP BY blob) c ON c.blob = b.id
		WHERE b.complete AND (COALESCE(c.n, 0) <> b.size OR COALESCE(c.c, 0) <> COALESCE(c.hi, -1) + 1)`},
}

// Check implements ds.Store: every invariant query, in one snapshot.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx pgx.Tx) error {
		for _, c := range checks {
			rows, err := tx.Query(ctx, c.query)
			if err != nil {
				return fmt.Errorf("store/postgres: check %q: %w", c.name, err)
			}
			vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("store/postgres: check %q: %w", c.name, err)
			}
			for _, v := range vals {
				out = append(out, c.name+": "+v)
			}
		}
		return nil
	})
	return out, err
}
