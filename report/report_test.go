package report_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/report"
)

func day(d int) uint64 { return uint64(time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC).Unix()) }

func entries(t testing.TB, es ...accesslog.Entry) []report.Entry {
	var out []report.Entry
	for i, e := range es {
		b, err := accesslog.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, report.Entry{Index: uint64(i), Data: b})
	}
	return out
}

func req(id byte, j, state, reason string, at uint64) *accesslog.Request {
	return &accesslog.Request{RequestID: [32]byte{id}, Jurisdiction: j, Authority: "a", Instrument: "mlat", Category: "subscriber", State: state, Reason: reason, Time: at}
}

func value(t *testing.T, r *report.Report, id string) int64 {
	t.Helper()
	f, ok := r.Figure(id)
	if !ok {
		t.Fatalf("no figure %s", id)
	}
	return f.Value
}

func TestTimingPercentiles(t *testing.T) {
	var es []accesslog.Entry
	// Ten requests answered after 1..10 hours; one never answered.
	for i := 1; i <= 10; i++ {
		es = append(es, req(byte(i), "FR", "received", "", day(1)), req(byte(i), "FR", "fulfilled", "", day(1)+uint64(i)*3600))
	}
	es = append(es, req(11, "FR", "received", "", day(2)))
	r := report.Compute("o", entries(t, es...))
	if v := value(t, r, "timing.median"); v != 5*3600 {
		t.Errorf("median %d", v)
	}
	if v := value(t, r, "timing.p90"); v != 9*3600 {
		t.Errorf("p90 %d", v)
	}
	if f, _ := r.Figure("timing.p90"); fmt.Sprint(f.Entries) != "[16 17]" {
		t.Errorf("p90 entries %v", f.Entries)
	}
	if v := value(t, r, "timing.jurisdiction.FR.median"); v != 5*3600 {
		t.Errorf("FR median %d", v)
	}
	if v := value(t, r, "timing.answered"); v != 10 {
		t.Errorf("answered %d", v)
	}
	if v := value(t, r, "requests.outcome.received"); v != 1 {
		t.Errorf("pending %d", v)
	}
	if v := value(t, r, "requests.month.2026-03"); v != 11 {
		t.Errorf("month %d", v)
	}
}

func TestBudgetWindowAndPerTrustee(t *testing.T) {
	pf := policytest.New(t, 2, 3, []uint32{0, 1}, nil)
	pe, err := policy.LogEntry(pf.Signed, day(1))
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := [32]byte{1}, [32]byte{2}
	r := report.Compute("o", entries(t, pe,
		&accesslog.WarrantCommitment{Commitment: w1, Jurisdiction: "UK", Filed: day(1)},
		&accesslog.WarrantCommitment{Commitment: w2, Jurisdiction: "FR", Filed: day(1)},
		&accesslog.Release{WarrantCommitment: w1, Trustee: "t1", Count: 7, Time: uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())}, // out of the window
		&accesslog.Release{WarrantCommitment: w1, Trustee: "t1", Count: 4, Time: day(10)},
		&accesslog.Release{WarrantCommitment: w1, Trustee: "t2", Count: 4, Time: day(10)},
		&accesslog.Release{WarrantCommitment: w2, Trustee: "t2", Count: 3, Time: day(12)},
		&accesslog.Opening{WarrantCommitment: w1, Trustee: "t1", Time: day(20)},
		&accesslog.Opening{WarrantCommitment: w1, Trustee: "t2", Time: day(20)}, // same warrant: counted once
	))
	for id, want := range map[string]int64{
		"budgets.overall_30d.used":         7, // t2: 4 + 3 (t1 has 4 in the window)
		"budgets.jurisdiction_30d.used.UK": 4,
		"budgets.jurisdiction_30d.used.FR": 3,
		"budgets.per_warrant.max_used":     11, // t1 on w1, all time
		"budgets.per_warrant.allowed":      int64(policytest.DefaultBudgets().RecordsPerWarrant),
		"warrants.opened":                  1,
		"releases.entries":                 4,
	} {
		if v := value(t, r, id); v != want {
			t.Errorf("%s = %d, want %d", id, v, want)
		}
	}
	if f, _ := r.Figure("budgets.overall_30d.used"); fmt.Sprint(f.Entries) != "[5 6]" {
		t.Errorf("entries %v", f.Entries)
	}
	if r.Policy == nil || *r.Policy != 0 || len(r.Warnings) != 0 {
		t.Errorf("policy %v warnings %v", r.Policy, r.Warnings)
	}
}

// TestAttackForgedPolicyEntry: a Policy entry whose signatures do not verify
// gives no budget figures and a warning, never numbers from an unsigned policy.
func TestAttackForgedPolicyEntry(t *testing.T) {
	pf := policytest.New(t, 2, 3, []uint32{0}, nil)
	pe, _ := policy.LogEntry(pf.Signed, day(1))
	pe.SignedPolicy = bytes.Clone(pe.SignedPolicy)
	pe.SignedPolicy[len(pe.SignedPolicy)-1] ^= 1
	r := report.Compute("o", entries(t, pe))
	if _, ok := r.Figure("budgets.overall_30d.allowed"); ok || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "does not verify") {
		t.Fatalf("figures from a forged policy: %v", r.Warnings)
	}
}

func TestMalformedEntriesAreCounted(t *testing.T) {
	es := entries(t, req(1, "FR", "received", "", day(1)))
	es = append(es, report.Entry{Index: 1, Data: []byte("not an entry")})
	r := report.Compute("o", es)
	if value(t, r, "log.malformed") != 1 || len(r.Warnings) != 1 {
		t.Fatal("malformed entry not reported")
	}
}

func TestRootMatchesRFC6962(t *testing.T) {
	es := entries(t, req(1, "FR", "received", "", 1), req(2, "FR", "received", "", 2), req(3, "FR", "received", "", 3))
	h := func(b ...[]byte) [32]byte { return sha256.Sum256(bytes.Join(b, nil)) }
	l := func(i int) []byte { x := accesslog.LeafHash(es[i].Data); return x[:] }
	n01 := h([]byte{1}, l(0), l(1))
	want := h([]byte{1}, n01[:], l(2))
	if report.Root(es) != want {
		t.Fatal("root differs from RFC 6962 MTH")
	}
}

func TestEntryURL(t *testing.T) {
	for _, c := range []struct {
		i, size uint64
		want    string
	}{
		{0, 10, "/log/tile/entries/000.p/10"},
		{5, 256, "/log/tile/entries/000"},
		{300, 1000, "/log/tile/entries/001"},
		{256*1234 + 1, 256*1234 + 7, "/log/tile/entries/x001/234.p/7"},
	} {
		if got := report.EntryURL("/log/", c.i, c.size); got != c.want {
			t.Errorf("EntryURL(%d, %d) = %s, want %s", c.i, c.size, got, c.want)
		}
	}
}

func TestOutputsRoundTrip(t *testing.T) {
	r := report.Compute("o", entries(t, req(1, "FR", "received", "", day(1)), req(1, "FR", "refused", "past-deadline", day(2))))
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	r2, err := report.ParseJSON(b.Bytes())
	if err != nil || len(report.Compare(r2, r)) != 0 {
		t.Fatalf("%v %v", err, report.Compare(r2, r))
	}
	var c bytes.Buffer
	r.WriteCSV(&c)
	if !strings.Contains(c.String(), "refusals.reason.past-deadline,refusals,Refusals: past-deadline,1,refusals,1\n") {
		t.Fatalf("csv:\n%s", c.String())
	}
	var h bytes.Buffer
	if err := r.WriteHTML(&h, report.Page{LogURL: "/log/", ReportURL: "/transparency/report.json", LogKey: "k<script>"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "k<script>") {
		t.Fatal("HTML not escaped")
	}
}

// FuzzParseJSON: whatever report parses re-encodes and parses to a report
// with no differences.
func FuzzParseJSON(f *testing.F) {
	r := report.Compute("o", entries(f, req(1, "FR", "received", "", day(1)), req(1, "FR", "fulfilled", "", day(2))))
	var b bytes.Buffer
	r.WriteJSON(&b)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := report.ParseJSON(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		r2, err := report.ParseJSON(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var out2 bytes.Buffer
		r2.WriteJSON(&out2)
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatal("re-encoding not stable")
		}
	})
}

func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{100, 10000} {
		var es []accesslog.Entry
		for i := range n {
			es = append(es, req(byte(i), "FR", []string{"received", "validated", "logged", "fulfilled"}[i%4], "", day(1)+uint64(i)))
		}
		raw := entries(b, es...)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				report.Compute("o", raw)
			}
		})
	}
}
