package main

import (
	"context"
	"errors"

	"github.com/daylight-im/daylight/ds"
)

// openPostgres opens the PostgreSQL store with its LISTEN/NOTIFY notifier.
func openPostgres(ctx context.Context, o *options) (ds.Store, ds.Notifier, string, error) {
	return nil, nil, "", errors.New("--postgres: store/postgres is not in this build yet")
}
