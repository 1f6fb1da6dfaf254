package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/report"
)

// chromium returns the headless browser to drive: DAYLIGHT_CHROMIUM (set by
// .ci/run) or chromium on PATH. Under CI a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DAYLIGHT_CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium under CI: .ci/run installs Debian's chromium and sets DAYLIGHT_CHROMIUM")
	}
	t.Skip("browser test needs chromium (Debian package) or DAYLIGHT_CHROMIUM")
	return ""
}

// TestTransparencyPageInBrowser opens /transparency/ in headless Chromium
// (JavaScript disabled), reads every figure shown, and checks each equals
// the figure daylight-verify report recomputes from the log tiles; it saves
// screenshots (DAYLIGHT_SCREENSHOTS names a directory to keep them).
func TestTransparencyPageInBrowser(t *testing.T) {
	exe := chromium(t)
	f, _ := reportFixture(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := tlog.NewClient(f.dir, f.policy(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/log/", http.StripPrefix("/log", tlog.DirHandler(f.dir)))
	mux.Handle("/transparency/", report.NewHandler(report.HandlerConfig{Log: c, Page: report.Page{LogURL: srv.URL + "/log/",
		ReportURL: srv.URL + "/transparency/report.json", LogKey: f.vkey, Witnesses: f.witnesses, Threshold: 2}}))

	// What daylight-verify report says, from the tiles served beside the page.
	var out, errb bytes.Buffer
	if err := run(context.Background(), f.reportArgs(srv.URL+"/log/", srv.URL+"/transparency/report.json"), nil, &out, &errb); err != nil {
		t.Fatalf("daylight-verify report: %v\n%s", err, errb.String())
	}
	computed, err := report.FromLog(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("blink-settings", "scriptEnabled=false"), chromedp.WindowSize(1200, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/transparency/"), chromedp.WaitVisible(chromedp.CSS("#s-requests"))); err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td[data-figure]')).map(e => e.dataset.figure)`))
	if err != nil {
		t.Fatal(err)
	}
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td[data-figure]')).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	svgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg[role=img] title').length`))
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
	if err != nil || scripts != 0 {
		t.Fatalf("the page has %d scripts (%v)", scripts, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(computed.Figures) || len(ids) != len(texts) {
		t.Fatalf("page shows %d figures, recomputed report has %d", len(ids), len(computed.Figures))
	}
	for i, id := range ids {
		want, ok := computed.Figure(id)
		if !ok {
			t.Errorf("page shows %s, which the recomputed report lacks", id)
			continue
		}
		shown, err := strconv.ParseInt(strings.Fields(texts[i])[0], 10, 64)
		if err != nil || shown != want.Value {
			t.Errorf("%s: page shows %q, recomputed %d", id, texts[i], want.Value)
		}
	}
	if svgs < 5 {
		t.Errorf("%d accessible charts", svgs)
	}
	dir := os.Getenv("DAYLIGHT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, "transparency.png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes), %d figures checked", p, len(shot), len(ids))
}
