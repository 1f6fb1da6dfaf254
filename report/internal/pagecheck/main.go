// Command pagecheck opens the public transparency page (/transparency/) in a
// real headless Chromium with JavaScript disabled, reads every figure a person
// sees, recomputes the report from the access log's tiles at the size the page
// states (report.FromLogAt, what daylight-verify report runs), and fails
// naming each figure that differs. It saves full-page screenshots at a laptop
// and a phone width (PNG). It is a development and CI tool (scripts/
// transparency-check.sh runs it after the lawful-access demo), kept out of the
// product binaries so they do not carry a browser driver.
//
//	go run ./report/internal/pagecheck --page URL/transparency/ --log URL/log/ \
//	    --log-key VKEY --witness W0 --witness W1 --out DIR [--chromium PATH] [--json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/internal/cli"
	"github.com/daylight-im/daylight/report"
)

func main() { cli.Main("pagecheck", run) }

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// shown is one figure as the browser rendered it.
type shown struct {
	ID    string `json:"id"`
	Value string `json:"data_value"` // the cell's data-value attribute
	Text  string `json:"text"`       // what a person reads
}

// page is what the browser read from /transparency/.
type page struct {
	Size    string  `json:"size"` // the #size element: how many log entries the page covers
	Figures []shown `json:"figures"`
	Charts  int     `json:"charts"`  // svg[role=img] with a <title>
	Scripts int     `json:"scripts"` // must be 0: the page works without JavaScript
}

type result struct {
	OK          bool     `json:"ok"`
	Size        uint64   `json:"size"`
	Figures     int      `json:"figures"`
	Problems    []string `json:"problems"`
	Screenshots []string `json:"screenshots"`
	Shown       []shown  `json:"shown"` // every figure as the browser read it
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pagecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pageURL := fs.String("page", "", "the transparency page, e.g. http://127.0.0.1:8080/transparency/ (required)")
	logSrc := fs.String("log", "", "the access log: tlog-tiles URL prefix or directory (required)")
	logKey := fs.String("log-key", "", "the log's checkpoint verifier key (required)")
	threshold := fs.Int("threshold", -1, "cosignatures required from the --witness keys (default: all)")
	out := fs.String("out", "", "directory for the screenshots (required)")
	exe := fs.String("chromium", os.Getenv("DAYLIGHT_CHROMIUM"), "the Chromium binary (default: $DAYLIGHT_CHROMIUM, else chromium on PATH)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var witnesses stringsFlag
	fs.Var(&witnesses, "witness", "a witness cosignature verifier key (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pageURL == "" || *logSrc == "" || *logKey == "" || *out == "" {
		return errors.New("--page, --log, --log-key and --out are required")
	}
	if *exe == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			return errors.New("no Chromium (hint: apt-get install chromium, or set DAYLIGHT_CHROMIUM)")
		}
		*exe = p
	}
	if *threshold < 0 {
		*threshold = len(witnesses)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	pg, shots, err := browse(ctx, *exe, *pageURL, *out)
	if err != nil {
		return err
	}
	size, err := strconv.ParseUint(strings.TrimSpace(pg.Size), 10, 64)
	if err != nil {
		return fmt.Errorf("the page states no log size (#size %q)", pg.Size)
	}
	policy, err := accesslog.NewCheckpointPolicy("", *logKey, witnesses, *threshold)
	if err != nil {
		return err
	}
	c, err := tlog.NewClient(*logSrc, policy, nil)
	if err != nil {
		return err
	}
	computed, err := report.FromLogAt(ctx, c, size)
	if err != nil {
		return fmt.Errorf("recomputing the report from the log at %d entries: %w", size, err)
	}
	res := result{Size: size, Figures: len(pg.Figures), Problems: compare(pg, computed), Screenshots: shots, Shown: pg.Figures}
	res.OK = len(res.Problems) == 0
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintln(stderr, "DIFFERS:", p)
		}
		if res.OK {
			fmt.Fprintf(stdout, "OK: the page shows %d figures over %d log entries, each equal to the report recomputed from the log; screenshots: %s\n",
				res.Figures, res.Size, strings.Join(shots, ", "))
		}
	}
	if !res.OK {
		return fmt.Errorf("the transparency page differs from the log in %d place(s)", len(res.Problems))
	}
	return nil
}

// compare checks the page against the recomputed report: the same set of
// figures, each with the recomputed value in its data-value and in the text a
// person reads; no scripts; a chart per section.
func compare(pg page, computed *report.Report) []string {
	var problems []string
	if pg.Scripts != 0 {
		problems = append(problems, fmt.Sprintf("the page carries %d script(s); it must work without JavaScript", pg.Scripts))
	}
	if pg.Charts == 0 && len(computed.Figures) > 0 {
		problems = append(problems, "the page shows no accessible chart (svg[role=img] with a title)")
	}
	seen := map[string]bool{}
	for _, f := range pg.Figures {
		if seen[f.ID] {
			problems = append(problems, fmt.Sprintf("%s: shown twice", f.ID))
			continue
		}
		seen[f.ID] = true
		want, ok := computed.Figure(f.ID)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: shown on the page (%q) but not in the report recomputed from the log", f.ID, f.Text))
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(f.Value), 10, 64)
		if err != nil || v != want.Value {
			problems = append(problems, fmt.Sprintf("%s: the page's value is %q, the log gives %d", f.ID, f.Value, want.Value))
			continue
		}
		if !textShows(f.Text, want) {
			problems = append(problems, fmt.Sprintf("%s: the page reads %q, the log gives %d %s", f.ID, f.Text, want.Value, want.Unit))
		}
	}
	for _, f := range computed.Figures {
		if !seen[f.ID] {
			problems = append(problems, fmt.Sprintf("%s: in the report recomputed from the log (%d %s) but not shown on the page", f.ID, f.Value, f.Unit))
		}
	}
	return problems
}

// textShows reports whether the visible text states the figure: it starts
// with the number (durations read "N s (…)", the rest a person's aid).
func textShows(text string, f *report.Figure) bool {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return false
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	return err == nil && n == f.Value
}

// browse renders the page with JavaScript off, reads it and saves screenshots.
func browse(ctx context.Context, exe, url, out string) (page, []string, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("blink-settings", "scriptEnabled=false"), chromedp.WindowSize(1280, 800))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	fail := func(what string, err error) (page, []string, error) {
		return page{}, nil, fmt.Errorf("chromium: %s: %s: %w", url, what, err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#size"))); err != nil {
		return fail("load", err)
	}
	var pg page
	var err error
	if pg.Size, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#size"))); err != nil {
		return fail("#size", err)
	}
	if pg.Figures, err = chromedp.Run(bctx, chromedp.Evaluate[[]shown](`Array.from(document.querySelectorAll('td[data-figure]')).map(e => ({id: e.dataset.figure, data_value: e.dataset.value || "", text: e.textContent}))`)); err != nil {
		return fail("figures", err)
	}
	if pg.Charts, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('svg[role=img] title').length`)); err != nil {
		return fail("charts", err)
	}
	if pg.Scripts, err = chromedp.Run(bctx, chromedp.Evaluate[int](`document.scripts.length`)); err != nil {
		return fail("scripts", err)
	}
	wide, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fail("screenshot", err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(420, 900)); err != nil {
		return fail("narrow viewport", err)
	}
	narrow, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fail("screenshot", err)
	}
	var shots []string
	for name, b := range map[string][]byte{"transparency-1280.png": wide, "transparency-420.png": narrow} {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return page{}, nil, err
		}
		shots = append(shots, p)
	}
	return pg, shots, nil
}
