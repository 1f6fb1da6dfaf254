package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
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

// startStandingServer is daylightd's franking + moderation wiring
// in-process, with the report intake and the account-status route
// (cmd/daylightd/moderation.go).
func startStandingServer(t *testing.T) (string, *moderation.Service) {
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
		Mounts: map[string]http.Handler{moderation.RouteReport: mod.Intake(), moderation.RouteStatus: mod.Status()}})
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

// runBoth runs one command and returns stdout and stderr.
func (c *cli) runBoth(home string, args ...string) (string, string, error) {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--home", filepath.Join(c.dir, home), "--server", c.url}, args...)
	err := run(context.Background(), full, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// interactive runs the interactive mode for home, types lines, waits until
// the output contains until (or 10 s), quits and returns the output.
func (c *cli) interactive(home string, lines []string, until string, meanwhile func()) string {
	c.t.Helper()
	pr, pw := io.Pipe()
	var out syncBuf
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"--home", filepath.Join(c.dir, home), "--server", c.url}, pr, &out, &out)
	}()
	for _, l := range lines {
		io.WriteString(pw, l+"\n")
	}
	if meanwhile != nil {
		meanwhile()
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), until) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(pw, "/quit\n")
	if err := <-done; err != nil {
		c.t.Fatal(err)
	}
	return out.String()
}

// TestCLIBlock: bob blocks alice. Her messages are not printed by `sync`
// (a note on stderr counts them) nor in interactive mode, `blocked --json`
// counts them, `group show` warns that the group contains her, and adding
// her to a group is refused with a hint; unblocking shows her again.
func TestCLIBlock(t *testing.T) {
	url, _ := startStandingServer(t)
	c := &cli{t: t, url: url, dir: t.TempDir()}
	for _, u := range []struct{ h, name string }{{"a", "alice"}, {"b", "bob"}, {"c", "carol"}} {
		c.ok(u.h, "register", u.name)
	}
	c.ok("a", "group", "create", "team", "bob", "carol")
	c.ok("b", "sync")
	var b struct {
		Username string   `json:"username"`
		Dropped  int      `json:"dropped"`
		Groups   []string `json:"groups"`
	}
	c.json("b", &b, "block", "alice")
	if b.Username != "alice" || len(b.Groups) != 1 {
		t.Fatalf("block --json: %+v", b)
	}
	c.ok("a", "send", "team", "you cannot ignore me")
	out, errOut, err := c.runBoth("b", "sync")
	if err != nil || strings.Contains(out, "ignore me") || !strings.Contains(errOut, "1 message(s) from blocked users not shown") {
		t.Fatalf("sync while blocked: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	if out := c.ok("b", "group", "show", "team"); !strings.Contains(out, "WARNING: this group contains alice, whom you blocked") {
		t.Fatalf("group show: %s", out)
	}
	// Interactive: alice's message never appears; carol's, sent after it, does.
	s := c.interactive("b", nil, "carol speaks", func() {
		c.ok("a", "send", "team", "still here, bob")
		c.ok("c", "send", "team", "carol speaks")
	})
	if !strings.Contains(s, "carol speaks") || strings.Contains(s, "still here") {
		t.Fatalf("interactive output while alice is blocked:\n%s", s)
	}
	var bl []struct {
		Username string `json:"username"`
		Dropped  int    `json:"dropped"`
	}
	c.json("b", &bl, "blocked")
	if len(bl) != 1 || bl[0].Username != "alice" || bl[0].Dropped != 2 {
		t.Fatalf("blocked --json: %+v", bl)
	}
	if _, err := c.run("b", "group", "create", "other", "alice"); err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("group create with a blocked user: %v", err)
	}
	out, err = c.run("b", "--json", "group", "add", "team", "alice")
	var e struct{ Error, Hint string }
	if err == nil || json.Unmarshal([]byte(out), &e) != nil || !strings.Contains(e.Hint, "daylight unblock") {
		t.Fatalf("group add of a blocked user: %v %s", err, out)
	}
	c.ok("b", "unblock", "alice")
	c.json("b", &bl, "blocked")
	if len(bl) != 0 {
		t.Fatalf("blocked after unblock: %+v", bl)
	}
	c.ok("a", "send", "team", "hello again")
	if out := c.ok("b", "sync"); !strings.Contains(out, "hello again") {
		t.Fatalf("sync after unblocking: %s", out)
	}
}

// TestCLIStanding: after bob's report a moderator warns alice: her next
// `sync` prints the warning once with a hint, `status --json` lists it;
// after the moderator suspends her, `status` and the interactive mode say
// so.
func TestCLIStanding(t *testing.T) {
	url, mod := startStandingServer(t)
	c := &cli{t: t, url: url, dir: t.TempDir()}
	c.ok("a", "register", "alice")
	c.ok("b", "register", "bob")
	if out := c.ok("a", "status"); !strings.Contains(out, "good standing") {
		t.Fatalf("status before: %s", out)
	}
	c.ok("a", "group", "create", "team", "bob")
	c.ok("a", "send", "team", "cheap watches here")
	var ms []msg
	c.json("b", &ms, "sync")
	var rep struct{ ID string }
	c.json("b", &rep, "report", "team", itoa(ms[len(ms)-1].ID), "--reason", "spam")
	m := moderation.Moderator{Name: "ana", Role: moderation.RoleModerator}
	ctx := context.Background()
	if err := mod.Warn(ctx, m, rep.ID, "Advertising is against the terms."); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := c.runBoth("a", "sync")
	if err != nil || !strings.Contains(errOut, "WARNING from the provider's moderators") || !strings.Contains(errOut, "Advertising is against the terms.") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("sync after a warning: %v\n%s", err, errOut)
	}
	if _, errOut, _ := c.runBoth("a", "sync"); strings.Contains(errOut, "WARNING") {
		t.Fatalf("the warning is shown again: %s", errOut)
	}
	var st struct {
		Available bool `json:"available"`
		Suspended bool `json:"suspended"`
		Warnings  []struct {
			Text string `json:"text"`
		} `json:"warnings"`
	}
	c.json("a", &st, "status")
	if !st.Available || st.Suspended || len(st.Warnings) != 1 || st.Warnings[0].Text != "Advertising is against the terms." {
		t.Fatalf("status --json: %+v", st)
	}
	if err := mod.Suspend(ctx, m, rep.ID, "repeat offender"); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("a", "status"); !strings.Contains(out, "ACCOUNT SUSPENDED") || !strings.Contains(out, "appeal") {
		t.Fatalf("status when suspended: %s", out)
	}
	if s := c.interactive("a", nil, "ACCOUNT SUSPENDED", nil); !strings.Contains(s, "ACCOUNT SUSPENDED") {
		t.Fatalf("interactive start when suspended:\n%s", s)
	}
	if out := c.ok("b", "status"); !strings.Contains(out, "good standing") {
		t.Fatalf("bob sees alice's standing: %s", out)
	}
}
