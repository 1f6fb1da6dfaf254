// Package report computes Daylight's public transparency report from the
// access log's entries alone: legal requests per jurisdiction, instrument,
// data category, outcome and month; time from receipt to answer; budgets used
// against the policy in force; warrants filed and opened to their targets.
// Every figure carries the indexes of the log entries behind it, so anyone
// can recompute it from the log's tiles (daylight-verify report) and find
// the entries that make it up. docs/report.md defines every figure.
package report

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/policy"
)

// Version is the report format version.
const Version = 1

// Figure is one number of the report with the log entries behind it.
type Figure struct {
	ID      string   `json:"id"`      // stable, e.g. "requests.jurisdiction.UK"
	Section string   `json:"section"` // requests, refusals, timing, warrants, budgets, evidence
	Label   string   `json:"label"`
	Value   int64    `json:"value"`
	Unit    string   `json:"unit"` // requests, entries, seconds, records, warrants
	Entries []uint64 `json:"entries"`
}

// Report is the transparency report for the log's first Size entries.
type Report struct {
	Version  int      `json:"version"`
	Origin   string   `json:"origin"`
	Size     uint64   `json:"size"`         // number of log entries covered
	Root     string   `json:"root"`         // base64 RFC 6962 root of those entries
	AsOf     uint64   `json:"as_of"`        // latest entry time (unix s); 30-day windows end here
	Policy   *uint64  `json:"policy_index"` // index of the policy in force (latest Policy entry)
	Figures  []Figure `json:"figures"`
	Warnings []string `json:"warnings"`
}

// Figure returns the figure with the given id.
func (r *Report) Figure(id string) (*Figure, bool) {
	for i := range r.Figures {
		if r.Figures[i].ID == id {
			return &r.Figures[i], true
		}
	}
	return nil, false
}

// Entry is one raw log entry with its index.
type Entry struct {
	Index uint64
	Data  []byte
}

// LogReader reads a verified log. *tlog.Client satisfies it: Checkpoint
// verifies the log signature and w witness cosignatures, Entries checks that
// the entries hash to the checkpoint's root before returning any.
type LogReader interface {
	Checkpoint(ctx context.Context) (*accesslog.Checkpoint, error)
	Entries(ctx context.Context, cp *accesslog.Checkpoint, fn func(index uint64, entry []byte) error) error
}

// Read returns the latest verified checkpoint and all its entries.
func Read(ctx context.Context, l LogReader) (*accesslog.Checkpoint, []Entry, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("report: checkpoint: %w", err)
	}
	var es []Entry
	if err := l.Entries(ctx, cp, func(i uint64, b []byte) error {
		es = append(es, Entry{i, append([]byte(nil), b...)})
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("report: entries: %w", err)
	}
	return cp, es, nil
}

// FromLog computes the report over the latest verified checkpoint.
func FromLog(ctx context.Context, l LogReader) (*Report, error) {
	cp, es, err := Read(ctx, l)
	if err != nil {
		return nil, err
	}
	return Compute(cp.Origin, es), nil
}

// Root returns the RFC 6962 Merkle tree hash (Section 2.1) of the entries.
func Root(es []Entry) [32]byte {
	hs := make([][32]byte, len(es))
	for i, e := range es {
		hs[i] = accesslog.LeafHash(e.Data)
	}
	return mth(hs)
}

func mth(hs [][32]byte) [32]byte {
	switch len(hs) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return hs[0]
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	l, r := mth(hs[:k]), mth(hs[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

const days30 = 30 * 86400

func month(t uint64) string { return time.Unix(int64(t), 0).UTC().Format("2006-01") }

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []int64, p float64) (int64, int) {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1], rank - 1
}

type builder struct {
	figs map[string]*Figure
}

func (b *builder) add(id, section, label, unit string, v int64, entries ...uint64) {
	f := b.figs[id]
	if f == nil {
		f = &Figure{ID: id, Section: section, Label: label, Unit: unit, Entries: []uint64{}}
		b.figs[id] = f
	}
	f.Value += v
	f.Entries = append(f.Entries, entries...)
}

func (b *builder) set(id, section, label, unit string, v int64, entries ...uint64) {
	b.figs[id] = &Figure{ID: id, Section: section, Label: label, Unit: unit, Value: v, Entries: append([]uint64{}, entries...)}
}

type requestTrack struct {
	first        uint64 // index of its first entry
	jurisdiction string
	instrument   string
	category     string
	received     uint64 // time of its received entry
	receivedIdx  uint64
	hasReceived  bool
	answered     bool
	state        string
	stateIdx     uint64
}

type timing struct {
	seconds      int64
	from, to     uint64 // entry indexes
	jurisdiction string
}

type release struct {
	r   *accesslog.Release
	idx uint64
}

// Compute computes the report over entries (in index order, starting at 0).
// Entries that do not parse are counted in the figure "log.malformed" and a
// warning; they are never silently dropped.
func Compute(origin string, es []Entry) *Report {
	root := Root(es)
	rep := &Report{Version: Version, Origin: origin, Size: uint64(len(es)), Root: base64.StdEncoding.EncodeToString(root[:]), Warnings: []string{}}
	b := &builder{figs: map[string]*Figure{}}
	reqs := map[[32]byte]*requestTrack{}
	var reqOrder [][32]byte
	warrants := map[[32]byte]string{} // jurisdiction by commitment
	opened := map[[32]byte]bool{}
	var releases []release
	var timings []timing
	var latestPolicy *accesslog.Policy
	var policyIdx uint64

	b.set("log.entries", "log", "Entries in the log", "entries", int64(len(es)))
	for _, e := range es {
		x, err := accesslog.Parse(e.Data)
		if err != nil {
			b.add("log.malformed", "log", "Entries that do not parse", "entries", 1, e.Index)
			continue
		}
		if t := x.EntryTime(); t > rep.AsOf {
			rep.AsOf = t
		}
		switch x := x.(type) {
		case *accesslog.Policy:
			latestPolicy, policyIdx = x, e.Index
		case *accesslog.WarrantCommitment:
			warrants[x.Commitment] = x.Jurisdiction
			b.add("warrants.filed", "warrants", "Warrants filed (commitments logged)", "warrants", 1, e.Index)
			b.add("warrants.filed.jurisdiction."+x.Jurisdiction, "warrants", "Warrants filed, "+x.Jurisdiction, "warrants", 1, e.Index)
			b.add("warrants.filed.month."+month(x.Filed), "warrants", "Warrants filed in "+month(x.Filed), "warrants", 1, e.Index)
		case *accesslog.Release:
			releases = append(releases, release{x, e.Index})
			b.add("releases.entries", "warrants", "Trustee release entries", "entries", 1, e.Index)
		case *accesslog.Opening:
			if !opened[x.WarrantCommitment] {
				opened[x.WarrantCommitment] = true
				b.add("warrants.opened", "warrants", "Warrants opened to their targets", "warrants", 1, e.Index)
				b.add("warrants.opened.month."+month(x.Time), "warrants", "Warrants opened in "+month(x.Time), "warrants", 1, e.Index)
			}
		case *accesslog.Evidence:
			switch x.Kind {
			case accesslog.EvidenceNonContentAnswer:
				b.add("evidence.non_content_answers", "evidence", "Signed non-content answers logged", "entries", 1, e.Index)
			case accesslog.EvidenceBundle:
				b.add("evidence.bundles", "evidence", "Evidence bundles logged", "entries", 1, e.Index)
			}
		case *accesslog.Request:
			tr := reqs[x.RequestID]
			if tr == nil {
				tr = &requestTrack{first: e.Index, jurisdiction: orNone(x.Jurisdiction), instrument: orNone(x.Instrument), category: orNone(x.Category)}
				reqs[x.RequestID] = tr
				reqOrder = append(reqOrder, x.RequestID)
			}
			if x.State == "received" && !tr.hasReceived {
				tr.hasReceived, tr.received, tr.receivedIdx = true, x.Time, e.Index
			}
			if (x.State == "fulfilled" || x.State == "refused") && !tr.answered && tr.hasReceived {
				tr.answered = true
				d := int64(x.Time) - int64(tr.received)
				if d < 0 {
					d = 0
				}
				timings = append(timings, timing{d, tr.receivedIdx, e.Index, tr.jurisdiction})
			}
			if x.State == "refused" {
				code := x.Reason
				if code == "" {
					code = "unspecified"
				}
				b.add("refusals.total", "refusals", "Refusals", "refusals", 1, e.Index)
				b.add("refusals.reason."+code, "refusals", "Refusals: "+code, "refusals", 1, e.Index)
			}
			tr.state, tr.stateIdx = orNone(x.State), e.Index
		}
	}
	if f, ok := b.figs["log.malformed"]; ok {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d log entries do not parse (first: index %d)", f.Value, f.Entries[0]))
	}

	// Per request: counted once, at its first entry; outcome = latest state.
	for _, id := range reqOrder {
		tr := reqs[id]
		m := "unknown"
		if tr.hasReceived {
			m = month(tr.received)
		}
		b.add("requests.total", "requests", "Legal requests received", "requests", 1, tr.first)
		b.add("requests.jurisdiction."+tr.jurisdiction, "requests", "Requests from "+tr.jurisdiction, "requests", 1, tr.first)
		b.add("requests.instrument."+tr.instrument, "requests", "Requests under "+tr.instrument, "requests", 1, tr.first)
		b.add("requests.category."+tr.category, "requests", "Requests for "+tr.category+" data", "requests", 1, tr.first)
		b.add("requests.month."+m, "requests", "Requests received in "+m, "requests", 1, tr.first)
		b.add("requests.outcome."+tr.state, "outcomes", "Requests now "+tr.state, "requests", 1, tr.stateIdx)
	}

	// Time from receipt to answer (first fulfilled or refused), overall and
	// per jurisdiction.
	sort.SliceStable(timings, func(i, j int) bool { return timings[i].seconds < timings[j].seconds })
	timingFigures(b, "timing", "", timings)
	byJ := map[string][]timing{}
	for _, t := range timings {
		byJ[t.jurisdiction] = append(byJ[t.jurisdiction], t)
	}
	for j, ts := range byJ {
		timingFigures(b, "timing.jurisdiction."+j, ", "+j, ts)
	}

	// Budgets: the policy in force (latest Policy entry) against releases.
	if latestPolicy != nil {
		idx := policyIdx
		rep.Policy = &idx
		pol, err := ParsePolicy(latestPolicy)
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the policy at index %d does not verify: %v", policyIdx, err))
		} else {
			budgetFigures(b, pol.Budgets, policyIdx, releases, warrants, rep.AsOf)
		}
	}

	for _, f := range b.figs {
		sort.Slice(f.Entries, func(i, j int) bool { return f.Entries[i] < f.Entries[j] })
		f.Entries = dedup(f.Entries)
		rep.Figures = append(rep.Figures, *f)
	}
	sort.Slice(rep.Figures, func(i, j int) bool {
		if si, sj := sectionRank(rep.Figures[i].Section), sectionRank(rep.Figures[j].Section); si != sj {
			return si < sj
		}
		return rep.Figures[i].ID < rep.Figures[j].ID
	})
	return rep
}

// orNone names an empty field in a figure id.
func orNone(s string) string {
	if s == "" {
		return "unspecified"
	}
	return s
}

func dedup(xs []uint64) []uint64 {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// sectionRank orders sections for display.
func sectionRank(s string) int {
	order := [...]string{"requests", "outcomes", "refusals", "timing", "warrants", "budgets", "evidence", "log"}
	for i, x := range order {
		if x == s {
			return i
		}
	}
	return len(order)
}

// timingFigures adds <prefix>.answered, .median and .p90 for timings sorted
// by duration.
func timingFigures(b *builder, prefix, label string, timings []timing) {
	if len(timings) == 0 {
		return
	}
	vals := make([]int64, len(timings))
	var all []uint64
	for i, t := range timings {
		vals[i] = t.seconds
		all = append(all, t.from, t.to)
	}
	b.set(prefix+".answered", "timing", "Requests answered (fulfilled or refused)"+label, "requests", int64(len(timings)), all...)
	v, i := percentile(vals, 50)
	b.set(prefix+".median", "timing", "Median time from receipt to answer"+label, "seconds", v, timings[i].from, timings[i].to)
	v, i = percentile(vals, 90)
	b.set(prefix+".p90", "timing", "90th percentile time from receipt to answer"+label, "seconds", v, timings[i].from, timings[i].to)
}

// ParsePolicy verifies the signed policy a Policy entry carries (every
// trustee and the provider signed it) and checks the entry's PolicyID.
func ParsePolicy(e *accesslog.Policy) (*policy.Verified, error) {
	s, err := policy.ParseSigned(e.SignedPolicy)
	if err != nil {
		return nil, err
	}
	v, err := policy.Verify(s)
	if err != nil {
		return nil, err
	}
	if [32]byte(v.ID) != e.PolicyID {
		return nil, fmt.Errorf("entry PolicyID %x is not the policy's id %x", e.PolicyID[:8], v.ID[:8])
	}
	return v, nil
}

// budgetFigures: use is counted per trustee (each opened record needs k
// releases, one per trustee, and each trustee enforces the budget on its
// own releases: trustee/), so "used" is the largest use by any one trustee.
// The 30-day windows are the 30 days up to AsOf.
func budgetFigures(b *builder, bu policy.Budgets, policyIdx uint64, rs []release, warrants map[[32]byte]string, asOf uint64) {
	b.set("budgets.overall_30d.allowed", "budgets", "Records per 30 days, overall: allowed", "records", int64(bu.RecordsOverall30d), policyIdx)
	b.set("budgets.jurisdiction_30d.allowed", "budgets", "Records per 30 days, per jurisdiction: allowed", "records", int64(bu.RecordsPerJurisdiction30d), policyIdx)
	b.set("budgets.per_warrant.allowed", "budgets", "Records per warrant: allowed", "records", int64(bu.RecordsPerWarrant), policyIdx)
	type use struct {
		n   int64
		idx []uint64
	}
	overall := map[string]*use{}                 // by trustee
	juris := map[string]map[string]*use{}        // by jurisdiction, trustee
	perWarrant := map[[32]byte]map[string]*use{} // by warrant, trustee
	get := func(m map[string]*use, k string) *use {
		if m[k] == nil {
			m[k] = &use{}
		}
		return m[k]
	}
	for _, r := range rs {
		if perWarrant[r.r.WarrantCommitment] == nil {
			perWarrant[r.r.WarrantCommitment] = map[string]*use{}
		}
		u := get(perWarrant[r.r.WarrantCommitment], r.r.Trustee)
		u.n += int64(r.r.Count)
		u.idx = append(u.idx, r.idx)
		if r.r.Time+days30 > asOf && r.r.Time <= asOf {
			u := get(overall, r.r.Trustee)
			u.n += int64(r.r.Count)
			u.idx = append(u.idx, r.idx)
			j, ok := warrants[r.r.WarrantCommitment]
			if !ok {
				j = "unknown-warrant"
			}
			if juris[j] == nil {
				juris[j] = map[string]*use{}
			}
			u = get(juris[j], r.r.Trustee)
			u.n += int64(r.r.Count)
			u.idx = append(u.idx, r.idx)
		}
	}
	// max returns the largest use (ties: the smallest trustee id, for determinism).
	max := func(m map[string]*use) *use {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		best := &use{}
		for _, k := range keys {
			if m[k].n > best.n {
				best = m[k]
			}
		}
		return best
	}
	u := max(overall)
	b.set("budgets.overall_30d.used", "budgets", "Records per 30 days, overall: used (most by one trustee)", "records", u.n, u.idx...)
	js := make([]string, 0, len(juris))
	for j := range juris {
		js = append(js, j)
	}
	sort.Strings(js)
	for _, j := range js {
		u := max(juris[j])
		b.set("budgets.jurisdiction_30d.used."+j, "budgets", "Records per 30 days, "+j+": used (most by one trustee)", "records", u.n, u.idx...)
	}
	best := &use{}
	ws := make([]string, 0, len(perWarrant))
	byHex := map[string][32]byte{}
	for w := range perWarrant {
		h := hex.EncodeToString(w[:])
		ws = append(ws, h)
		byHex[h] = w
	}
	sort.Strings(ws)
	for _, h := range ws {
		if u := max(perWarrant[byHex[h]]); u.n > best.n {
			best = u
		}
	}
	b.set("budgets.per_warrant.max_used", "budgets", "Records per warrant: most used by one warrant (most by one trustee)", "records", best.n, best.idx...)
}

// FromLogAt recomputes the report over the log's first size entries, reading
// the latest verified checkpoint (which must cover them). Compare then
// checks the published root against the recomputed one, which binds the
// report to that prefix of the log.
func FromLogAt(ctx context.Context, l LogReader, size uint64) (*Report, error) {
	cp, es, err := Read(ctx, l)
	if err != nil {
		return nil, err
	}
	if size > cp.Size {
		return nil, fmt.Errorf("report: the report covers %d entries but the log's verified checkpoint has only %d", size, cp.Size)
	}
	return Compute(cp.Origin, es[:size]), nil
}
