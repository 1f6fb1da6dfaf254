package main

import (
	"strings"
	"testing"

	"github.com/daylight-im/daylight/report"
)

func computedReport() *report.Report {
	return &report.Report{Figures: []report.Figure{
		{ID: "requests.total", Value: 3, Unit: "requests"},
		{ID: "timing.median", Value: 90, Unit: "seconds"},
		{ID: "warrants.total", Value: 1, Unit: "warrants"},
	}}
}

func honestPage() page {
	return page{Size: "12", Charts: 3, Figures: []shown{
		{ID: "requests.total", Value: "3", Text: "3"},
		{ID: "timing.median", Value: "90", Text: "90 s (1m30s)"},
		{ID: "warrants.total", Value: "1", Text: "1"},
	}}
}

// TestCompare checks the page comparison: an honest page passes, and each
// way a page can misstate the log (an altered number in the text or in the
// data, a figure dropped or invented, a script) is named.
func TestCompare(t *testing.T) {
	if p := compare(honestPage(), computedReport()); len(p) != 0 {
		t.Fatalf("honest page: %v", p)
	}
	for _, tc := range []struct {
		name  string
		alter func(*page)
		want  string
	}{
		{"altered text", func(p *page) { p.Figures[0].Text = "2" }, `requests.total: the page reads "2", the log gives 3`},
		{"altered value", func(p *page) { p.Figures[2].Value = "0" }, `warrants.total: the page's value is "0", the log gives 1`},
		{"altered duration", func(p *page) { p.Figures[1].Text = "60 s (1m0s)" }, `timing.median: the page reads "60 s (1m0s)"`},
		{"figure dropped", func(p *page) { p.Figures = p.Figures[:2] }, "warrants.total: in the report recomputed from the log (1 warrants) but not shown"},
		{"figure invented", func(p *page) {
			p.Figures = append(p.Figures, shown{ID: "requests.jurisdiction.XX", Value: "5", Text: "5"})
		}, "requests.jurisdiction.XX: shown on the page"},
		{"figure twice", func(p *page) { p.Figures = append(p.Figures, p.Figures[0]) }, "requests.total: shown twice"},
		{"script", func(p *page) { p.Scripts = 1 }, "1 script(s)"},
		{"no chart", func(p *page) { p.Charts = 0 }, "no accessible chart"},
	} {
		pg := honestPage()
		tc.alter(&pg)
		problems := compare(pg, computedReport())
		if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tc.want) {
			t.Errorf("%s: problems %q, want one containing %q", tc.name, problems, tc.want)
		}
	}
}
