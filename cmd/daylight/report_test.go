package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

type modSuspensions struct{ s *moderation.Service }

func (f *modSuspensions) Suspended(ctx context.Context, u string) (bool, error) {
	return f.s.Suspended(ctx, u)
}

// startModServer is daylightd's franking + moderation wiring in-process.
func startModServer(t *testing.T) (string, *moderation.Service) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	stamper, err := franking.NewStamper(key)
	if err != nil {
		t.Fatal(err)
	}
	fwd := &modSuspensions{}
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(64)),
		Franking: ds.Franking{Stamper: stamper, Suspensions: fwd}})
	if err != nil {
		t.Fatal(err)
	}
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	mod, err := moderation.New(moderation.Config{DS: svc, Stamper: stamper, Store: moderation.NewMemStore(), ExportKey: ek, SuspensionCacheTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	fwd.s = mod
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{},
		Mounts: map[string]http.Handler{moderation.RouteReport: mod.Intake(), moderation.ConsolePath: mod.Console()}})
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
	return hs.URL, mod
}

// TestCLIReportAndSuspension: bob reports alice's message with `daylight
// report --json` (flags after the arguments, one context message); the
// moderation service holds the verified report; a moderator suspends alice;
// alice's next `daylight send` fails with "account suspended", code
// "suspended" and a hint.
func TestCLIReportAndSuspension(t *testing.T) {
	url, mod := startModServer(t)
	c := &cli{t: t, url: url, dir: t.TempDir()}
	c.ok("a", "register", "alice")
	c.ok("b", "register", "bob")
	c.ok("a", "contacts", "add", "bob")
	c.ok("b", "contacts", "add", "alice")
	c.ok("a", "group", "create", "team", "bob")
	c.ok("a", "send", "team", "hi bob")
	c.ok("a", "send", "team", "send me your password")
	var ms []msg
	c.json("b", &ms, "sync")
	target := 0
	for _, m := range ms {
		if m.Text == "send me your password" {
			target = m.ID
		}
	}
	if target == 0 {
		t.Fatalf("bob sync: %+v", ms)
	}
	var res struct {
		ID      string `json:"id"`
		Message int    `json:"message"`
		Context []int  `json:"context"`
	}
	c.json("b", &res, "report", "team", itoa(target), "--reason", "fraud", "--context", "3")
	if res.ID == "" || res.Message != target || len(res.Context) != 1 {
		t.Fatalf("report: %+v", res)
	}
	if _, err := c.run("b", "report", "team", itoa(target)); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("report without --reason: %v", err)
	}
	admin := moderation.Moderator{Name: "ana", Role: moderation.RoleModerator}
	rep, err := mod.ViewReport(context.Background(), admin, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reporter != "bob" || rep.Message.Account != "alice" || rep.Reason != "fraud" ||
		!strings.Contains(string(rep.Message.Plaintext), "send me your password") || len(rep.Context) != 1 {
		t.Fatalf("verified report: %+v", rep)
	}
	if err := mod.Suspend(context.Background(), admin, res.ID, "phishing"); err != nil {
		t.Fatal(err)
	}
	out, err := c.run("a", "--json", "send", "team", "again")
	if err == nil || !strings.Contains(err.Error(), "account suspended") {
		t.Fatalf("suspended send: %v %s", err, out)
	}
	var e struct{ Error, Hint, Code string }
	if json.Unmarshal([]byte(out), &e) != nil || e.Code != "suspended" || !strings.Contains(e.Hint, "suspended your account") {
		t.Fatalf("suspended send JSON: %s", out)
	}
}
