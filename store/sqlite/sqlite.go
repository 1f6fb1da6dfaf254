// Package sqlite implements ds.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go), the default storage of daylightd.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a
// transaction is on disk (WAL fsynced) when Commit returns, and a method that
// returns nil has made its effect durable. All writes go through one
// connection (SQLite has one writer anyway); ds.Service batches accepted
// messages so that one transaction, one fsync, carries many of them. Reads use
// a separate pool of connections, each read a snapshot.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/daylight-im/daylight/ds"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Config configures Open.
type Config struct {
	// Path of the database file; created if missing. Required.
	Path string
	// ReadConns bounds the read pool (default: 2 × GOMAXPROCS).
	ReadConns int
	// BlobDir, if set, keeps attachment bytes as files under this directory
	// (written atomically: temporary file, fsync, rename, fsync directory)
	// instead of in the database; metadata stays in the database.
	BlobDir string
}

// Store is a ds.Store over SQLite. Safe for concurrent use.
type Store struct {
	w, r    *sql.DB
	stmts   stmts
	blobDir string
}

var _ ds.Store = (*Store)(nil)

func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(ON)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at cfg.Path and migrates its
// schema to the current version.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("store/sqlite: Config.Path is required")
	}
	w, err := sql.Open("sqlite", dsn(cfg.Path, true))
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(cfg.Path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store/sqlite: open: %w", err)
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r, blobDir: cfg.BlobDir}
	if cfg.BlobDir != "" {
		if err := os.MkdirAll(cfg.BlobDir, 0o700); err != nil {
			s.Close()
			return nil, fmt.Errorf("store/sqlite: blob directory: %w", err)
		}
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Durability reports the write connection's journal mode and synchronous
// level ("wal", 2 for FULL): the settings crash safety rests on.
func (s *Store) Durability(ctx context.Context) (journalMode string, synchronous int, err error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close()
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journalMode); err != nil {
		return "", 0, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		return "", 0, err
	}
	return strings.ToLower(journalMode), synchronous, nil
}

// migrations are applied in order; PRAGMA user_version counts those applied.
var migrations = []string{
	`CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
	INSERT INTO meta (k, v) VALUES ('last_id', 0);
	CREATE TABLE accounts (username TEXT PRIMARY KEY, created INTEGER NOT NULL);
	CREATE TABLE devices (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		username TEXT NOT NULL REFERENCES accounts(username),
		name TEXT NOT NULL,
		key BLOB NOT NULL,
		created INTEGER NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0,
		acked INTEGER NOT NULL DEFAULT 0);
	CREATE INDEX devices_username ON devices(username);
	CREATE TABLE challenges (hash BLOB PRIMARY KEY, device INTEGER NOT NULL, expires INTEGER NOT NULL);
	CREATE INDEX challenges_device ON challenges(device);
	CREATE TABLE tokens (hash BLOB PRIMARY KEY, device INTEGER NOT NULL, username TEXT NOT NULL, expires INTEGER NOT NULL);
	CREATE INDEX tokens_device ON tokens(device);
	CREATE TABLE keypackages (
		ref BLOB PRIMARY KEY,
		device INTEGER NOT NULL,
		data BLOB NOT NULL,
		expires INTEGER NOT NULL,
		last_resort INTEGER NOT NULL);
	CREATE INDEX keypackages_device ON keypackages(device, last_resort, expires);
	CREATE TABLE groups (
		pk INTEGER PRIMARY KEY,
		group_id BLOB NOT NULL UNIQUE,
		epoch INTEGER NOT NULL,
		version INTEGER NOT NULL,
		state BLOB NOT NULL,
		leaves TEXT NOT NULL,
		last_seq INTEGER NOT NULL,
		created INTEGER NOT NULL);
	CREATE TABLE messages (
		id INTEGER PRIMARY KEY,
		group_pk INTEGER NOT NULL,
		seq INTEGER NOT NULL,
		epoch INTEGER NOT NULL,
		kind INTEGER NOT NULL,
		sender INTEGER NOT NULL,
		digest BLOB NOT NULL,
		data BLOB NOT NULL,
		received INTEGER NOT NULL);
	CREATE INDEX messages_group ON messages(group_pk, id);
	CREATE UNIQUE INDEX messages_digest ON messages(group_pk, digest);
	CREATE TABLE memberships (
		group_pk INTEGER NOT NULL,
		device INTEGER NOT NULL,
		from_id INTEGER NOT NULL,
		to_id INTEGER,
		PRIMARY KEY (group_pk, device, from_id)) WITHOUT ROWID;
	CREATE INDEX memberships_device ON memberships(device);
	CREATE TABLE directs (
		id INTEGER PRIMARY KEY,
		device INTEGER NOT NULL,
		group_pk INTEGER NOT NULL,
		epoch INTEGER NOT NULL,
		kind INTEGER NOT NULL,
		data BLOB NOT NULL,
		received INTEGER NOT NULL);
	CREATE INDEX directs_device ON directs(device, id);
	CREATE TABLE blobs (
		id TEXT PRIMARY KEY,
		owner INTEGER NOT NULL,
		size INTEGER NOT NULL,
		chunk_size INTEGER NOT NULL,
		sha256 BLOB,
		created INTEGER NOT NULL,
		complete INTEGER NOT NULL DEFAULT 0);
	CREATE TABLE blob_chunks (
		blob TEXT NOT NULL,
		idx INTEGER NOT NULL,
		data BLOB NOT NULL,
		PRIMARY KEY (blob, idx)) WITHOUT ROWID;`,
	// 2: attachment chunks kept as files (Config.BlobDir).
	`CREATE TABLE blob_files (
		blob TEXT NOT NULL,
		idx INTEGER NOT NULL,
		length INTEGER NOT NULL,
		PRIMARY KEY (blob, idx)) WITHOUT ROWID;`,
	// 3: franking stamps of application messages (ds.Append.Stamp).
	`ALTER TABLE messages ADD COLUMN stamp BLOB;`,
	// 4: escrow record candidates per (group, epoch) and who uploaded them
	// (ds.EscrowStore, store/sqlite/escrow.go).
	`CREATE TABLE escrow_records (
		group_id BLOB NOT NULL,
		epoch INTEGER NOT NULL,
		record_id BLOB NOT NULL,
		record BLOB NOT NULL,
		first_us INTEGER NOT NULL,
		PRIMARY KEY (group_id, epoch, record_id)) WITHOUT ROWID;
	CREATE TABLE escrow_uploads (
		group_id BLOB NOT NULL,
		epoch INTEGER NOT NULL,
		device INTEGER NOT NULL,
		record_id BLOB NOT NULL,
		at_us INTEGER NOT NULL,
		PRIMARY KEY (group_id, epoch, device)) WITHOUT ROWID;`, // 5: member-signed epoch statements (ds.EpochStatementStore, A4/T11).
	`CREATE TABLE epoch_statements (
		group_id BLOB NOT NULL,
		epoch INTEGER NOT NULL,
		uploader INTEGER NOT NULL,
		statement BLOB NOT NULL,
		received_us INTEGER NOT NULL,
		PRIMARY KEY (group_id, epoch)) WITHOUT ROWID;`, // 6: accounts named by each epoch statement (warrant scoping, ds.EpochStatementStore.MemberEpochs).
	`CREATE TABLE epoch_members (
		account TEXT NOT NULL,
		group_id BLOB NOT NULL,
		epoch INTEGER NOT NULL,
		PRIMARY KEY (account, group_id, epoch)) WITHOUT ROWID;`,
	// 7: retention holds of presented warrants and the ciphertext kept for
	// them (ds.RetentionStore, store/sqlite/lawful.go).
	`CREATE TABLE retention_holds (
		commitment BLOB PRIMARY KEY,
		targets TEXT NOT NULL,
		from_us INTEGER NOT NULL,
		until_us INTEGER NOT NULL);
	CREATE TABLE retained_messages (
		commitment BLOB NOT NULL,
		digest BLOB NOT NULL,
		group_id BLOB NOT NULL,
		epoch INTEGER NOT NULL,
		received_us INTEGER NOT NULL,
		data BLOB NOT NULL,
		until_us INTEGER NOT NULL,
		PRIMARY KEY (commitment, digest));
	CREATE INDEX retained_messages_time ON retained_messages(commitment, received_us);
	CREATE INDEX retained_messages_until ON retained_messages(until_us);`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store/sqlite: reading schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store/sqlite: database schema version %d is newer than this binary's %d (hint: upgrade daylightd)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store/sqlite: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store/sqlite: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store/sqlite: migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store/sqlite: migration %d: %w", i+1, err)
		}
	}
	return nil
}

// write runs fn in one write transaction (BEGIN IMMEDIATE) and commits.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store/sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store/sqlite: commit: %w", err)
	}
	return nil
}

// read runs fn in one read transaction (one snapshot).
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store/sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

func encodeIDs(ids []ds.DeviceID) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(id), 10))
	}
	return b.String()
}

func decodeIDs(s string) ([]ds.DeviceID, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]ds.DeviceID, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store/sqlite: groups.leaves: %w", err)
		}
		out[i] = ds.DeviceID(n)
	}
	return out, nil
}
