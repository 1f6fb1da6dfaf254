package client

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/keydir/keydirtest"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// startServer runs daylightd's pieces (ds over SQLite, the HTTP adapter)
// in-process for the test's lifetime, validating groups with
// clienttest.NewValidator, and returns the base URL.
func startServer(t testing.TB) string { u, _, _ := startServerKD(t, false); return u }

// startServerKD also mounts a key directory (in-memory store, keydirtest's
// witnessed log) when kd is set; the test closes epochs with dir.Publish.
// trust is what a client pins about that directory.
func startServerKD(t testing.TB, kd bool) (string, *keydir.Directory, *kdclient.Config) {
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
	var dir *keydir.Directory
	var kdh http.Handler
	var trust *kdclient.Config
	if kd {
		lg, err := keydirtest.NewLog("daylight.test/log", 1)
		if err != nil {
			t.Fatal(err)
		}
		_, sk, _ := ed25519.GenerateKey(nil)
		dir, err = keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: lg, SigningKey: sk, VRFKey: keydir.NewVRFKey()})
		if err != nil {
			t.Fatal(err)
		}
		kdh = kdhttp.Handler(dir, nil)
		logV, wits := lg.Verifiers()
		trust = &kdclient.Config{DirectoryKey: dir.SigningPublicKey(), VRFKey: dir.VRFPublicKey(),
			Checkpoints: &kdclient.WitnessPolicy{Origin: lg.Origin, Log: logV, Witnesses: wits, Threshold: 1}}
	}
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{}, KeyDirHandler: kdh})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		svc.Close()
		st.Close()
	})
	return hs.URL, dir, trust
}
