// Package postgres implements ds.Store on PostgreSQL (github.com/jackc/pgx/v5),
// for deployments that outgrow one machine: several stateless daylightd
// replicas share one database, and Notifier wakes devices across replicas
// with LISTEN/NOTIFY.
//
// Ordering across replicas: every transaction that accepts messages first
// locks the meta row holding the last assigned id, so ids are assigned in
// commit order and a device's cursor never skips a message committed later
// with a smaller id. A batch of accepted messages costs a fixed number of
// round trips (group rows, members and replay digests are read with one query
// each; messages are written with COPY).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/daylight-im/daylight/ds"
)

// Config configures Open.
type Config struct {
	// DSN is a PostgreSQL URL or key=value string. Required.
	DSN string
	// Schema, if set, is created if missing and used as the search_path (tests
	// use one schema each).
	Schema string
	// MaxConns bounds the connection pool (default 8).
	MaxConns int
}

// Store is a ds.Store over PostgreSQL. Safe for concurrent use.
type Store struct {
	pool   *pool
	schema string
	cfg    *pgx.ConnConfig
}

var _ ds.Store = (*Store)(nil)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects, creates the schema if asked, and migrates it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: DSN: %w", err)
	}
	if cfg.Schema != "" {
		if !schemaName.MatchString(cfg.Schema) {
			return nil, fmt.Errorf("store/postgres: schema name %q: use a-z, 0-9, _", cfg.Schema)
		}
		c, err := pgx.ConnectConfig(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("store/postgres: connect: %w", err)
		}
		_, err = c.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+cfg.Schema)
		c.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("store/postgres: create schema: %w", err)
		}
		pc.RuntimeParams["search_path"] = cfg.Schema
	}
	n := cfg.MaxConns
	if n <= 0 {
		n = 8
	}
	s := &Store{pool: newPool(pc, n), schema: cfg.Schema, cfg: pc}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every pooled connection.
func (s *Store) Close() error {
	s.pool.close()
	return nil
}

var migrations = []string{
	`CREATE TABLE meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL);
	INSERT INTO meta (k, v) VALUES ('last_id', 0);
	CREATE TABLE accounts (username TEXT PRIMARY KEY, created BIGINT NOT NULL);
	CREATE TABLE devices (
		id BIGSERIAL PRIMARY KEY,
		username TEXT NOT NULL REFERENCES accounts(username),
		name TEXT NOT NULL,
		key BYTEA NOT NULL,
		created BIGINT NOT NULL,
		revoked BIGINT NOT NULL DEFAULT 0,
		acked BIGINT NOT NULL DEFAULT 0);
	CREATE INDEX devices_username ON devices(username);
	CREATE TABLE challenges (hash BYTEA PRIMARY KEY, device BIGINT NOT NULL, expires BIGINT NOT NULL);
	CREATE INDEX challenges_device ON challenges(device);
	CREATE TABLE tokens (hash BYTEA PRIMARY KEY, device BIGINT NOT NULL, username TEXT NOT NULL, expires BIGINT NOT NULL);
	CREATE INDEX tokens_device ON tokens(device);
	CREATE TABLE keypackages (
		ref BYTEA PRIMARY KEY,
		device BIGINT NOT NULL,
		data BYTEA NOT NULL,
		expires BIGINT NOT NULL,
		last_resort BOOLEAN NOT NULL);
	CREATE INDEX keypackages_device ON keypackages(device, last_resort, expires);
	CREATE TABLE groups (
		pk BIGSERIAL PRIMARY KEY,
		group_id BYTEA NOT NULL UNIQUE,
		epoch BIGINT NOT NULL,
		version BIGINT NOT NULL,
		state BYTEA NOT NULL,
		leaves BIGINT[] NOT NULL,
		last_seq BIGINT NOT NULL,
		created BIGINT NOT NULL);
	CREATE TABLE messages (
		id BIGINT PRIMARY KEY,
		group_pk BIGINT NOT NULL,
		seq BIGINT NOT NULL,
		epoch BIGINT NOT NULL,
		kind SMALLINT NOT NULL,
		sender BIGINT NOT NULL,
		digest BYTEA NOT NULL,
		data BYTEA NOT NULL,
		received BIGINT NOT NULL);
	CREATE INDEX messages_group ON messages(group_pk, id);
	CREATE UNIQUE INDEX messages_digest ON messages(group_pk, digest);
	CREATE TABLE memberships (
		group_pk BIGINT NOT NULL,
		device BIGINT NOT NULL,
		from_id BIGINT NOT NULL,
		to_id BIGINT,
		PRIMARY KEY (group_pk, device, from_id));
	CREATE INDEX memberships_device ON memberships(device);
	CREATE TABLE directs (
		id BIGINT PRIMARY KEY,
		device BIGINT NOT NULL,
		group_pk BIGINT NOT NULL,
		epoch BIGINT NOT NULL,
		kind SMALLINT NOT NULL,
		data BYTEA NOT NULL,
		received BIGINT NOT NULL);
	CREATE INDEX directs_device ON directs(device, id);
	CREATE TABLE blobs (
		id TEXT PRIMARY KEY,
		owner BIGINT NOT NULL,
		size BIGINT NOT NULL,
		chunk_size INTEGER NOT NULL,
		sha256 BYTEA,
		created BIGINT NOT NULL,
		complete BOOLEAN NOT NULL DEFAULT false);
	CREATE TABLE blob_chunks (
		blob TEXT NOT NULL,
		idx INTEGER NOT NULL,
		data BYTEA NOT NULL,
		PRIMARY KEY (blob, idx));`,
	// 2: franking stamps of application messages (ds.Append.Stamp).
	`ALTER TABLE messages ADD COLUMN stamp BYTEA;`,
	// 3: escrow record candidates per (group, epoch) and who uploaded them
	// (ds.EscrowStore, store/postgres/escrow.go).
	`CREATE TABLE escrow_records (
		group_id BYTEA NOT NULL,
		epoch BIGINT NOT NULL,
		record_id BYTEA NOT NULL,
		record BYTEA NOT NULL,
		first_us BIGINT NOT NULL,
		PRIMARY KEY (group_id, epoch, record_id));
	CREATE TABLE escrow_uploads (
		group_id BYTEA NOT NULL,
		epoch BIGINT NOT NULL,
		device BIGINT NOT NULL,
		record_id BYTEA NOT NULL,
		at_us BIGINT NOT NULL,
		PRIMARY KEY (group_id, epoch, device));`, // 4: member-signed epoch statements (ds.EpochStatementStore, A4/T11).
	`CREATE TABLE epoch_statements (
		group_id BYTEA NOT NULL,
		epoch BIGINT NOT NULL,
		uploader BIGINT NOT NULL,
		statement BYTEA NOT NULL,
		received_us BIGINT NOT NULL,
		PRIMARY KEY (group_id, epoch));`, // 5: accounts named by each epoch statement (warrant scoping, ds.EpochStatementStore.MemberEpochs).
	`CREATE TABLE epoch_members (
		account TEXT NOT NULL,
		group_id BYTEA NOT NULL,
		epoch BIGINT NOT NULL,
		PRIMARY KEY (account, group_id, epoch));`,
}

// migrate applies pending migrations under an advisory lock, so replicas
// starting together migrate once.
func (s *Store) migrate(ctx context.Context) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7301001)`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (v INTEGER NOT NULL)`); err != nil {
				return fmt.Errorf("store/postgres: migrate: %w", err)
			}
			var v int
			err := tx.QueryRow(ctx, `SELECT v FROM schema_version`).Scan(&v)
			if errors.Is(err, pgx.ErrNoRows) {
				if _, err := tx.Exec(ctx, `INSERT INTO schema_version (v) VALUES (0)`); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			if v > len(migrations) {
				return fmt.Errorf("store/postgres: schema version %d is newer than this binary's %d (hint: upgrade daylightd)", v, len(migrations))
			}
			for i := v; i < len(migrations); i++ {
				if _, err := tx.Exec(ctx, migrations[i]); err != nil {
					return fmt.Errorf("store/postgres: migration %d: %w", i+1, err)
				}
			}
			_, err = tx.Exec(ctx, `UPDATE schema_version SET v = $1`, len(migrations))
			return err
		})
	})
}

// DropSchema drops the store's schema and everything in it (tests).
func (s *Store) DropSchema(ctx context.Context) error {
	if s.schema == "" {
		return errors.New("store/postgres: no schema configured")
	}
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `DROP SCHEMA `+s.schema+` CASCADE`)
		return err
	})
}

func (s *Store) write(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, fn)
	})
}

func (s *Store) read(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	})
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Schema returns the schema the store uses ("" for the DSN's search_path).
func (s *Store) Schema() string { return s.schema }
