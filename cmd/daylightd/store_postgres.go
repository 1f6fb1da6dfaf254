package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/store/postgres"
)

// pgStore closes the LISTEN/NOTIFY notifier with the store.
type pgStore struct {
	*postgres.Store
	n *postgres.Notifier
}

func (s pgStore) Close() error {
	s.n.Close()
	return s.Store.Close()
}

// openPostgres opens the PostgreSQL store with its LISTEN/NOTIFY notifier, so
// several daylightd replicas over one database push to each other's clients.
func openPostgres(ctx context.Context, o *options, log *slog.Logger) (ds.Store, ds.Notifier, string, error) {
	st, err := postgres.Open(ctx, postgres.Config{DSN: o.postgres, Schema: o.pgSchema})
	if err != nil {
		return nil, nil, "", err
	}
	n := postgres.NewNotifier(st, log)
	select {
	case <-n.Ready():
	case <-ctx.Done():
		n.Close()
		st.Close()
		return nil, nil, "", ctx.Err()
	case <-time.After(15 * time.Second):
		n.Close()
		st.Close()
		return nil, nil, "", errors.New("postgresql: LISTEN not ready after 15 s")
	}
	return pgStore{st, n}, n, "postgresql", nil
}
