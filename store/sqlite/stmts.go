package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// stmts are prepared once; the write ones on the single write connection, so
// a transaction reuses them (Tx.StmtContext).
type stmts struct {
	all []*sql.Stmt

	// read pool
	device, token, lastIDRead, fetchMemberships, fetchGroup, fetchDirects *sql.Stmt

	// write connection
	lastID, setLastID, groupRow, members, insertMessage, updateGroup, setLastSeq,
	closeMembership, openMembership, insertDirect *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	p := func(db *sql.DB, dst **sql.Stmt, q string) error {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store/sqlite: prepare %q: %w", q, err)
		}
		*dst = st
		s.stmts.all = append(s.stmts.all, st)
		return nil
	}
	st := &s.stmts
	for _, x := range []struct {
		db  *sql.DB
		dst **sql.Stmt
		q   string
	}{
		{s.r, &st.device, `SELECT ` + deviceCols + ` FROM devices WHERE id = ?`},
		{s.r, &st.token, `SELECT device, username, expires FROM tokens WHERE hash = ? AND expires > ?`},
		{s.r, &st.lastIDRead, `SELECT v FROM meta WHERE k = 'last_id'`},
		{s.r, &st.fetchMemberships, `SELECT ms.group_pk, g.group_id, ms.from_id, COALESCE(ms.to_id, -1)
			FROM memberships ms JOIN groups g ON g.pk = ms.group_pk WHERE ms.device = ?`},
		{s.r, &st.fetchGroup, `SELECT id, seq, epoch, kind, sender, data, received, stamp FROM messages
			WHERE group_pk = ?1 AND id > ?2 AND (?3 < 0 OR id <= ?3) AND sender <> ?4 ORDER BY id LIMIT ?5`},
		{s.r, &st.fetchDirects, `SELECT d.id, g.group_id, d.epoch, d.kind, d.data, d.received
			FROM directs d JOIN groups g ON g.pk = d.group_pk WHERE d.device = ? AND d.id > ? ORDER BY d.id LIMIT ?`},
		{s.w, &st.lastID, `SELECT v FROM meta WHERE k = 'last_id'`},
		{s.w, &st.setLastID, `UPDATE meta SET v = ? WHERE k = 'last_id'`},
		{s.w, &st.groupRow, `SELECT pk, epoch, version, last_seq FROM groups WHERE group_id = ?`},
		{s.w, &st.members, `SELECT device FROM memberships WHERE group_pk = ? AND to_id IS NULL ORDER BY device`},
		{s.w, &st.insertMessage, `INSERT INTO messages (id, group_pk, seq, epoch, kind, sender, digest, data, received, stamp)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (group_pk, digest) DO NOTHING`},
		{s.w, &st.updateGroup, `UPDATE groups SET epoch = ?, version = ?, state = ?, leaves = ? WHERE pk = ?`},
		{s.w, &st.setLastSeq, `UPDATE groups SET last_seq = ? WHERE pk = ?`},
		{s.w, &st.closeMembership, `UPDATE memberships SET to_id = ? WHERE group_pk = ? AND device = ? AND to_id IS NULL`},
		{s.w, &st.openMembership, `INSERT INTO memberships (group_pk, device, from_id) VALUES (?, ?, ?)`},
		{s.w, &st.insertDirect, `INSERT INTO directs (id, device, group_pk, epoch, kind, data, received) VALUES (?, ?, ?, ?, ?, ?, ?)`},
	} {
		if err := p(x.db, x.dst, x.q); err != nil {
			return err
		}
	}
	return nil
}

func (st *stmts) close() {
	for _, s := range st.all {
		s.Close()
	}
}
