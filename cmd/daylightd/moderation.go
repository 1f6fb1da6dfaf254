package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/moderation/sqlitestore"
)

// Moderation files in the data directory (docs/moderation.md): the
// moderation database and the Ed25519 seed that signs exported reports.
const (
	moderationDB        = "moderation.db"
	moderationExportKey = "moderation-export.key"
)

// suspensionsFwd ties the knot between the DS (which consults suspensions
// before every send) and the moderation service (which needs the DS to
// authenticate reporters): set s once the service exists.
type suspensionsFwd struct{ s *moderation.Service }

func (f *suspensionsFwd) Suspended(ctx context.Context, account string) (bool, error) {
	if f.s == nil {
		return false, nil
	}
	return f.s.Suspended(ctx, account)
}

// moderationSvc is the running moderation service and what serve mounts.
type moderationSvc struct {
	mounts map[string]http.Handler
	store  *sqlitestore.Store
}

func (m *moderationSvc) close() { m.store.Close() }

// openModeration opens <data>/moderation.db and builds the moderation
// service over the DS's stamper; fwd starts consulting it. evidence may be
// nil (no access log): exports are then refused, never unlogged.
func openModeration(ctx context.Context, o *options, svc *ds.Service, fr ds.Franking, fwd *suspensionsFwd,
	evidence moderation.EvidenceLog, secure bool, log *slog.Logger) (*moderationSvc, error) {
	st, err := openModerationDB(ctx, o)
	if err != nil {
		return nil, err
	}
	seed, err := loadOrCreateKey(filepath.Join(o.data, moderationExportKey), func() []byte {
		s := make([]byte, ed25519.SeedSize)
		rand.Read(s)
		return s
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("moderation export key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		st.Close()
		return nil, fmt.Errorf("moderation export key: %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	cfg := moderation.Config{DS: svc, Stamper: fr.Stamper, Store: st, ExportKey: ed25519.NewKeyFromSeed(seed),
		Logger: log, SecureCookies: secure}
	if evidence != nil {
		cfg.Evidence = evidence
	}
	m, err := moderation.New(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	fwd.s = m
	return &moderationSvc{store: st, mounts: map[string]http.Handler{
		moderation.RouteReport: m.Intake(),
		moderation.ConsolePath: m.Console(),
		moderation.RouteStatus: m.Status(), // the account's own warnings and suspension (client shows them)
	}}, nil
}

// moderatorCommand is `daylightd moderator add|list`: it works on
// <data>/moderation.db while the server is stopped (or running: SQLite WAL).
func moderatorCommand(ctx context.Context, o *options, args []string, stdin io.Reader, stdout io.Writer) error {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return err
	}
	st, err := openModerationDB(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	return moderation.ModeratorCommand(ctx, st, args, stdin, stdout)
}

// openModerationDB opens <data>/moderation.db, readable by the owner only
// (it holds moderator password hashes and reported plaintexts).
func openModerationDB(ctx context.Context, o *options) (*sqlitestore.Store, error) {
	path := filepath.Join(o.data, moderationDB)
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("moderation: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			st.Close()
			return nil, fmt.Errorf("moderation: %w", err)
		}
	}
	return st, nil
}
