package moderation_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/moderation"
)

// chromium returns the browser to drive: DAYLIGHT_CHROMIUM, else
// /usr/bin/chromium. Missing: the test fails under CI, skips otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("DAYLIGHT_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium under CI: install Debian's chromium (.ci/run does) or set DAYLIGHT_CHROMIUM")
	}
	t.Skip("browser test needs /usr/bin/chromium (Debian package chromium) or DAYLIGHT_CHROMIUM; skipping")
	return ""
}

// artifacts is where screenshots go: DAYLIGHT_ARTIFACTS (or DAYLIGHT_SCREENSHOTS)
// plus /moderation, else a temp dir.
func artifacts(t *testing.T) string {
	dir := os.Getenv("DAYLIGHT_ARTIFACTS")
	if dir == "" {
		dir = os.Getenv("DAYLIGHT_SCREENSHOTS") // the name other browser tests use
	}
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "moderation")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dump returns the current page's address and HTML, for failure messages.
func dump(bctx context.Context) string {
	ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	return loc + "\n" + html
}

// TestModerationConsoleInBrowser: demo users exchange franked messages over a
// real delivery service (SQLite, real MLS); bob reports mallory's threat with
// context; a moderator signs in to the console in headless Chromium using
// the keyboard, opens the report from the queue, sees the verified message,
// suspends mallory; mallory's next ds.Send is refused. Screenshots of each
// step are saved.
func TestModerationConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	w := newWorld(t, true)
	w.moderators()
	mallory, bob, _ := w.demo()
	status, body := w.postReport(bob, moderation.ReportRequest{
		Message: marshal(t, bob.find("just kidding?").report), Reason: "threat", Comment: "she threatened us earlier",
		Context: [][]byte{marshal(t, bob.find("hello everyone").report), marshal(t, bob.find("please stop").report)},
	})
	if status != 201 {
		t.Fatalf("report: %d %v", status, body)
	}
	id := body["id"].(string)
	dir := artifacts(t)
	t.Logf("screenshots in %s", dir)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser: no timeout on it (chromedp.Run).
	if err := chromedp.Do(bctx, chromedp.Navigate(w.srv.URL+"/moderation/")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// Unauthenticated: redirected to the sign-in page; sign in with the keyboard.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#name"))); err != nil {
		t.Fatalf("login page: %v", err)
	}
	shot("1-login")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#name"), "mo"),
		chromedp.SendKeys(chromedp.CSS("#password"), "mo-correct-horse"),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("table caption")),
	); err != nil {
		t.Fatalf("sign in: %v\n%s", err, dump(bctx))
	}
	if h := text("h1"); h != "Report queue" {
		t.Fatalf("after sign-in: %q", h)
	}
	shot("2-queue")

	// Open the report from the queue (keyboard: focus the link, Enter).
	link := chromedp.CSS(`a[href="/moderation/reports/` + id + `"]`)
	if err := chromedp.Do(ctx, chromedp.Focus(link), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#reported-text"))); err != nil {
		t.Fatalf("open report: %v", err)
	}
	if got := text("#reported-text"); strings.TrimSpace(got) != "just kidding?" {
		t.Fatalf("reported text shown: %q", got)
	}
	if v := text("#verified"); !strings.Contains(v, "Verified") || !strings.Contains(v, "mallory") {
		t.Fatalf("verification banner: %q", v)
	}
	if ctxText := text("ol.context"); !strings.Contains(ctxText, "hello everyone") || !strings.Contains(ctxText, "please stop") {
		t.Fatalf("context shown: %q", ctxText)
	}
	if s := text("#sender"); strings.TrimSpace(s) != "mallory" {
		t.Fatalf("sender shown: %q", s)
	}
	shot("3-report")

	// Suspend mallory.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#suspend-note"), "extortion threats, see context"),
		chromedp.Click(chromedp.CSS("#suspend")),
		chromedp.WaitVisible(chromedp.CSS("p.flash")),
	); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	if f := text("p.flash"); !strings.Contains(f, "suspended") {
		t.Fatalf("flash after suspend: %q", f)
	}
	if b := text("#suspended"); b != "suspended" {
		t.Fatalf("suspended badge: %q", b)
	}
	if s := text("#status"); s != "actioned" {
		t.Fatalf("report status: %q", s)
	}
	shot("4-suspended")

	// The delivery service refuses mallory's next send.
	err := w.send(mallory, "family", "you cannot stop me")
	if !errors.Is(err, ds.ErrSuspended) {
		t.Fatalf("suspended sender's next send: %v, want ds.ErrSuspended", err)
	}
	// The audit trail holds the moderator's actions.
	es, err := w.store.Audit(w.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		if e.Moderator == "mo" {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "login,view,suspend,view" {
		t.Fatalf("audit of mo: %v", actions)
	}
}
