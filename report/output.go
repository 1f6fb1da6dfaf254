package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteJSON writes the report as indented JSON (the report.json format).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ParseJSON decodes a report strictly (unknown fields and trailing data are
// refused).
func ParseJSON(data []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("report: trailing data after the JSON value")
	}
	if r.Version != Version {
		return nil, fmt.Errorf("report: unsupported version %d", r.Version)
	}
	return &r, nil
}

// WriteCSV writes a header row, then one row per figure (id, section,
// label, value, unit, entries as space-separated log indexes). Origin, size
// and root are in the JSON only.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"id", "section", "label", "value", "unit", "entries"}); err != nil {
		return err
	}
	for _, f := range r.Figures {
		es := make([]string, len(f.Entries))
		for i, e := range f.Entries {
			es[i] = strconv.FormatUint(e, 10)
		}
		if err := cw.Write([]string{f.ID, f.Section, f.Label, strconv.FormatInt(f.Value, 10), f.Unit, strings.Join(es, " ")}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Difference is one figure that differs between a published report and the
// recomputed one.
type Difference struct {
	ID        string
	Published string // value and entries as published ("missing" if absent)
	Computed  string
}

func (d Difference) String() string {
	return fmt.Sprintf("figure %s: published %s, recomputed %s", d.ID, d.Published, d.Computed)
}

func describe(f *Figure) string {
	if f == nil {
		return "missing"
	}
	return fmt.Sprintf("%d (entries %v)", f.Value, f.Entries)
}

// Compare compares a published report with one recomputed from the log and
// lists every difference: the covered log (size, root, origin, as-of, policy)
// and every figure, by id, value and entries, in both directions.
func Compare(published, computed *Report) []Difference {
	var out []Difference
	meta := func(id, a, b string) {
		if a != b {
			out = append(out, Difference{id, a, b})
		}
	}
	meta("origin", published.Origin, computed.Origin)
	meta("size", strconv.FormatUint(published.Size, 10), strconv.FormatUint(computed.Size, 10))
	meta("root", published.Root, computed.Root)
	meta("as_of", strconv.FormatUint(published.AsOf, 10), strconv.FormatUint(computed.AsOf, 10))
	pi := func(p *uint64) string {
		if p == nil {
			return "none"
		}
		return strconv.FormatUint(*p, 10)
	}
	meta("policy_index", pi(published.Policy), pi(computed.Policy))
	seen := map[string]bool{}
	for i := range computed.Figures {
		c := &computed.Figures[i]
		seen[c.ID] = true
		p, _ := published.Figure(c.ID)
		if p == nil || p.Value != c.Value || fmt.Sprint(p.Entries) != fmt.Sprint(c.Entries) {
			out = append(out, Difference{c.ID, describe(p), describe(c)})
		}
	}
	for i := range published.Figures {
		p := &published.Figures[i]
		if !seen[p.ID] {
			out = append(out, Difference{p.ID, describe(p), "missing"})
			seen[p.ID] = true
		}
	}
	return out
}
