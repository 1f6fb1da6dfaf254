// Package moderationtest is the conformance suite of moderation.Store: every
// implementation runs RunStore.
package moderationtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/moderation"
)

// NewStore returns a fresh, empty store; the suite closes it.
type NewStore func(t *testing.T) moderation.Store

// RunStore runs the conformance suite.
func RunStore(t *testing.T, newStore NewStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, context.Context, moderation.Store)
	}{
		{"Moderators", testModerators},
		{"Sessions", testSessions},
		{"Reports", testReports},
		{"AuditChain", testAuditChain},
		{"SuspensionsWarnings", testSuspensionsWarnings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			t.Cleanup(func() { st.Close() })
			tc.fn(t, t.Context(), st)
		})
	}
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testModerators(t *testing.T, ctx context.Context, st moderation.Store) {
	m := moderation.Moderator{Name: "ana", Role: moderation.RoleAdmin, PasswordHash: "$argon2id$x", Created: t0}
	must(t, "AddModerator", st.AddModerator(ctx, m))
	if err := st.AddModerator(ctx, m); !errors.Is(err, moderation.ErrExists) {
		t.Fatalf("duplicate moderator: %v", err)
	}
	got, err := st.Moderator(ctx, "ana")
	must(t, "Moderator", err)
	if got.Role != m.Role || got.PasswordHash != m.PasswordHash || !got.Created.Equal(t0) {
		t.Fatalf("moderator %+v", got)
	}
	if _, err := st.Moderator(ctx, "nobody"); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("unknown moderator: %v", err)
	}
	must(t, "AddModerator", st.AddModerator(ctx, moderation.Moderator{Name: "bo", Role: moderation.RoleViewer, PasswordHash: "h", Created: t0}))
	all, err := st.Moderators(ctx)
	must(t, "Moderators", err)
	if len(all) != 2 || all[0].Name != "ana" || all[1].Name != "bo" {
		t.Fatalf("Moderators %+v", all)
	}
}

func testSessions(t *testing.T, ctx context.Context, st moderation.Store) {
	s := moderation.Session{Hash: [32]byte{1}, Moderator: "ana", CSRF: "tok", Created: t0, Expires: t0.Add(time.Hour)}
	must(t, "PutSession", st.PutSession(ctx, s))
	got, err := st.Session(ctx, s.Hash, t0.Add(time.Minute))
	must(t, "Session", err)
	if got.Moderator != "ana" || got.CSRF != "tok" || !got.Expires.Equal(s.Expires) {
		t.Fatalf("session %+v", got)
	}
	if _, err := st.Session(ctx, s.Hash, t0.Add(time.Hour)); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := st.Session(ctx, [32]byte{2}, t0); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	must(t, "DeleteSession", st.DeleteSession(ctx, s.Hash))
	if _, err := st.Session(ctx, s.Hash, t0); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
}

func report(id, reporter string, key byte) moderation.Report {
	return moderation.Report{ID: id, Reporter: reporter, Device: 7, Reason: "threat", Comment: "see context",
		Message:  moderation.VerifiedMessage{Account: "mallory", Device: "3", GroupID: []byte{9, 9}, Time: t0, Plaintext: []byte("bad"), Franked: []byte{1, 2, 3}},
		Context:  []moderation.VerifiedMessage{{Account: "bob", Device: "4", GroupID: []byte{9, 9}, Time: t0.Add(-time.Minute), Plaintext: []byte("before"), Franked: []byte{4}}},
		Received: t0.Add(time.Minute), Status: moderation.StatusOpen, Key: [32]byte{key}}
}

func testReports(t *testing.T, ctx context.Context, st moderation.Store) {
	r1, r2 := report("r1", "bob", 1), report("r2", "carol", 1)
	must(t, "AddReport", st.AddReport(ctx, r1))
	must(t, "AddReport other reporter, same message", st.AddReport(ctx, r2))
	dup := report("r3", "bob", 1)
	if err := st.AddReport(ctx, dup); !errors.Is(err, moderation.ErrExists) {
		t.Fatalf("same reporter, same message: %v", err)
	}
	got, err := st.Report(ctx, "r1")
	must(t, "Report", err)
	if got.Message.Account != "mallory" || string(got.Message.Plaintext) != "bad" || len(got.Context) != 1 ||
		string(got.Context[0].Plaintext) != "before" || got.Key != r1.Key || got.Status != moderation.StatusOpen || !got.Received.Equal(r1.Received) {
		t.Fatalf("report round trip: %+v", got)
	}
	must(t, "SetReportStatus", st.SetReportStatus(ctx, "r1", moderation.StatusActioned))
	if err := st.SetReportStatus(ctx, "nope", moderation.StatusActioned); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("status of unknown report: %v", err)
	}
	open, err := st.Reports(ctx, moderation.StatusOpen, 10)
	must(t, "Reports", err)
	if len(open) != 1 || open[0].ID != "r2" {
		t.Fatalf("open reports %+v", open)
	}
	all, err := st.Reports(ctx, 0, 10)
	must(t, "Reports", err)
	if len(all) != 2 || all[0].ID != "r1" {
		t.Fatalf("all reports %+v", all)
	}
	must(t, "CountRejection", st.CountRejection(ctx, "stamp"))
	must(t, "CountRejection", st.CountRejection(ctx, "stamp"))
	rej, err := st.Rejections(ctx)
	must(t, "Rejections", err)
	if rej["stamp"] != 2 {
		t.Fatalf("rejections %v", rej)
	}
}

func testAuditChain(t *testing.T, ctx context.Context, st moderation.Store) {
	last, err := st.LastAudit(ctx)
	must(t, "LastAudit", err)
	if last.Seq != 0 {
		t.Fatalf("empty trail has last %d", last.Seq)
	}
	e1 := moderation.AuditEntry{Seq: 1, Time: t0, Moderator: "ana", Action: "login", Hash: [32]byte{1}}
	must(t, "AppendAudit", st.AppendAudit(ctx, e1))
	// A fork (same seq again, or a wrong previous hash) is refused.
	if err := st.AppendAudit(ctx, moderation.AuditEntry{Seq: 1, Time: t0, Hash: [32]byte{2}}); !errors.Is(err, moderation.ErrExists) {
		t.Fatalf("second entry 1: %v", err)
	}
	if err := st.AppendAudit(ctx, moderation.AuditEntry{Seq: 2, Time: t0, PrevHash: [32]byte{9}, Hash: [32]byte{2}}); !errors.Is(err, moderation.ErrExists) {
		t.Fatalf("entry with wrong previous hash: %v", err)
	}
	e2 := moderation.AuditEntry{Seq: 2, Time: t0.Add(time.Second), Moderator: "ana", Action: "suspend", Target: "account m", Detail: "report r1", PrevHash: e1.Hash, Hash: [32]byte{2}}
	must(t, "AppendAudit", st.AppendAudit(ctx, e2))
	es, err := st.Audit(ctx, 0, 10)
	must(t, "Audit", err)
	if len(es) != 2 || es[1].Target != "account m" || es[1].PrevHash != e1.Hash || !es[1].Time.Equal(e2.Time) {
		t.Fatalf("audit %+v", es)
	}
	last, _ = st.LastAudit(ctx)
	if last.Seq != 2 || last.Hash != e2.Hash {
		t.Fatalf("LastAudit %+v", last)
	}
}

func testSuspensionsWarnings(t *testing.T, ctx context.Context, st moderation.Store) {
	if _, err := st.Suspension(ctx, "m"); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("no suspension: %v", err)
	}
	must(t, "PutSuspension", st.PutSuspension(ctx, moderation.Suspension{Account: "m", By: "ana", Reason: "threats", Since: t0}))
	must(t, "PutSuspension again", st.PutSuspension(ctx, moderation.Suspension{Account: "m", By: "bo", Reason: "again", Since: t0}))
	s, err := st.Suspension(ctx, "m")
	must(t, "Suspension", err)
	if s.By != "bo" {
		t.Fatalf("suspension %+v", s)
	}
	must(t, "DeleteSuspension", st.DeleteSuspension(ctx, "m"))
	if _, err := st.Suspension(ctx, "m"); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatalf("lifted suspension: %v", err)
	}
	must(t, "AddWarning", st.AddWarning(ctx, moderation.Warning{Account: "m", Report: "r1", Text: "stop", Time: t0}))
	ws, err := st.Warnings(ctx, "m")
	must(t, "Warnings", err)
	if len(ws) != 1 || ws[0].Text != "stop" {
		t.Fatalf("warnings %+v", ws)
	}
}
