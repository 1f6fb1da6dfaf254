package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/report"
)

// runReport recomputes a published transparency report from the log's tiles
// and fails, naming each figure, if any differs.
func runReport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("daylight-verify report", flag.ContinueOnError)
	fset.SetOutput(stderr)
	source := fset.String("log", "", "the log: a tlog-tiles URL prefix (https://host/log/) or a local directory copy of its tiles (required)")
	logKey := fset.String("log-key", "", "the log's checkpoint verifier key (vkey) (required)")
	origin := fset.String("origin", "", "expected checkpoint origin (default: the log key's name)")
	threshold := fset.Int("threshold", -1, "cosignatures required from the --witness keys (default: all of them)")
	reportSrc := fset.String("report", "", "the published report.json: a URL or a file (required)")
	figure := fset.String("figure", "", "check and print only this figure (default: every figure)")
	var witnesses stringsFlag
	fset.Var(&witnesses, "witness", "a witness cosignature verifier key (repeatable)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fset.Args())
	}
	if *source == "" || *logKey == "" || *reportSrc == "" {
		return errors.New("--log, --log-key and --report are required (hint: the page /transparency/ prints the full command)")
	}
	if *threshold < 0 {
		*threshold = len(witnesses)
	}
	data, err := readSource(ctx, *reportSrc)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	published, err := report.ParseJSON(data)
	if err != nil {
		return err
	}
	policy, err := accesslog.NewCheckpointPolicy(*origin, *logKey, witnesses, *threshold)
	if err != nil {
		return err
	}
	c, err := tlog.NewClient(*source, policy, nil)
	if err != nil {
		return err
	}
	computed, err := report.FromLogAt(ctx, c, published.Size)
	if err != nil {
		return err
	}
	diffs := report.Compare(published, computed)
	if *figure != "" {
		f, ok := computed.Figure(*figure)
		if !ok {
			return fmt.Errorf("figure %q is not in the recomputed report", *figure)
		}
		var mine []report.Difference
		for _, d := range diffs {
			if d.ID == *figure || d.ID == "root" || d.ID == "size" || d.ID == "origin" {
				mine = append(mine, d)
			}
		}
		diffs = mine
		fmt.Fprintf(stdout, "%s = %d %s (entries %v)\n", f.ID, f.Value, f.Unit, f.Entries)
	}
	if len(diffs) > 0 {
		for _, d := range diffs {
			fmt.Fprintln(stderr, d)
		}
		names := make([]string, len(diffs))
		for i, d := range diffs {
			names[i] = d.ID
		}
		return fmt.Errorf("the report differs from the log in %d figure(s): %s", len(diffs), strings.Join(names, ", "))
	}
	if *figure == "" {
		fmt.Fprintf(stdout, "OK: %d figures recomputed from %d log entries (root %s, %d cosignatures required) match the report\n",
			len(computed.Figures), computed.Size, computed.Root, *threshold)
	}
	return nil
}

func readSource(ctx context.Context, src string) ([]byte, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	return os.ReadFile(src)
}
