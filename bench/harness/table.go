package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Published is a figure measured elsewhere, quoted with its source.
type Published struct {
	Engine, Scenario string
	Size             int
	Value            string
	Source           string // footnote key
}

// published and sources are filled in bench/harness/published.go.

var rows = []struct{ scenario, label string }{
	{WorstCreate, "update commit with path, worst case: create"},
	{WorstProcess, "update commit with path, worst case: process"},
	{BestCreate, "update commit with path, best case: create"},
	{BestProcess, "update commit with path, best case: process"},
	{AddCommit, "add size−1 members in one commit (+ Welcome)"},
	{AddJoin, "join from that Welcome"},
	{AppMessage, "1 KiB application message protect + unprotect"},
	{HeapPerMember, "heap per member of one member's state"},
	{StatePerMember, "serialized state per member"},
	{WorstCiphers, "(check: HPKE ciphertexts in A's path, worst case)"},
	{BestCiphers, "(check: HPKE ciphertexts in A's path, best case)"},
	{BestBuildSecond, "(time to build the best-case tree)"},
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		if v >= 10000 {
			return fmt.Sprintf("%.1f s", v/1000)
		}
		if v < 1 {
			return fmt.Sprintf("%.0f µs", v*1000)
		}
		if v < 100 {
			return fmt.Sprintf("%.1f ms", v)
		}
		return fmt.Sprintf("%.0f ms", v)
	case "µs":
		return fmt.Sprintf("%.0f µs", v)
	case "bytes":
		return fmt.Sprintf("%.0f B", v)
	case "s":
		return fmt.Sprintf("%.1f s", v)
	case "count":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

// format gives the median, and the best run in parentheses when there are several runs.
func format(r Result) string {
	s := formatValue(r.Median, r.Unit)
	if len(r.Runs) > 1 && r.Unit != "bytes" && r.Unit != "count" {
		s += " (" + formatValue(r.Best, r.Unit) + ")"
	}
	return s
}

// Table prints one markdown table from the JSON reports in files (medians of the runs),
// followed by the published figures of other engines.
func Table(w io.Writer, files []string) error {
	var reps []*Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r := new(Report)
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		reps = append(reps, r)
	}
	// Rows: scenario × size class (the i-th size of every report, e.g. 1000 for the Go
	// engines and 1024 for ts-mls); columns: engines.
	sizesOf := func(r *Report) []int {
		var sizes []int
		for _, x := range r.Results {
			if !slices.Contains(sizes, x.Size) {
				sizes = append(sizes, x.Size)
			}
		}
		slices.Sort(sizes)
		return sizes
	}
	classes := 0
	for _, r := range reps {
		classes = max(classes, len(sizesOf(r)))
	}
	var hdr, sep strings.Builder
	hdr.WriteString("| scenario (suite 1); median of runs (best run) | n |")
	sep.WriteString("|---|---|")
	for _, r := range reps {
		fmt.Fprintf(&hdr, " %s |", r.Engine)
		sep.WriteString("---:|")
	}
	fmt.Fprintln(w, hdr.String())
	fmt.Fprintln(w, sep.String())
	for _, row := range rows {
		for c := range classes {
			var ns []string
			var cells []string
			found := false
			for _, r := range reps {
				cell := "–"
				if sz := sizesOf(r); c < len(sz) {
					if n := fmt.Sprint(sz[c]); !slices.Contains(ns, n) {
						ns = append(ns, n)
					}
					for _, x := range r.Results {
						if x.Scenario == row.scenario && x.Size == sz[c] {
							cell = format(x)
							found = true
						}
					}
				}
				cells = append(cells, cell)
			}
			if found {
				fmt.Fprintf(w, "| %s | %s | %s |\n", row.label, strings.Join(ns, " / "), strings.Join(cells, " | "))
			}
		}
	}
	for _, r := range reps {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "\n%s error: %s\n", r.Engine, e)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Published figures (not measured here; other machines, see sources):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| engine | scenario | size | figure | source |")
	fmt.Fprintln(w, "|---|---|---:|---:|---|")
	for _, p := range published {
		fmt.Fprintf(w, "| %s | %s | %d | %s | [%s] |\n", p.Engine, p.Scenario, p.Size, p.Value, p.Source)
	}
	fmt.Fprintln(w)
	for _, k := range sourceOrder {
		fmt.Fprintf(w, "[%s]: %s\n", k, sources[k])
	}
	return nil
}
