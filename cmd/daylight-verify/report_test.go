package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/report"
)

// reportFixture: the log fixture plus a real policy, releases, and requests
// filed through the intake service over the real witnessed log.
func reportFixture(t *testing.T) (*fixture, *report.Report) {
	f := newFixture(t)
	ctx := context.Background()
	pf := policytest.New(t, 2, 3, []uint32{0, 1}, nil)
	pe, err := policy.LogEntry(pf.Signed, jan(8))
	if err != nil {
		t.Fatal(err)
	}
	wc := [32]byte{7}
	f.append(t, pe,
		&accesslog.WarrantCommitment{Commitment: wc, Court: "court-b", Jurisdiction: "UK", NumTargets: 1, Filed: jan(9)},
		&accesslog.Release{WarrantCommitment: wc, Trustee: "t1", Count: 5, Time: jan(10)},
		&accesslog.Release{WarrantCommitment: wc, Trustee: "t2", Count: 5, Time: jan(10)})
	clock := time.Unix(int64(jan(11)), 0)
	ix := intaketest.New(t)
	svc, err := intake.New(intake.Config{Agreements: ix.Agreements, Store: intake.NewMemStore(), Log: f.log, Signer: ix.Provider,
		Holdings: intaketest.Holdings{}, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	now := uint64(clock.Unix())
	for i, edit := range []func(*intake.Request){
		nil,
		func(r *intake.Request) { r.Review = nil },
		func(r *intake.Request) { r.Targets[0].Nationality = "US" },
		func(r *intake.Request) { r.Category = intake.Content },
	} {
		r := intaketest.Valid(now, string(rune('a'+i)))
		if edit != nil {
			edit(r)
		}
		rec, err := svc.Submit(ctx, ix.Sign(t, r))
		if err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Duration(i+1) * time.Hour)
		switch {
		case i == 0:
			if _, err := svc.AnswerNonContent(ctx, rec.ID); err != nil {
				t.Fatal(err)
			}
		case i == 3:
			if _, err := svc.SendToTrustees(ctx, rec.ID, wc); err != nil {
				t.Fatal(err)
			}
		}
	}
	fr := intaketest.Valid(now, "fr")
	fr.Agreement, fr.Authority, fr.Review = "fr-mlat", "fr-pnf", nil
	if _, err := svc.Submit(ctx, ix.Sign(t, fr)); err != nil {
		t.Fatal(err)
	}
	idx, err := f.log.Append(ctx, &accesslog.Opening{WarrantCommitment: wc, Trustee: "t1", Time: jan(20)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Await(ctx, idx); err != nil {
		t.Fatal(err)
	}
	c, err := tlog.NewClient(f.dir, f.policy(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.FromLog(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return f, rep
}

func (f *fixture) policy(t *testing.T) *accesslog.CheckpointPolicy {
	p, err := accesslog.NewCheckpointPolicy(origin, f.vkey, f.witnesses, 2)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) reportArgs(source, reportSrc string, extra ...string) []string {
	a := f.args(source, "--report", reportSrc)
	a[0] = "report"
	return append(a, extra...)
}

func fig(t *testing.T, r *report.Report, id string) int64 {
	t.Helper()
	x, ok := r.Figure(id)
	if !ok {
		t.Fatalf("no figure %s", id)
	}
	return x.Value
}

func TestReportFiguresFromRealLog(t *testing.T) {
	_, rep := reportFixture(t)
	for id, want := range map[string]int64{
		"requests.total":                        6, // 5 filed + the fixture's bare one
		"requests.jurisdiction.UK":              4,
		"requests.jurisdiction.FR":              1,
		"requests.instrument.cloud-act-daa":     4,
		"requests.instrument.mlat":              1,
		"requests.category.content":             1,
		"requests.outcome.fulfilled":            1,
		"requests.outcome.refused":              2,
		"requests.outcome.under-trustee-review": 1,
		"requests.outcome.logged":               1,
		"refusals.reason.missing-review":        1,
		"refusals.reason.protected-person":      1,
		"timing.answered":                       3,
		"timing.median":                         0,
		"timing.p90":                            3600,
		"warrants.opened":                       2,
		"evidence.non_content_answers":          1,
		"budgets.overall_30d.allowed":           int64(policytest.DefaultBudgets().RecordsOverall30d),
		// As of the latest entry (the fixture's opening on 1 July) the January
		// releases are outside the 30-day window.
		"budgets.overall_30d.used":     0,
		"budgets.per_warrant.max_used": 5,
	} {
		if got := fig(t, rep, id); got != want {
			t.Errorf("%s = %d, want %d", id, got, want)
		}
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings: %v", rep.Warnings)
	}
	if rep.Policy == nil || *rep.Policy != 9 {
		t.Errorf("policy index %v", rep.Policy)
	}
}

// TestAttackAlteredTransparencyReport: a published report whose figures were
// altered (a value, an entry list, a dropped or added figure, the covered
// root) is caught by daylight-verify report, naming the figure.
func TestAttackAlteredTransparencyReport(t *testing.T) {
	f, rep := reportFixture(t)
	dir := t.TempDir()
	write := func(r *report.Report) string {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "report.json")
		os.WriteFile(p, b.Bytes(), 0o600)
		return p
	}
	clone := func() *report.Report {
		var b bytes.Buffer
		rep.WriteJSON(&b)
		r, err := report.ParseJSON(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), f.reportArgs(f.dir, write(rep)), nil, &out, &errb); err != nil {
		t.Fatalf("honest report refused: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "OK:") {
		t.Fatalf("output %q", out.String())
	}
	for name, c := range map[string]struct {
		alter func(r *report.Report)
		want  string
	}{
		"fewer refusals": {func(r *report.Report) {
			x, _ := r.Figure("refusals.reason.protected-person")
			x.Value = 0
		}, "refusals.reason.protected-person"},
		"faster answers": {func(r *report.Report) {
			x, _ := r.Figure("timing.p90")
			x.Value = 60
		}, "timing.p90"},
		"hidden entry": {func(r *report.Report) {
			x, _ := r.Figure("requests.jurisdiction.UK")
			x.Entries = x.Entries[1:]
		}, "requests.jurisdiction.UK"},
		"dropped figure": {func(r *report.Report) {
			for i, x := range r.Figures {
				if x.ID == "warrants.opened" {
					r.Figures = append(r.Figures[:i], r.Figures[i+1:]...)
					break
				}
			}
		}, "warrants.opened"},
		"invented figure": {func(r *report.Report) {
			r.Figures = append(r.Figures, report.Figure{ID: "requests.jurisdiction.DE", Value: 0})
		}, "requests.jurisdiction.DE"},
		"budget looks unused": {func(r *report.Report) {
			x, _ := r.Figure("budgets.per_warrant.max_used")
			x.Value = 1
		}, "budgets.per_warrant.max_used"},
	} {
		t.Run(name, func(t *testing.T) {
			r := clone()
			c.alter(r)
			var out, errb bytes.Buffer
			err := run(context.Background(), f.reportArgs(f.dir, write(r)), nil, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to name %s\n%s", err, c.want, errb.String())
			}
		})
	}
	// Under a witness policy the log cannot meet, nothing is recomputed.
	args := f.reportArgs(f.dir, write(rep))
	args = append(args, "--witness", f.witnesses[0]) // 3 required now, one duplicate
	args = append(args, "--threshold", "3")
	if err := run(context.Background(), args, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("verified without the witness threshold")
	}
}

// TestTransparencyHandler serves the report beside the log's tiles and
// checks that daylight-verify report accepts what the page publishes, by URL.
func TestTransparencyHandler(t *testing.T) {
	f, rep := reportFixture(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := tlog.NewClient(f.dir, f.policy(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := report.NewHandler(report.HandlerConfig{Log: c, Page: report.Page{LogURL: srv.URL + "/log/", ReportURL: srv.URL + "/transparency/report.json",
		LogKey: f.vkey, Witnesses: f.witnesses, Threshold: 2}})
	mux.Handle("/log/", http.StripPrefix("/log", tlog.DirHandler(f.dir)))
	mux.Handle("/transparency/", h)
	get := func(p string) (string, string) {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, b)
		}
		return string(b), resp.Header.Get("Content-Type")
	}
	page, ct := get("/transparency/")
	if !strings.HasPrefix(ct, "text/html") || strings.Contains(page, "<script") || !strings.Contains(page, "<svg role=\"img\"") {
		t.Fatalf("page: %s", ct)
	}
	for _, x := range rep.Figures {
		if !strings.Contains(page, `data-figure="`+x.ID+`" data-value="`) {
			t.Fatalf("page lacks figure %s", x.ID)
		}
	}
	if !strings.Contains(page, srv.URL+"/log/tile/entries/000.p/") || !strings.Contains(page, "--figure requests.total") {
		t.Fatal("page lacks entry links or commands")
	}
	// Entry links resolve.
	get("/log/tile/entries/000.p/" + strings.TrimPrefix(report.EntryURL("", 0, rep.Size), "/tile/entries/000.p/"))
	csv, _ := get("/transparency/report.csv")
	if !strings.HasPrefix(csv, "id,section,label,value,unit,entries\n") || !strings.Contains(csv, "requests.jurisdiction.UK,") {
		t.Fatalf("csv: %s", csv)
	}
	pol, _ := get("/transparency/policy")
	var pv report.PolicyView
	if err := json.Unmarshal([]byte(pol), &pv); err != nil || !pv.Verified || pv.LogIndex != 9 || !strings.Contains(string(pv.Policy), "RecordsOverall30d") {
		t.Fatalf("policy: %v %s", err, pol)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), f.reportArgs(srv.URL+"/log/", srv.URL+"/transparency/report.json"), nil, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	out.Reset()
	if err := run(context.Background(), f.reportArgs(srv.URL+"/log/", srv.URL+"/transparency/report.json", "--figure", "requests.jurisdiction.UK"), nil, &out, &errb); err != nil ||
		!strings.HasPrefix(out.String(), "requests.jurisdiction.UK = 4 requests") {
		t.Fatalf("%v %q", err, out.String())
	}
}
