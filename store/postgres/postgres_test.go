package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/store/postgres"
	"github.com/daylight-im/daylight/store/storetest"
)

// openFresh opens a store in a schema of its own, dropped when the test ends.
func openFresh(t testing.TB) *postgres.Store {
	dsn := testkit.RequirePostgres(t)
	b := make([]byte, 6)
	rand.Read(b)
	st, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Schema: "dstest_" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.DropSchema(context.Background()); err != nil {
			t.Errorf("DropSchema: %v", err)
		}
		st.Close()
	})
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ds.Store { return openFresh(t) })
}
