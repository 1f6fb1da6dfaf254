package moderation_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/moderation"
)

// TestReportVerifiedEndToEnd: a recipient's report of a franked message, with
// context, verifies and reaches the queue with the right metadata.
func TestReportVerifiedEndToEnd(t *testing.T) {
	w := newWorld(t, true)
	mallory, bob, _ := w.demo()
	var fam received
	for _, r := range bob.inbox {
		if r.text == "send me your bank password or else" && string(r.group) == "family" {
			fam = r
		}
	}
	status, body := w.postReport(bob, moderation.ReportRequest{
		Message: marshal(t, fam.report), Reason: "threat", Comment: "extortion",
		Context: [][]byte{marshal(t, bob.find("hello everyone").report), marshal(t, bob.find("please stop").report)},
	})
	if status != http.StatusCreated {
		t.Fatalf("report: %d %v", status, body)
	}
	id, _ := body["id"].(string)
	r, err := w.store.Report(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Message.Account != "mallory" || r.Message.Device != ds.StampSender(mallory.p).Device || string(r.Message.GroupID) != "family" ||
		string(r.Message.Plaintext) != fam.text || r.Reporter != "bob" || r.Reason != "threat" || len(r.Context) != 2 ||
		r.Context[1].Account != "carol" || r.Message.Time.IsZero() {
		t.Fatalf("queued report %+v", r)
	}
}

// attackReport posts a forged report and checks it is refused as not
// verified, nothing is queued, and the refusal is counted.
func attackReport(t *testing.T, w *world, reporter *user, msg []byte, ctxMsgs ...[]byte) {
	t.Helper()
	before, _ := w.store.Reports(w.ctx, 0, 1000)
	rejBefore := total(w)
	status, body := w.postReport(reporter, moderation.ReportRequest{Message: msg, Context: ctxMsgs, Reason: "threat"})
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("forged report: status %d %v, want 422", status, body)
	}
	e, _ := body["error"].(map[string]any)
	if e["code"] != string(moderation.CodeReportNotVerified) || e["detail"] == "" {
		t.Fatalf("forged report: error %v, want code report_not_verified with a reason", body)
	}
	after, _ := w.store.Reports(w.ctx, 0, 1000)
	if len(after) != len(before) {
		t.Fatalf("a forged report was queued")
	}
	if total(w) != rejBefore+1 {
		t.Fatalf("refusal not counted")
	}
}

func total(w *world) int64 {
	m, _ := w.store.Rejections(w.ctx)
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestAttackReportAlteredPlaintext: the reporter changes the text.
func TestAttackReportAlteredPlaintext(t *testing.T) {
	w := newWorld(t, false)
	_, bob, _ := w.demo()
	r := bob.find("just kidding?").report
	r.Plaintext = []byte("I will hurt you")
	attackReport(t, w, bob, marshal(t, r))
}

// TestAttackReportSwappedSender: the reporter blames another account (and
// device) for mallory's message, keeping the stamp's tag.
func TestAttackReportSwappedSender(t *testing.T) {
	w := newWorld(t, false)
	_, bob, carol := w.demo()
	r := bob.find("just kidding?").report
	r.Stamp.Sender = ds.StampSender(carol.p)
	attackReport(t, w, bob, marshal(t, r))
	r = bob.find("just kidding?").report
	r.Stamp.Sender.Device = "999"
	attackReport(t, w, bob, marshal(t, r))
}

// TestAttackReportReplayedStamp: the stamp of one message with the text and
// key of another (and the reverse: another message's key).
func TestAttackReportReplayedStamp(t *testing.T) {
	w := newWorld(t, false)
	_, bob, _ := w.demo()
	hello, bad := bob.find("hello everyone").report, bob.find("just kidding?").report
	forged := franking.Report{Plaintext: bad.Plaintext, Key: bad.Key, Stamp: hello.Stamp}
	attackReport(t, w, bob, marshal(t, forged))
	forged = franking.Report{Plaintext: hello.Plaintext, Key: bad.Key, Stamp: hello.Stamp}
	attackReport(t, w, bob, marshal(t, forged))
	// A stamp moved to another time is refused too.
	moved := hello
	moved.Stamp.Time -= 3600_000
	attackReport(t, w, bob, marshal(t, moved))
}

// TestAttackReportOtherGroupStamp: mallory sent the same text to "family"
// and "work"; a report pairing one group's stamp with the other's group id
// fails, and so does a context message from another group.
func TestAttackReportOtherGroupStamp(t *testing.T) {
	w := newWorld(t, false)
	_, bob, _ := w.demo()
	var fam, work received
	for _, r := range bob.inbox {
		if r.text == "send me your bank password or else" {
			if string(r.group) == "family" {
				fam = r
			} else {
				work = r
			}
		}
	}
	r := fam.report
	r.Stamp.GroupID = []byte("work")
	attackReport(t, w, bob, marshal(t, r))
	r = work.report
	r.Stamp.GroupID = []byte("family")
	attackReport(t, w, bob, marshal(t, r))
	// Genuine messages, but context from another group than the report's.
	attackReport(t, w, bob, marshal(t, fam.report), marshal(t, work.report))
}

// TestAttackReportForeignStamp: a stamp made with a key that is not the
// provider's (a reporter making up stamps) does not verify.
func TestAttackReportForeignStamp(t *testing.T) {
	w := newWorld(t, false)
	mallory, bob, _ := w.demo()
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	other, _ := franking.NewStamper(key)
	r := bob.find("just kidding?").report
	st, err := other.Stamp(r.Stamp.Commitment, ds.StampSender(mallory.p), []byte("family"), r.Stamp.Time)
	if err != nil {
		t.Fatal(err)
	}
	r.Stamp = *st
	attackReport(t, w, bob, marshal(t, r))
}

// TestAttackUnreportableMessageDropped: mallory sends content whose
// commitment does not match it (a commitment to other text, another group,
// or garbage). The DS cannot tell and stamps it, but an honest recipient's
// franking.Unprotect drops it, so it is never shown; and a report of what
// was actually sent does not verify.
func TestAttackUnreportableMessageDropped(t *testing.T) {
	w := newWorld(t, false)
	mallory, bob, _ := w.demo()
	sender := ds.StampSender(mallory.p)
	content, _, _ := franking.Protect(rand.Reader, []byte("family"), sender, []byte("you will regret this"))
	_, innocent, _ := franking.Protect(rand.Reader, []byte("family"), sender, []byte("have a nice day"))
	_, otherGroup, _ := franking.Protect(rand.Reader, []byte("work"), sender, []byte("you will regret this"))
	junk := make([]byte, franking.CommitmentSize)
	rand.Read(junk)
	for _, c := range [][]byte{innocent[:], otherGroup[:], junk, nil} {
		if err := w.sendRaw(mallory, "family", content, c); err != nil {
			t.Fatalf("DS refused: %v", err)
		}
	}
	before := len(bob.inbox)
	if n := w.receive(bob); n != 4 {
		t.Fatalf("bob dropped %d of 4 messages with a wrong commitment", n)
	}
	if len(bob.inbox) != before {
		t.Fatalf("bob accepted a message whose commitment does not open")
	}
	// Even if a (modified) client kept it, its report fails: the content
	// is committed to nothing the stamp names.
	pt, key, err := franking.ParseContent(content)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := w.ds.Fetch(w.ctx, w.users["carol"].p, w.users["carol"].cursor, 100)
	var stamped int
	for _, d := range page.Deliveries {
		if d.Kind != ds.KindApplication || len(d.Stamp) == 0 {
			continue
		}
		st, err := franking.ParseStamp(d.Stamp)
		if err != nil {
			t.Fatal(err)
		}
		stamped++
		attackReport(t, w, bob, marshal(t, franking.Report{Plaintext: pt, Key: key, Stamp: *st}))
	}
	if stamped != 3 { // the message without a 32-byte commitment has no stamp
		t.Fatalf("%d stamped deliveries, want 3", stamped)
	}
}

// TestAttackProviderCannotVerifyUnreported: the provider holds the stored
// ciphertext and every stamp, but no franking key: it cannot confirm even a
// correct guess of a message nobody reported, and the stored bytes do not
// contain the text.
func TestAttackProviderCannotVerifyUnreported(t *testing.T) {
	w := newWorld(t, false)
	_, _, carol := w.demo()
	// Carol has not read anything new; look at her queue as the provider does.
	if err := w.send(w.users["mallory"], "family", "meet me at the station at 9"); err != nil {
		t.Fatal(err)
	}
	page, err := w.ds.Fetch(w.ctx, carol.p, carol.cursor, 100)
	if err != nil || len(page.Deliveries) != 1 {
		t.Fatalf("carol's queue: %v %v", page.Deliveries, err)
	}
	d := page.Deliveries[0]
	if bytes.Contains(d.Data, []byte("station")) {
		t.Fatal("the stored message contains the plaintext")
	}
	st, err := franking.ParseStamp(d.Stamp)
	if err != nil {
		t.Fatal(err)
	}
	guess := []byte("meet me at the station at 9")
	for _, key := range [][]byte{make([]byte, franking.KeySize), bytes.Repeat([]byte{0xff}, franking.KeySize), st.Tag[:], st.Commitment[:]} {
		if _, err := w.stamper.VerifyReport(&franking.Report{Plaintext: guess, Key: key, Stamp: *st}); !errors.Is(err, franking.ErrCommitment) {
			t.Fatalf("provider confirmed a guess without the franking key (key %x): %v", key[:4], err)
		}
	}
}

// TestReportBadInput: unauthenticated, malformed, oversized, wrong media
// type, unknown fields, bad reason, too much context, own message and
// duplicates get a clear 4xx and queue nothing.
func TestReportBadInput(t *testing.T) {
	w := newWorld(t, false)
	mallory, bob, _ := w.demo()
	good := marshal(t, bob.find("just kidding?").report)
	for _, tc := range []struct {
		name   string
		token  string
		ctype  string
		body   string
		status int
		code   string
	}{
		{"no token", "", "application/json", `{"message":"AA==","reason":"spam"}`, 401, "unauthenticated"},
		{"bad token", "not-a-token", "application/json", `{"message":"AA==","reason":"spam"}`, 401, "unauthenticated"},
		{"wrong media type", bob.token, "text/plain", `{}`, 415, "unsupported_media"},
		{"not JSON", bob.token, "application/json", `message=1`, 400, "malformed_body"},
		{"unknown field", bob.token, "application/json", `{"message":"AA==","reason":"spam","admin":true}`, 400, "malformed_body"},
		{"trailing data", bob.token, "application/json", `{"message":"AA==","reason":"spam"} {}`, 400, "malformed_body"},
		{"oversized", bob.token, "application/json", `{"message":"` + strings.Repeat("A", 5<<20) + `","reason":"spam"}`, 413, "too_large"},
		{"malformed franked message", bob.token, "application/json", `{"message":"AAAA","reason":"spam"}`, 400, "invalid_input"},
		{"empty message", bob.token, "application/json", `{"reason":"spam"}`, 400, "invalid_input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := w.post(tc.token, tc.ctype, []byte(tc.body))
			e, _ := body["error"].(map[string]any)
			if status != tc.status || e["code"] != tc.code {
				t.Fatalf("status %d %v, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		who    *user
		req    moderation.ReportRequest
		status int
	}{
		{"unknown reason", bob, moderation.ReportRequest{Message: good, Reason: "dislike"}, 400},
		{"comment too long", bob, moderation.ReportRequest{Message: good, Reason: "spam", Comment: strings.Repeat("x", moderation.MaxComment+1)}, 400},
		{"too much context", bob, moderation.ReportRequest{Message: good, Reason: "spam", Context: bytes.Fields(bytes.Repeat([]byte("a "), 11))}, 400},
		{"own message", mallory, moderation.ReportRequest{Message: good, Reason: "spam"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := w.postReport(tc.who, tc.req); status != tc.status {
				t.Fatalf("status %d %v, want %d", status, body, tc.status)
			}
		})
	}
	if reps, _ := w.store.Reports(w.ctx, 0, 100); len(reps) != 0 {
		t.Fatalf("bad input queued %d reports", len(reps))
	}
	if status, body := w.postReport(bob, moderation.ReportRequest{Message: good, Reason: "spam"}); status != 201 {
		t.Fatalf("good report: %d %v", status, body)
	}
	if status, _ := w.postReport(bob, moderation.ReportRequest{Message: good, Reason: "spam"}); status != http.StatusConflict {
		t.Fatalf("duplicate report: %d, want 409", status)
	}
}

// TestReportRateLimited: a reporter gets at most ReportsPerHour attempts;
// the next is 429 with Retry-After, and another reporter is unaffected.
func TestReportRateLimited(t *testing.T) {
	w := newWorld(t, false)
	_, bob, carol := w.demo()
	junk := moderation.ReportRequest{Message: []byte{1, 2, 3}, Reason: "spam"}
	for i := 0; i < 50; i++ {
		if status, _ := w.postReport(bob, junk); status != 400 {
			t.Fatalf("attempt %d: %d", i, status)
		}
	}
	if status, body := w.postReport(bob, junk); status != http.StatusTooManyRequests {
		t.Fatalf("attempt 51: %d %v, want 429", status, body)
	}
	if status, _ := w.postReport(carol, junk); status != 400 {
		t.Fatalf("another reporter is limited too: %d", status)
	}
}

// TestSuspendedSenderRefusedByDS: a suspension takes effect at the DS's next
// Send (ds.ErrSuspended, a 403), and lifting it restores sending.
func TestSuspendedSenderRefusedByDS(t *testing.T) {
	w := newWorld(t, false)
	mallory, bob, _ := w.demo()
	status, body := w.postReport(bob, moderation.ReportRequest{Message: marshal(t, bob.find("just kidding?").report), Reason: "threat"})
	if status != 201 {
		t.Fatalf("report: %d %v", status, body)
	}
	id := body["id"].(string)
	mod := moderation.Moderator{Name: "mo", Role: moderation.RoleModerator}
	viewer := moderation.Moderator{Name: "vi", Role: moderation.RoleViewer}
	if err := w.mod.Suspend(w.ctx, viewer, id, ""); !errors.Is(err, moderation.ErrForbidden) {
		t.Fatalf("viewer suspends: %v", err)
	}
	if err := w.send(mallory, "family", "still here"); err != nil {
		t.Fatalf("send before suspension: %v", err)
	}
	if err := w.mod.Suspend(w.ctx, mod, id, "threats"); err != nil {
		t.Fatal(err)
	}
	err := w.send(mallory, "family", "you cannot stop me")
	if !errors.Is(err, ds.ErrSuspended) || !errors.Is(err, ds.ErrForbidden) {
		t.Fatalf("suspended sender's send: %v, want ErrSuspended", err)
	}
	if err := w.send(bob, "family", "thanks"); err != nil {
		t.Fatalf("another account is affected: %v", err)
	}
	if err := w.mod.Unsuspend(w.ctx, mod, "mallory"); err != nil {
		t.Fatal(err)
	}
	if err := w.send(mallory, "family", "sorry"); err != nil {
		t.Fatalf("after unsuspend: %v", err)
	}
	if n, err := w.mod.VerifyAudit(w.ctx); err != nil || n != 2 {
		t.Fatalf("audit: %d entries, %v", n, err)
	}
}
