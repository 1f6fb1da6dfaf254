package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// startStandingServer is daylightd's moderation wiring (as startModServer)
// with the account-status route mounted too (cmd/daylightd/moderation.go).
func startStandingServer(t *testing.T) *modWorld {
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
	fwd := &fwdSuspensions{}
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(64)),
		Franking: ds.Franking{Stamper: stamper, Suspensions: fwd}})
	if err != nil {
		t.Fatal(err)
	}
	ms := moderation.NewMemStore()
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	mod, err := moderation.New(moderation.Config{DS: svc, Stamper: stamper, Store: ms, ExportKey: ek, SuspensionCacheTTL: time.Nanosecond})
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
	return &modWorld{url: hs.URL, mod: mod, st: ms}
}

func texts(ms []Message) []string {
	var out []string
	for _, m := range ms {
		if m.Kind == "text" {
			out = append(out, m.From+": "+m.Text)
		}
	}
	return out
}

// TestBlockHidesMessages: bob blocks alice. Her later messages reach bob's
// device (the MLS state advances: her commit still adds carol) but are
// neither returned by Sync nor kept in the history, and are counted; her
// earlier message disappears from History while the block holds; the block
// survives reopening the profile; the group is flagged; after unblocking,
// the earlier message is shown again and new ones arrive.
func TestBlockHidesMessages(t *testing.T) {
	ctx := context.Background()
	w := startStandingServer(t)
	alice, bob, gid := chatPair(t, ctx, w.url)
	carol := newModClient(t, ctx, w.url, filepath.Join(t.TempDir(), "carol"), "carol")
	if _, err := alice.SendText(ctx, gid, "before the block"); err != nil {
		t.Fatal(err)
	}
	if got, err := bob.Sync(ctx); err != nil || !slices.Contains(texts(got), "alice: before the block") {
		t.Fatalf("before the block: %q %v", texts(got), err)
	}
	b, err := bob.Block("alice")
	if err != nil {
		t.Fatal(err)
	}
	if b.Username != "alice" || b.Dropped != 0 || !slices.Contains(b.Groups, gid) {
		t.Fatalf("Block: %+v, want alice in group %s", b, gid)
	}
	if _, err := bob.Block("bob"); err == nil {
		t.Fatal("blocking oneself accepted")
	}
	if h, _ := bob.History(gid, 0); len(texts(h)) != 0 {
		t.Fatalf("history while blocked shows %q", texts(h))
	}
	for _, s := range []string{"you blocked me?", "answer!"} {
		if _, err := alice.SendText(ctx, gid, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.Add(ctx, gid, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	got, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got {
		if m.From == "alice" && m.Kind != "event" || strings.Contains(m.Text, "blocked me") || strings.Contains(m.Text, "answer") {
			t.Fatalf("blocked sender's message shown: %+v", m)
		}
	}
	gi, err := bob.Group(gid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(gi.Members, func(m Member) bool { return m.Username == "carol" }) {
		t.Fatalf("alice's commit (adding carol) was not processed: %+v", gi.Members)
	}
	if !slices.Equal(gi.Blocked, []string{"alice"}) {
		t.Fatalf("GroupInfo.Blocked = %v, want [alice]", gi.Blocked)
	}
	bl, err := bob.BlockedUsers()
	if err != nil || len(bl) != 1 || bl[0].Dropped != 2 {
		t.Fatalf("BlockedUsers = %+v, %v; want alice with 2 dropped", bl, err)
	}
	// bob still talks to the group; alice and carol read him.
	if _, err := bob.SendText(ctx, gid, "bob here"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{alice, carol} {
		if got, err := c.Sync(ctx); err != nil || !slices.Contains(texts(got), "bob: bob here") {
			t.Fatalf("bob's message after the block: %q %v", texts(got), err)
		}
	}

	// The block is in the sealed profile: reopen bob.
	home := bob.cfg.Home
	key := bob.cfg.Key
	bob.Close()
	bob, err = Open(Config{Home: home, Key: key, ServerURL: w.url, KeyPackages: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bob.Close() })
	if bl, err := bob.BlockedUsers(); err != nil || len(bl) != 1 || bl[0].Username != "alice" || bl[0].Dropped != 2 {
		t.Fatalf("after reopening: %+v %v", bl, err)
	}
	if _, err := alice.SendText(ctx, gid, "third try"); err != nil {
		t.Fatal(err)
	}
	if got, err := bob.Sync(ctx); err != nil || len(texts(got)) != 0 {
		t.Fatalf("after reopening, sync shows %q %v", texts(got), err)
	}

	if err := bob.Unblock("alice"); err != nil {
		t.Fatal(err)
	}
	if err := bob.Unblock("alice"); err == nil {
		t.Fatal("unblocking a user who is not blocked accepted")
	}
	if h, _ := bob.History(gid, 0); !slices.Contains(texts(h), "alice: before the block") || slices.Contains(texts(h), "alice: answer!") {
		t.Fatalf("history after unblocking: %q (the earlier message again, nothing dropped)", texts(h))
	}
	if _, err := alice.SendText(ctx, gid, "friends again"); err != nil {
		t.Fatal(err)
	}
	if got, err := bob.Sync(ctx); err != nil || !slices.Contains(texts(got), "alice: friends again") {
		t.Fatalf("after unblocking: %q %v", texts(got), err)
	}
	if gi, _ := bob.Group(gid); len(gi.Blocked) != 0 {
		t.Fatalf("GroupInfo.Blocked after unblocking = %v", gi.Blocked)
	}
}

// TestBlockRefusesAdd: bob cannot put a user he blocked into a group, at
// creation or later; when another member adds that user, bob's history
// says so.
func TestBlockRefusesAdd(t *testing.T) {
	ctx := context.Background()
	w := startStandingServer(t)
	alice, bob, gid := chatPair(t, ctx, w.url)
	newModClient(t, ctx, w.url, filepath.Join(t.TempDir(), "carol"), "carol")
	if _, err := bob.Block("carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.CreateGroup(ctx, "x", []string{"alice", "carol"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("CreateGroup with a blocked user: want ErrBlocked, got %v", err)
	}
	if gs, _ := bob.Groups(); len(gs) != 1 {
		t.Fatalf("a refused CreateGroup left %d groups", len(gs))
	}
	if _, err := bob.Add(ctx, gid, []string{"carol"}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("Add of a blocked user: want ErrBlocked, got %v", err)
	}
	if _, err := alice.Add(ctx, gid, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	got, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got, func(m Message) bool {
		return m.Kind == "event" && strings.Contains(m.Text, "added carol/") && strings.Contains(m.Text, "you blocked carol")
	}) {
		t.Fatalf("no warning that a blocked user joined: %+v", got)
	}
}

// TestStandingWarningsAndSuspension: a moderator warns and then suspends
// alice after bob's report; alice's client reads both (each warning new
// once); bob sees nothing of alice's standing; a server without the
// moderation service answers "not available", not an error.
func TestStandingWarningsAndSuspension(t *testing.T) {
	ctx := context.Background()
	w := startStandingServer(t)
	alice, bob, gid := chatPair(t, ctx, w.url)
	if st, err := alice.Standing(ctx); err != nil || !st.Available || st.Suspended || len(st.Warnings) != 0 {
		t.Fatalf("clean standing: %+v %v", st, err)
	}
	if _, err := alice.SendText(ctx, gid, "buy my pills"); err != nil {
		t.Fatal(err)
	}
	got, err := bob.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := got[len(got)-1].ID
	rep, err := bob.Report(ctx, gid, id, "spam", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	mod := moderation.Moderator{Name: "ana", Role: moderation.RoleModerator}
	if err := w.mod.Warn(ctx, mod, rep.ID, "No advertising, please."); err != nil {
		t.Fatal(err)
	}
	st, err := alice.Standing(ctx)
	if err != nil || st.Suspended || st.New != 1 || len(st.Warnings) != 1 || st.Warnings[0].Text != "No advertising, please." || !st.Warnings[0].New {
		t.Fatalf("after the warning: %+v %v", st, err)
	}
	if st, err := alice.Standing(ctx); err != nil || st.New != 0 || st.Warnings[0].New {
		t.Fatalf("the warning is new only once: %+v %v", st, err)
	}
	if err := w.mod.Suspend(ctx, mod, rep.ID, "internal note"); err != nil {
		t.Fatal(err)
	}
	st, err = alice.Standing(ctx)
	if err != nil || !st.Suspended || st.Since == nil || st.New != 0 {
		t.Fatalf("after the suspension: %+v %v", st, err)
	}
	if bst, err := bob.Standing(ctx); err != nil || bst.Suspended || len(bst.Warnings) != 0 {
		t.Fatalf("bob sees alice's standing: %+v %v", bst, err)
	}

	// A server without the moderation service.
	url := startServer(t)
	key := make([]byte, 32)
	rand.Read(key)
	c, err := Open(Config{Home: t.TempDir(), Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "dora", "laptop"); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Standing(ctx); err != nil || st.Available {
		t.Fatalf("no moderation service: %+v %v", st, err)
	}
}
