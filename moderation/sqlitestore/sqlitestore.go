// Package sqlitestore is the moderation.Store for daylightd over SQLite
// (modernc.org/sqlite): its own database file (moderation.db in the data
// directory), separate from the delivery service's, so moderation data has its
// own retention, backup and access control. WAL, synchronous=FULL; every
// method is one transaction.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/daylight-im/daylight/moderation"

	_ "modernc.org/sqlite"
)

// Store implements moderation.Store. Safe for concurrent use.
type Store struct {
	db *sql.DB
}

var _ moderation.Store = (*Store)(nil)

// migrations are applied in order; PRAGMA user_version counts those applied.
var migrations = []string{
	`CREATE TABLE moderators (name TEXT PRIMARY KEY, role INTEGER NOT NULL, password_hash TEXT NOT NULL, created INTEGER NOT NULL);
	CREATE TABLE sessions (hash BLOB PRIMARY KEY, moderator TEXT NOT NULL, csrf TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL);
	CREATE TABLE reports (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		reporter TEXT NOT NULL,
		device INTEGER NOT NULL,
		reason TEXT NOT NULL,
		comment TEXT NOT NULL,
		message TEXT NOT NULL,
		context TEXT NOT NULL,
		received INTEGER NOT NULL,
		status INTEGER NOT NULL,
		msg_key BLOB NOT NULL,
		UNIQUE (reporter, msg_key));
	CREATE INDEX reports_status ON reports(status, seq);
	CREATE TABLE rejections (reason TEXT PRIMARY KEY, n INTEGER NOT NULL);
	CREATE TABLE audit (
		seq INTEGER PRIMARY KEY,
		time INTEGER NOT NULL,
		moderator TEXT NOT NULL,
		action TEXT NOT NULL,
		target TEXT NOT NULL,
		detail TEXT NOT NULL,
		prev_hash BLOB NOT NULL,
		hash BLOB NOT NULL);
	CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
	CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
	CREATE TABLE suspensions (account TEXT PRIMARY KEY, by TEXT NOT NULL, reason TEXT NOT NULL, since INTEGER NOT NULL);
	CREATE TABLE warnings (id INTEGER PRIMARY KEY, account TEXT NOT NULL, report TEXT NOT NULL, text TEXT NOT NULL, time INTEGER NOT NULL);
	CREATE INDEX warnings_account ON warnings(account, id);`,
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("moderation/sqlitestore: path is required")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("moderation/sqlitestore: open: %w", err)
	}
	db.SetMaxOpenConns(1) // low traffic: one connection serializes writers
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("moderation/sqlitestore: schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("moderation/sqlitestore: schema version %d is newer than this binary's %d (hint: upgrade daylightd)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(i+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("moderation/sqlitestore: migration %d: %w", i+1, err)
		}
	}
	return nil
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func us(t time.Time) int64     { return t.UnixMicro() }
func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint")
}
func wrap(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("moderation/sqlitestore: %s: %w", what, moderation.ErrNotFound)
	}
	return fmt.Errorf("moderation/sqlitestore: %s: %w", what, err)
}

func (s *Store) AddModerator(ctx context.Context, m moderation.Moderator) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO moderators (name, role, password_hash, created) VALUES (?, ?, ?, ?)`,
		m.Name, int(m.Role), m.PasswordHash, us(m.Created))
	if isUnique(err) {
		return fmt.Errorf("moderation/sqlitestore: moderator %q: %w", m.Name, moderation.ErrExists)
	}
	return err
}

func (s *Store) Moderator(ctx context.Context, name string) (moderation.Moderator, error) {
	m := moderation.Moderator{Name: name}
	var role int
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT role, password_hash, created FROM moderators WHERE name = ?`, name).Scan(&role, &m.PasswordHash, &created)
	if err != nil {
		return moderation.Moderator{}, wrap("moderator", err)
	}
	m.Role, m.Created = moderation.Role(role), fromUS(created)
	return m, nil
}

func (s *Store) Moderators(ctx context.Context) ([]moderation.Moderator, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, role, password_hash, created FROM moderators ORDER BY name`)
	if err != nil {
		return nil, wrap("moderators", err)
	}
	defer rows.Close()
	var out []moderation.Moderator
	for rows.Next() {
		var m moderation.Moderator
		var role int
		var created int64
		if err := rows.Scan(&m.Name, &role, &m.PasswordHash, &created); err != nil {
			return nil, err
		}
		m.Role, m.Created = moderation.Role(role), fromUS(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *Store) PutSession(ctx context.Context, ss moderation.Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, us(ss.Created)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, moderator, csrf, created, expires) VALUES (?, ?, ?, ?, ?)`,
			ss.Hash[:], ss.Moderator, ss.CSRF, us(ss.Created), us(ss.Expires))
		return err
	})
}

func (s *Store) Session(ctx context.Context, hash [32]byte, now time.Time) (moderation.Session, error) {
	ss := moderation.Session{Hash: hash}
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT moderator, csrf, created, expires FROM sessions WHERE hash = ? AND expires > ?`, hash[:], us(now)).
		Scan(&ss.Moderator, &ss.CSRF, &created, &expires)
	if err != nil {
		return moderation.Session{}, wrap("session", err)
	}
	ss.Created, ss.Expires = fromUS(created), fromUS(expires)
	return ss, nil
}

func (s *Store) DeleteSession(ctx context.Context, hash [32]byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash[:])
	return err
}

func (s *Store) AddReport(ctx context.Context, r moderation.Report) error {
	msg, err := json.Marshal(r.Message)
	if err != nil {
		return err
	}
	cx, err := json.Marshal(r.Context)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO reports (id, reporter, device, reason, comment, message, context, received, status, msg_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Reporter, r.Device, string(r.Reason), r.Comment, string(msg), string(cx), us(r.Received), int(r.Status), r.Key[:])
	if isUnique(err) {
		return fmt.Errorf("moderation/sqlitestore: report: %w", moderation.ErrExists)
	}
	return err
}

const reportCols = `id, reporter, device, reason, comment, message, context, received, status, msg_key`

func scanReport(sc interface{ Scan(...any) error }) (moderation.Report, error) {
	var r moderation.Report
	var reason, msg, cx string
	var received int64
	var status int
	var key []byte
	if err := sc.Scan(&r.ID, &r.Reporter, &r.Device, &reason, &r.Comment, &msg, &cx, &received, &status, &key); err != nil {
		return moderation.Report{}, err
	}
	if err := json.Unmarshal([]byte(msg), &r.Message); err != nil {
		return moderation.Report{}, fmt.Errorf("report %s: message: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(cx), &r.Context); err != nil {
		return moderation.Report{}, fmt.Errorf("report %s: context: %w", r.ID, err)
	}
	r.Reason, r.Received, r.Status = moderation.Reason(reason), fromUS(received), moderation.Status(status)
	copy(r.Key[:], key)
	return r, nil
}

func (s *Store) Report(ctx context.Context, id string) (moderation.Report, error) {
	r, err := scanReport(s.db.QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports WHERE id = ?`, id))
	if err != nil {
		return moderation.Report{}, wrap("report", err)
	}
	return r, nil
}

func (s *Store) Reports(ctx context.Context, status moderation.Status, limit int) ([]moderation.Report, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+reportCols+` FROM reports WHERE (?1 = 0 OR status = ?1) ORDER BY seq LIMIT ?2`, int(status), limit)
	if err != nil {
		return nil, wrap("reports", err)
	}
	defer rows.Close()
	var out []moderation.Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, wrap("reports", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) SetReportStatus(ctx context.Context, id string, st moderation.Status) error {
	res, err := s.db.ExecContext(ctx, `UPDATE reports SET status = ? WHERE id = ?`, int(st), id)
	if err != nil {
		return wrap("report status", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("moderation/sqlitestore: report %q: %w", id, moderation.ErrNotFound)
	}
	return nil
}

func (s *Store) CountRejection(ctx context.Context, reason string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO rejections (reason, n) VALUES (?, 1) ON CONFLICT (reason) DO UPDATE SET n = n + 1`, reason)
	return err
}

func (s *Store) Rejections(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT reason, n FROM rejections`)
	if err != nil {
		return nil, wrap("rejections", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

func (s *Store) AppendAudit(ctx context.Context, e moderation.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		var prev []byte
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			last, prev, err = 0, make([]byte, 32), nil
		}
		if err != nil {
			return err
		}
		if uint64(last)+1 != e.Seq || string(prev) != string(e.PrevHash[:]) {
			return fmt.Errorf("moderation/sqlitestore: audit entry %d does not follow %d: %w", e.Seq, last, moderation.ErrExists)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit (seq, time, moderator, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			int64(e.Seq), e.Time.UnixNano(), e.Moderator, e.Action, e.Target, e.Detail, e.PrevHash[:], e.Hash[:])
		return err
	})
}

func scanAudit(sc interface{ Scan(...any) error }) (moderation.AuditEntry, error) {
	var e moderation.AuditEntry
	var seq, t int64
	var prev, h []byte
	if err := sc.Scan(&seq, &t, &e.Moderator, &e.Action, &e.Target, &e.Detail, &prev, &h); err != nil {
		return e, err
	}
	e.Seq, e.Time = uint64(seq), time.Unix(0, t).UTC()
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], h)
	return e, nil
}

const auditCols = `seq, time, moderator, action, target, detail, prev_hash, hash`

func (s *Store) LastAudit(ctx context.Context) (moderation.AuditEntry, error) {
	e, err := scanAudit(s.db.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return moderation.AuditEntry{}, nil
	}
	return e, err
}

func (s *Store) Audit(ctx context.Context, after uint64, limit int) ([]moderation.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, int64(after), limit)
	if err != nil {
		return nil, wrap("audit", err)
	}
	defer rows.Close()
	var out []moderation.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) PutSuspension(ctx context.Context, sp moderation.Suspension) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO suspensions (account, by, reason, since) VALUES (?, ?, ?, ?)
		ON CONFLICT (account) DO UPDATE SET by = excluded.by, reason = excluded.reason, since = excluded.since`, sp.Account, sp.By, sp.Reason, us(sp.Since))
	return err
}

func (s *Store) DeleteSuspension(ctx context.Context, account string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM suspensions WHERE account = ?`, account)
	return err
}

func (s *Store) Suspension(ctx context.Context, account string) (moderation.Suspension, error) {
	sp := moderation.Suspension{Account: account}
	var since int64
	err := s.db.QueryRowContext(ctx, `SELECT by, reason, since FROM suspensions WHERE account = ?`, account).Scan(&sp.By, &sp.Reason, &since)
	if err != nil {
		return moderation.Suspension{}, wrap("suspension", err)
	}
	sp.Since = fromUS(since)
	return sp, nil
}

func (s *Store) AddWarning(ctx context.Context, w moderation.Warning) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO warnings (account, report, text, time) VALUES (?, ?, ?, ?)`, w.Account, w.Report, w.Text, us(w.Time))
	return err
}

func (s *Store) Warnings(ctx context.Context, account string) ([]moderation.Warning, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT report, text, time FROM warnings WHERE account = ? ORDER BY id`, account)
	if err != nil {
		return nil, wrap("warnings", err)
	}
	defer rows.Close()
	var out []moderation.Warning
	for rows.Next() {
		w := moderation.Warning{Account: account}
		var t int64
		if err := rows.Scan(&w.Report, &w.Text, &t); err != nil {
			return nil, err
		}
		w.Time = fromUS(t)
		out = append(out, w)
	}
	return out, rows.Err()
}

// TestingOnlyDB exposes the database handle to tests (append-only checks).
func TestingOnlyDB(s *Store) *sql.DB { return s.db }
