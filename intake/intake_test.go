package intake_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
)

const now = 1767225600 + 40*86400

type env struct {
	f   *intaketest.Fixture
	log *intaketest.MemLog
	st  intake.Store
	svc *intake.Service
}

func newEnv(t *testing.T, st intake.Store) *env {
	t.Helper()
	e := &env{f: intaketest.New(t), log: &intaketest.MemLog{}, st: st}
	if e.st == nil {
		e.st = intake.NewMemStore()
	}
	var err error
	e.svc, err = intake.New(intake.Config{Agreements: e.f.Agreements, Store: e.st, Log: e.log, Signer: e.f.Provider,
		Holdings: intaketest.Holdings{"mallory": {Exists: true, Created: now - 100*86400,
			Devices: []intake.DeviceData{{ID: "d1", Name: "phone", Created: now - 100*86400}}, Groups: []string{"00ff"}}},
		Now: func() time.Time { return time.Unix(now, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) states(t *testing.T) []string {
	var out []string
	for _, x := range e.log.Entries {
		if r, ok := x.(*accesslog.Request); ok {
			out = append(out, r.State+"/"+r.Reason)
		}
	}
	return out
}

// TestAttackRequestOutsideAgreement: every way a request can fall outside its
// agreement is refused with its reason code, and the refusal is logged.
func TestAttackRequestOutsideAgreement(t *testing.T) {
	cases := []struct {
		name string
		edit func(*intake.Request)
		sign func(e *env, r *intake.Request) []byte
		want intake.Reason
	}{
		{name: "unknown agreement", edit: func(r *intake.Request) { r.Agreement = "de-mlat" }, want: intake.ReasonUnknownAgreement},
		{name: "wrong authority", edit: func(r *intake.Request) { r.Authority = "uk-met" }, want: intake.ReasonWrongAuthority},
		{name: "authority of another agreement", edit: func(r *intake.Request) { r.Authority = "fr-pnf" }, want: intake.ReasonWrongAuthority},
		{name: "bad signature", sign: func(e *env, r *intake.Request) []byte {
			s, _ := intake.Sign(r, e.f.Keys["fr-mlat/fr-pnf"]) // a real authority's key, but not this one's
			b, _ := s.Marshal()
			return b
		}, want: intake.ReasonBadSignature},
		{name: "forbidden category", edit: func(r *intake.Request) {
			r.Agreement, r.Authority, r.Category, r.Review = "fr-mlat", "fr-pnf", intake.Metadata, nil
		}, want: intake.ReasonForbiddenCategory},
		{name: "protected person by nationality", edit: func(r *intake.Request) { r.Targets[0].Nationality = "US" }, want: intake.ReasonProtectedPerson},
		{name: "protected person by location", edit: func(r *intake.Request) { r.Targets[0].Location = "US" }, want: intake.ReasonProtectedPerson},
		{name: "nationality not stated under a DAA", edit: func(r *intake.Request) { r.Targets[0].Nationality = "" }, want: intake.ReasonProtectedPerson},
		{name: "missing domestic review", edit: func(r *intake.Request) { r.Review = nil }, want: intake.ReasonMissingReview},
		{name: "wrong kind of review", edit: func(r *intake.Request) { r.Review.Kind = "police-superintendent" }, want: intake.ReasonMissingReview},
		{name: "past deadline", edit: func(r *intake.Request) { r.AnswerBy = now - 1 }, want: intake.ReasonPastDeadline},
		{name: "too many targets", edit: func(r *intake.Request) {
			r.Targets = append(r.Targets, r.Targets[0], r.Targets[0])
		}, want: intake.ReasonTooManyTargets},
		{name: "not a serious crime", edit: func(r *intake.Request) { r.Offence = "defamation" }, want: intake.ReasonOffenceNotCovered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := intaketest.Valid(now, c.name)
			if c.edit != nil {
				c.edit(r)
			}
			var data []byte
			if c.sign != nil {
				data = c.sign(e, r)
			} else {
				data = e.f.Sign(t, r)
			}
			rec, err := e.svc.Submit(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if rec.State != intake.Refused || rec.Reason != c.want {
				t.Fatalf("state %s reason %s, want refused %s", rec.State, rec.Reason, c.want)
			}
			if got, want := strings.Join(e.states(t), ","), "received/,refused/"+string(c.want); got != want {
				t.Fatalf("logged %s, want %s", got, want)
			}
			stored, err := e.svc.Get(context.Background(), rec.ID)
			if err != nil || stored.State != intake.Refused || len(stored.History) != 2 || stored.History[1].LogIndex != 1 {
				t.Fatalf("stored %+v, %v", stored, err)
			}
		})
	}
}

func TestNonContentAnswer(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	r := intaketest.Valid(now, "n1")
	r.Category = intake.Metadata
	rec, err := e.svc.Submit(ctx, e.f.Sign(t, r))
	if err != nil || rec.State != intake.Logged {
		t.Fatalf("%v %+v", err, rec)
	}
	if _, err := e.svc.SendToTrustees(ctx, rec.ID, [32]byte{1}); !errors.Is(err, intake.ErrInvalidInput) {
		t.Fatalf("metadata request sent to trustees: %v", err)
	}
	if _, err := e.svc.Fulfil(ctx, rec.ID); !errors.Is(err, intake.ErrIllegalTransition) {
		t.Fatalf("non-content fulfilled without an answer: %v", err)
	}
	before := e.log.Len()
	rec, err = e.svc.AnswerNonContent(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != intake.Fulfilled || e.log.Len() != before+2 {
		t.Fatalf("state %s, %d new entries", rec.State, e.log.Len()-before)
	}
	ev, ok := e.log.Entries[before].(*accesslog.Evidence)
	if !ok || ev.Kind != accesslog.EvidenceNonContentAnswer || ev.Digest != intake.Digest(rec.Answer) || ev.Ref != rec.ID.String() || ev.Jurisdiction != "UK" {
		t.Fatalf("evidence entry %+v", e.log.Entries[before])
	}
	a, err := intake.VerifyAnswer(rec.Answer, e.f.Provider.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Accounts) != 1 || a.Accounts[0].Account != "mallory" || len(a.Accounts[0].Devices) != 1 || a.Request != rec.ID.String() {
		t.Fatalf("answer %+v", a)
	}
	tampered := bytes.Replace(rec.Answer, []byte("signature"), []byte("signaturX"), 1)
	if _, err := intake.VerifyAnswer(tampered, e.f.Provider.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("tampered bundle verified")
	}
	got := strings.Join(e.states(t), ",")
	if got != "received/,validated/,logged/,fulfilled/" {
		t.Fatalf("logged %s", got)
	}
}

func TestSubscriberAnswerOmitsMetadata(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	rec, err := e.svc.Submit(ctx, e.f.Sign(t, intaketest.Valid(now, "s")))
	if err != nil {
		t.Fatal(err)
	}
	rec, err = e.svc.AnswerNonContent(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := intake.VerifyAnswer(rec.Answer, e.f.Provider.Public().(ed25519.PublicKey))
	if a.Accounts[0].Devices != nil || a.Accounts[0].Groups != nil || a.Accounts[0].Created == 0 {
		t.Fatalf("subscriber answer %+v", a.Accounts[0])
	}
}

func TestContentGoesToTrusteesAndAppeal(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	r := intaketest.Valid(now, "c1")
	r.Category = intake.Content
	rec, err := e.svc.Submit(ctx, e.f.Sign(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AnswerNonContent(ctx, rec.ID); !errors.Is(err, intake.ErrIllegalTransition) {
		t.Fatalf("content answered without trustees: %v", err)
	}
	rec, err = e.svc.SendToTrustees(ctx, rec.ID, [32]byte{0xab})
	if err != nil || rec.State != intake.UnderTrusteeReview || !strings.HasPrefix(rec.WarrantCommitment, "ab00") {
		t.Fatalf("%v %+v", err, rec)
	}
	if _, err := e.svc.Refuse(ctx, rec.ID, intake.ReasonTrusteesRefused, "budget"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Appeal(ctx, rec.ID, "budget resets next month"); err != nil {
		t.Fatal(err)
	}
	if rec, err = e.svc.Reconsider(ctx, rec.ID); err != nil || rec.State != intake.Logged {
		t.Fatalf("%v %+v", err, rec)
	}
	if _, err := e.svc.SendToTrustees(ctx, rec.ID, [32]byte{0xab}); err != nil {
		t.Fatal(err)
	}
	if rec, err = e.svc.Fulfil(ctx, rec.ID); err != nil || rec.State != intake.Fulfilled {
		t.Fatalf("%v %+v", err, rec)
	}
	want := "received/,validated/,logged/,under-trustee-review/warrant:ab" + strings.Repeat("0", 62) +
		",refused/trustees-refused,appealed/,validated/appeal-granted,logged/,under-trustee-review/warrant:ab" + strings.Repeat("0", 62) + ",fulfilled/"
	if got := strings.Join(e.states(t), ","); got != want {
		t.Fatalf("logged\n%s\nwant\n%s", got, want)
	}
	if len(rec.History) != 10 {
		t.Fatalf("history %d", len(rec.History))
	}
}

// TestAttackIllegalTransitions: the state machine refuses every transition it
// does not list, and a refused transition logs nothing.
func TestAttackIllegalTransitions(t *testing.T) {
	all := []intake.State{intake.Received, intake.Validated, intake.Refused, intake.Logged, intake.UnderTrusteeReview, intake.Fulfilled, intake.Appealed}
	allowed := map[[2]intake.State]bool{
		{intake.Received, intake.Validated}: true, {intake.Received, intake.Refused}: true,
		{intake.Validated, intake.Logged}: true, {intake.Validated, intake.Refused}: true,
		{intake.Logged, intake.UnderTrusteeReview}: true, {intake.Logged, intake.Fulfilled}: true, {intake.Logged, intake.Refused}: true,
		{intake.UnderTrusteeReview, intake.Fulfilled}: true, {intake.UnderTrusteeReview, intake.Refused}: true,
		{intake.Refused, intake.Appealed}: true, {intake.Appealed, intake.Validated}: true, {intake.Appealed, intake.Refused}: true,
	}
	for _, from := range all {
		for _, to := range all {
			err := intake.CanMove(from, to)
			if allowed[[2]intake.State{from, to}] != (err == nil) {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
		}
	}
	e := newEnv(t, nil)
	ctx := context.Background()
	rec, _ := e.svc.Submit(ctx, e.f.Sign(t, intaketest.Valid(now, "x")))
	rec, _ = e.svc.AnswerNonContent(ctx, rec.ID)
	n := e.log.Len()
	if _, err := e.svc.Refuse(ctx, rec.ID, intake.ReasonProviderDecision, "late"); !errors.Is(err, intake.ErrIllegalTransition) {
		t.Fatalf("fulfilled -> refused: %v", err)
	}
	if _, err := e.svc.Appeal(ctx, rec.ID, ""); !errors.Is(err, intake.ErrIllegalTransition) {
		t.Fatalf("fulfilled -> appealed: %v", err)
	}
	if e.log.Len() != n {
		t.Fatal("an illegal transition was logged")
	}
}

func TestLogFailureRecordsNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.log.Fail = errors.New("log down")
	if _, err := e.svc.Submit(context.Background(), e.f.Sign(t, intaketest.Valid(now, "f"))); err == nil {
		t.Fatal("submit succeeded without the log")
	}
	if l, _ := e.st.List(context.Background()); len(l) != 0 {
		t.Fatal("a request was stored without being logged")
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	st, err := intake.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	ctx := context.Background()
	rec, err := e.svc.Submit(ctx, e.f.Sign(t, intaketest.Valid(now, "fs")))
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := intake.NewFileStore(dir) // reopen
	got, err := st2.Get(ctx, rec.ID)
	if err != nil || got.State != intake.Logged || len(got.History) != 3 || got.Request.Case != "NCA-2026-001" {
		t.Fatalf("%v %+v", err, got)
	}
	if err := st2.Create(ctx, got); !errors.Is(err, intake.ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := st2.Get(ctx, intake.ID{9}); !errors.Is(err, intake.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	l, _ := st2.List(ctx)
	if len(l) != 1 {
		t.Fatalf("list %d", len(l))
	}
}

func do(t *testing.T, h http.Handler, req *http.Request) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w, body
}

// TestAttackBadInputChangesNothing: malformed, oversized, duplicate or
// unauthenticated input to the intake API gets a JSON error and changes
// neither the log nor the store.
func TestAttackBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	h := e.svc.Handler()
	valid := e.f.Sign(t, intaketest.Valid(now, "h"))
	var s intake.Signed
	json.Unmarshal(valid, &s)
	nonCanon, _ := json.Marshal(intake.Signed{Body: append([]byte(" "), s.Body...), Signature: s.Signature})
	bad := map[string][]byte{
		"empty":            nil,
		"not json":         []byte("hello"),
		"trailing":         append(append([]byte{}, valid...), []byte(" {}")...),
		"unknown field":    []byte(`{"body":"","signature":"","x":1}`),
		"short signature":  []byte(`{"body":"e30=","signature":"AAAA"}`),
		"non-canonical":    nonCanon,
		"too large":        bytes.Repeat([]byte("a"), intake.MaxDocumentSize+1),
		"bad body version": mustSigned(t, e, `{"version":2}`),
	}
	for name, body := range bad {
		req := httptest.NewRequest("POST", "/intake/v1/requests", bytes.NewReader(body))
		w, resp := do(t, h, req)
		if w.Code/100 != 4 || resp["error"] == nil {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if e.log.Len() != 0 {
		t.Fatalf("bad input logged %d entries", e.log.Len())
	}
	if l, _ := e.st.List(context.Background()); len(l) != 0 {
		t.Fatal("bad input stored")
	}
	// A good one, then the same again: 201 then 409 with nothing new.
	w, resp := do(t, h, httptest.NewRequest("POST", "/intake/v1/requests", bytes.NewReader(valid)))
	if w.Code != 201 || resp["state"] != "logged" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	n := e.log.Len()
	w, _ = do(t, h, httptest.NewRequest("POST", "/intake/v1/requests", bytes.NewReader(valid)))
	if w.Code != 409 || e.log.Len() != n {
		t.Fatalf("duplicate: %d, %d new entries", w.Code, e.log.Len()-n)
	}
	// A refused one: 422 with the reason.
	r := intaketest.Valid(now, "h2")
	r.Review = nil
	w, resp = do(t, h, httptest.NewRequest("POST", "/intake/v1/requests", bytes.NewReader(e.f.Sign(t, r))))
	if w.Code != 422 || resp["reason"] != "missing-review" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Reading needs the authority's signature.
	id := intake.IDOf(s.Body).String()
	path := "/intake/v1/requests/" + id
	w, _ = do(t, h, httptest.NewRequest("GET", path, nil))
	if w.Code != 401 {
		t.Fatalf("unauthenticated get: %d", w.Code)
	}
	other := httptest.NewRequest("GET", path, nil)
	intake.SignQuery(other.Header, "fr-mlat", "fr-pnf", e.f.Keys["fr-mlat/fr-pnf"], "GET", path, now, nil)
	if w, _ = do(t, h, other); w.Code != 404 {
		t.Fatalf("another authority read the request: %d", w.Code)
	}
	forged := httptest.NewRequest("GET", path, nil)
	intake.SignQuery(forged.Header, "uk-daa", "uk-nca", e.f.Keys["fr-mlat/fr-pnf"], "GET", path, now, nil)
	if w, _ = do(t, h, forged); w.Code != 401 {
		t.Fatalf("forged query: %d", w.Code)
	}
	stale := httptest.NewRequest("GET", path, nil)
	intake.SignQuery(stale.Header, "uk-daa", "uk-nca", e.f.Keys["uk-daa/uk-nca"], "GET", path, now-3600, nil)
	if w, _ = do(t, h, stale); w.Code != 401 {
		t.Fatalf("stale query: %d", w.Code)
	}
	ok := httptest.NewRequest("GET", path, nil)
	intake.SignQuery(ok.Header, "uk-daa", "uk-nca", e.f.Keys["uk-daa/uk-nca"], "GET", path, now, nil)
	if w, resp = do(t, h, ok); w.Code != 200 || resp["id"] != id || resp["jurisdiction"] != "UK" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func mustSigned(t *testing.T, e *env, body string) []byte {
	s := intake.Signed{Body: []byte(body), Signature: ed25519.Sign(e.f.Keys["uk-daa/uk-nca"], intake.SignedMessage([]byte(body)))}
	b, _ := json.Marshal(s)
	return b
}

func TestAgreementsRoundTripAndStrictness(t *testing.T) {
	f := intaketest.New(t)
	b, err := f.Agreements.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a, err := intake.ParseAgreements(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := a.Marshal()
	if !bytes.Equal(b, b2) {
		t.Fatal("round trip differs")
	}
	for name, mut := range map[string]func(string) string{
		"unknown field":      func(s string) string { return strings.Replace(s, `"version": 1`, `"version": 1, "extra": true`, 1) },
		"unknown version":    func(s string) string { return strings.Replace(s, `"version": 1`, `"version": 2`, 1) },
		"unknown instrument": func(s string) string { return strings.Replace(s, `"mlat"`, `"letter-rogatory"`, 1) },
		"unknown category":   func(s string) string { return strings.Replace(s, `"content"`, `"everything"`, 1) },
		"trailing":           func(s string) string { return s + "{}" },
		"zero max targets":   func(s string) string { return strings.Replace(s, `"max_targets": 5`, `"max_targets": 0`, 1) },
		"duplicate id":       func(s string) string { return strings.Replace(s, `"id": "fr-mlat"`, `"id": "uk-daa"`, 1) },
	} {
		if _, err := intake.ParseAgreements([]byte(mut(string(b)))); !errors.Is(err, intake.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
