package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/store/sqlite"
)

// ExampleOpen opens the default store of daylightd in a data directory, with
// attachments as files beside the database, and runs the invariants check
// that `daylightd check` runs.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "daylight-data")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "daylight.db"), BlobDir: filepath.Join(dir, "blobs")})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	mode, sync, _ := st.Durability(ctx)
	fmt.Println("journal:", mode, "synchronous:", sync)

	svc, _ := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	defer svc.Close()
	problems, err := svc.Check(ctx)
	fmt.Println("problems:", len(problems), err)
	// Output:
	// journal: wal synchronous: 2
	// problems: 0 <nil>
}
