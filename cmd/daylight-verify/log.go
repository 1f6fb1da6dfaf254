package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
)

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// logReport is the result of `daylight-verify log`, printed as text or JSON.
type logReport struct {
	Origin              string            `json:"origin"`
	Size                uint64            `json:"size"`
	Root                string            `json:"root"`
	Cosigners           []string          `json:"cosigners"`
	Threshold           int               `json:"threshold"`
	ConsistentWithSize  *uint64           `json:"consistent_with_size,omitempty"`
	Entries             uint64            `json:"entries"`
	Malformed           []malformedEntry  `json:"malformed"`
	ByType              map[string]uint64 `json:"by_type"`
	ByJurisdictionMonth []periodRow       `json:"by_jurisdiction_month"`
}

type malformedEntry struct {
	Index uint64 `json:"index"`
	Error string `json:"error"`
}

// periodRow counts entries of one type for one jurisdiction and month (UTC,
// from the entry's own time). Records sums Release.Count.
type periodRow struct {
	Jurisdiction string `json:"jurisdiction"`
	Month        string `json:"month"`
	Type         string `json:"type"`
	Count        uint64 `json:"count"`
	Records      uint64 `json:"records,omitempty"`
}

const unknownJurisdiction = "(unknown warrant)"

func runLog(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("daylight-verify log", flag.ContinueOnError)
	fset.SetOutput(stderr)
	source := fset.String("log", "", "the log: a tlog-tiles URL prefix (https://host/log/) or a local directory copy of its tiles (required)")
	logKey := fset.String("log-key", "", "the log's checkpoint verifier key (vkey) (required)")
	origin := fset.String("origin", "", "expected checkpoint origin (default: the log key's name)")
	threshold := fset.Int("threshold", -1, "cosignatures required from the --witness keys (default: all of them)")
	statePath := fset.String("state", "", "file holding the previously verified checkpoint: consistency with it is checked, then it is replaced")
	asJSON := fset.Bool("json", false, "print the report as JSON")
	var witnesses stringsFlag
	fset.Var(&witnesses, "witness", "a witness cosignature verifier key (repeatable)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fset.Args())
	}
	if *source == "" || *logKey == "" {
		return errors.New("--log and --log-key are required (hint: the log key is printed by daylightd and served in its docs)")
	}
	if *threshold < 0 {
		*threshold = len(witnesses)
	}
	policy, err := accesslog.NewCheckpointPolicy(*origin, *logKey, witnesses, *threshold)
	if err != nil {
		return err
	}
	c, err := tlog.NewClient(*source, policy, nil)
	if err != nil {
		return err
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	rep := &logReport{Origin: cp.Origin, Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Hash[:]),
		Cosigners: cp.Cosigners, Threshold: *threshold, ByType: map[string]uint64{}, Malformed: []malformedEntry{}}
	if rep.Cosigners == nil {
		rep.Cosigners = []string{}
	}

	// Consistency with the previously verified checkpoint.
	if *statePath != "" {
		old, err := os.ReadFile(*statePath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			// The saved checkpoint passed the policy when saved; re-check its log signature.
			logOnly := *policy
			logOnly.Threshold = 0
			ocp, err := logOnly.Verify(old)
			if err != nil {
				return fmt.Errorf("state %s: %w", *statePath, err)
			}
			if err := c.VerifyConsistency(ctx, ocp, cp); err != nil {
				return fmt.Errorf("the log is not consistent with the checkpoint in %s (size %d): %w", *statePath, ocp.Size, err)
			}
			rep.ConsistentWithSize = &ocp.Size
		}
	}

	// Every entry: hashes to the root, parses; then counts.
	type row struct{ j, m, t string }
	rows := map[row]*periodRow{}
	warrantJurisdiction := map[[32]byte]string{}
	if err := c.Entries(ctx, cp, func(i uint64, raw []byte) error {
		rep.Entries++
		e, err := accesslog.Parse(raw)
		if err != nil {
			rep.Malformed = append(rep.Malformed, malformedEntry{Index: i, Error: err.Error()})
			return nil
		}
		rep.ByType[e.Type().String()]++
		j := accesslog.Jurisdiction(e)
		var records uint64
		switch e := e.(type) {
		case *accesslog.WarrantCommitment:
			warrantJurisdiction[e.Commitment] = e.Jurisdiction
		case *accesslog.Release:
			j = warrantJurisdiction[e.WarrantCommitment]
			records = uint64(e.Count)
		case *accesslog.Opening:
			j = warrantJurisdiction[e.WarrantCommitment]
		}
		switch e.(type) {
		case *accesslog.Release, *accesslog.Opening:
			if j == "" {
				j = unknownJurisdiction
			}
		}
		if j == "" {
			j = "-"
		}
		k := row{j, time.Unix(int64(e.EntryTime()), 0).UTC().Format("2006-01"), e.Type().String()}
		r := rows[k]
		if r == nil {
			r = &periodRow{Jurisdiction: k.j, Month: k.m, Type: k.t}
			rows[k] = r
		}
		r.Count++
		r.Records += records
		return nil
	}); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	for _, r := range rows {
		rep.ByJurisdictionMonth = append(rep.ByJurisdictionMonth, *r)
	}
	sort.Slice(rep.ByJurisdictionMonth, func(a, b int) bool {
		x, y := rep.ByJurisdictionMonth[a], rep.ByJurisdictionMonth[b]
		if x.Jurisdiction != y.Jurisdiction {
			return x.Jurisdiction < y.Jurisdiction
		}
		if x.Month != y.Month {
			return x.Month < y.Month
		}
		return x.Type < y.Type
	})

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printLogReport(stdout, rep)
	}
	if len(rep.Malformed) > 0 {
		return fmt.Errorf("%d malformed entries (first: index %d: %s)", len(rep.Malformed), rep.Malformed[0].Index, rep.Malformed[0].Error)
	}
	if *statePath != "" {
		if err := writeFileAtomic(*statePath, cp.Raw); err != nil {
			return fmt.Errorf("saving state: %w", err)
		}
	}
	return nil
}

func printLogReport(w io.Writer, r *logReport) {
	fmt.Fprintf(w, "log %s: %d entries, root %s\n", r.Origin, r.Size, r.Root)
	fmt.Fprintf(w, "cosigned by %d of the %d required: %s\n", len(r.Cosigners), r.Threshold, strings.Join(r.Cosigners, ", "))
	if r.ConsistentWithSize != nil {
		fmt.Fprintf(w, "consistent with the saved checkpoint of size %d\n", *r.ConsistentWithSize)
	}
	fmt.Fprintf(w, "every entry hashes to the root; %d malformed\n\n", len(r.Malformed))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tCOUNT")
	for _, t := range accesslog.Types() {
		if n := r.ByType[t.String()]; n > 0 {
			fmt.Fprintf(tw, "%s\t%d\n", t, n)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JURISDICTION\tMONTH\tTYPE\tCOUNT\tRECORDS")
	for _, row := range r.ByJurisdictionMonth {
		rec := ""
		if row.Type == accesslog.TypeRelease.String() {
			rec = fmt.Sprint(row.Records)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", row.Jurisdiction, row.Month, row.Type, row.Count, rec)
	}
	tw.Flush()
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".daylight-verify-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
