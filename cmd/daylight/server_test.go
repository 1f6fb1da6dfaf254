package main

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// startServer runs daylightd's pieces (ds over SQLite, the HTTP adapter)
// in-process for the test's lifetime, validating groups with
// clienttest.NewValidator, and returns the base URL.
func startServer(t testing.TB) string { return startServerWith(t, false).URL }

// startServerWith starts the server over TLS (httptest's certificate) when tls is set.
func startServerWith(t testing.TB, tls bool) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(64)), MaxBlobBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	if tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		svc.Close()
		st.Close()
	})
	return hs
}
