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
	{BestBuildSecond, "(time to build the best-case tree)"},
}

func format(r Result) string {
	v := r.Median
	switch r.Unit {
	case "ms":
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
	}
	return fmt.Sprintf("%g %s", v, r.Unit)
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
	// Columns: engine × size.
	type col struct {
		rep  *Report
		size int
	}
	var cols []col
	for _, r := range reps {
		var sizes []int
		for _, x := range r.Results {
			if !slices.Contains(sizes, x.Size) {
				sizes = append(sizes, x.Size)
			}
		}
		slices.Sort(sizes)
		for _, s := range sizes {
			cols = append(cols, col{r, s})
		}
	}
	var hdr, sep strings.Builder
	hdr.WriteString("| scenario (suite 1, median of runs) |")
	sep.WriteString("|---|")
	for _, c := range cols {
		fmt.Fprintf(&hdr, " %s n=%d |", c.rep.Engine, c.size)
		sep.WriteString("---:|")
	}
	fmt.Fprintln(w, hdr.String())
	fmt.Fprintln(w, sep.String())
	for _, row := range rows {
		var line strings.Builder
		fmt.Fprintf(&line, "| %s |", row.label)
		any := false
		for _, c := range cols {
			cell := "–"
			for _, x := range c.rep.Results {
				if x.Scenario == row.scenario && x.Size == c.size {
					cell = format(x)
					any = true
				}
			}
			fmt.Fprintf(&line, " %s |", cell)
		}
		if any {
			fmt.Fprintln(w, line.String())
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
