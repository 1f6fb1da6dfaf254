package moderation_test

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/moderation"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t *testing.T
	w *world
	c *http.Client
}

func (w *world) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: w.t, w: w, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	resp, err := b.c.Get(b.w.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) post(path string, form url.Values, hdr ...string) (int, string, http.Header) {
	req, _ := http.NewRequest("POST", b.w.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func csrfOf(t *testing.T, html string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", html)
	}
	return m[1]
}

// login signs in and returns the session's CSRF token.
func (b *browser) login(name, password string) string {
	b.t.Helper()
	_, page, _ := b.get("/moderation/login")
	status, _, hdr := b.post("/moderation/login", url.Values{"csrf": {csrfOf(b.t, page)}, "name": {name}, "password": {password}})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/moderation/reports" {
		b.t.Fatalf("login %s: %d %v", name, status, hdr)
	}
	_, page, _ = b.get("/moderation/reports")
	return csrfOf(b.t, page)
}

func (w *world) moderators() {
	for _, m := range []struct {
		name string
		role moderation.Role
	}{{"ana", moderation.RoleAdmin}, {"mo", moderation.RoleModerator}, {"vi", moderation.RoleViewer}} {
		if err := w.mod.AddModerator(w.ctx, "bootstrap", m.name, m.name+"-correct-horse", m.role); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) reportOne(t *testing.T) string {
	_, bob, _ := w.demo()
	status, body := w.postReport(bob, moderation.ReportRequest{Message: marshal(t, bob.find("just kidding?").report), Reason: "threat",
		Context: [][]byte{marshal(t, bob.find("hello everyone").report)}})
	if status != 201 {
		t.Fatalf("report: %d %v", status, body)
	}
	return body["id"].(string)
}

// TestConsoleRefusesBadRequests: unauthenticated, wrong role, CSRF missing or
// wrong, cross-origin, login without its CSRF token, wrong password: each is
// refused with a clear page, and no action happens.
func TestConsoleRefusesBadRequests(t *testing.T) {
	w := newWorld(t, true)
	w.moderators()
	id := w.reportOne(t)
	anon := w.browser()
	if status, _, hdr := anon.get("/moderation/reports"); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/moderation/login") {
		t.Fatalf("unauthenticated GET: %d %v", status, hdr)
	}
	if status, body, _ := anon.post("/moderation/reports/"+id+"/suspend", url.Values{"csrf": {"x"}}); status != http.StatusUnauthorized || !strings.Contains(body, "not signed in") {
		t.Fatalf("unauthenticated POST: %d", status)
	}
	// Login needs the login form's CSRF token, and the right password.
	if status, _, _ := anon.post("/moderation/login", url.Values{"name": {"mo"}, "password": {"mo-correct-horse"}}); status != http.StatusForbidden {
		t.Fatalf("login without CSRF: %d", status)
	}
	_, page, _ := anon.get("/moderation/login")
	if status, body, _ := anon.post("/moderation/login", url.Values{"csrf": {csrfOf(t, page)}, "name": {"mo"}, "password": {"wrong-password-123"}}); status != http.StatusUnauthorized || !strings.Contains(body, "Wrong name or password") {
		t.Fatalf("wrong password: %d", status)
	}
	_, page, _ = anon.get("/moderation/login")
	if status, _, _ := anon.post("/moderation/login", url.Values{"csrf": {csrfOf(t, page)}, "name": {"nobody"}, "password": {"whatever-long-enough"}}); status != http.StatusUnauthorized {
		t.Fatalf("unknown moderator: %d", status)
	}

	viewer := w.browser()
	vcsrf := viewer.login("vi", "vi-correct-horse")
	if status, body, _ := viewer.get("/moderation/reports/" + id); status != 200 || !strings.Contains(body, "just kidding?") || strings.Contains(body, `id="suspend"`) {
		t.Fatalf("viewer reads report: %d", status)
	}
	if status, body, _ := viewer.post("/moderation/reports/"+id+"/suspend", url.Values{"csrf": {vcsrf}}); status != http.StatusForbidden || !strings.Contains(body, "Your role (viewer)") {
		t.Fatalf("viewer suspends: %d", status)
	}
	if status, _, _ := viewer.get("/moderation/audit"); status != http.StatusForbidden {
		t.Fatalf("viewer reads audit: %d", status)
	}

	mod := w.browser()
	mcsrf := mod.login("mo", "mo-correct-horse")
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"missing CSRF", url.Values{}, nil},
		{"wrong CSRF", url.Values{"csrf": {vcsrf}}, nil}, // another session's token
		{"cross-origin", url.Values{"csrf": {mcsrf}}, []string{"Origin", "https://evil.example"}},
	} {
		if status, body, _ := mod.post("/moderation/reports/"+id+"/suspend", tc.form, tc.hdr...); status != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Fatalf("%s: %d", tc.name, status)
		}
	}
	if status, _, _ := mod.post("/moderation/reports/"+id+"/export", url.Values{"csrf": {mcsrf}}); status != http.StatusForbidden {
		t.Fatalf("moderator exports: %d, want 403 (admin only)", status)
	}
	if status, _, _ := mod.post("/moderation/reports/"+id+"/frobnicate", url.Values{"csrf": {mcsrf}}); status != http.StatusNotFound {
		t.Fatalf("unknown action: %d", status)
	}
	if status, _, _ := mod.get("/moderation/reports?status=bogus"); status != http.StatusBadRequest {
		t.Fatalf("bad filter: %d", status)
	}
	if status, _, _ := mod.get("/moderation/reports/nonexistent"); status != http.StatusNotFound {
		t.Fatalf("unknown report: %d", status)
	}
	if susp, _ := w.mod.Suspended(w.ctx, "mallory"); susp {
		t.Fatal("a refused request suspended the sender")
	}
	// The right request works; sign-out ends the session.
	if status, _, hdr := mod.post("/moderation/reports/"+id+"/suspend", url.Values{"csrf": {mcsrf}, "note": {"threats"}}); status != http.StatusSeeOther {
		t.Fatalf("suspend: %d %v", status, hdr)
	}
	if susp, _ := w.mod.Suspended(w.ctx, "mallory"); !susp {
		t.Fatal("suspend did not suspend")
	}
	mod.post("/moderation/logout", url.Values{"csrf": {mcsrf}})
	if status, _, _ := mod.post("/moderation/reports/"+id+"/dismiss", url.Values{"csrf": {mcsrf}}); status != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", status)
	}
}

// TestConsoleHeadersAndCookies: the session cookie is HttpOnly, SameSite=Strict,
// scoped to the console; pages forbid framing and scripts.
func TestConsoleHeadersAndCookies(t *testing.T) {
	w := newWorld(t, false)
	w.moderators()
	b := w.browser()
	_, page, hdr := b.get("/moderation/login")
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	_, _, hdr = b.post("/moderation/login", url.Values{"csrf": {csrfOf(t, page)}, "name": {"ana"}, "password": {"ana-correct-horse"}})
	var found bool
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == "daylight_mod_session" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/moderation/" || len(c.Value) < 40 {
				t.Fatalf("session cookie %+v", c)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
	for _, p := range []string{"/moderation/login", "/moderation/reports", "/moderation/audit"} {
		_, body, _ := b.get(p)
		if strings.Contains(body, "<script") || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "<h1>") {
			t.Fatalf("%s: script or missing lang/heading", p)
		}
	}
}

// TestConsoleExportLogged: an admin's export is a signed, self-contained file
// that verifies with the provider's key; its digest is in the access log as an
// Evidence entry of kind abuse-report; the audit trail records it.
func TestConsoleExportLogged(t *testing.T) {
	w := newWorld(t, true)
	w.moderators()
	id := w.reportOne(t)
	b := w.browser()
	csrf := b.login("ana", "ana-correct-horse")
	status, file, hdr := b.post("/moderation/reports/"+id+"/export", url.Values{"csrf": {csrf}})
	if status != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", status, hdr)
	}
	p, digest, err := moderation.VerifyExport([]byte(file), w.exportKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("VerifyExport: %v", err)
	}
	if p.ReportID != id || p.Message.Account != "mallory" || p.Message.Text != "just kidding?" || len(p.Context) != 1 || p.ExportedBy != "ana" {
		t.Fatalf("export payload %+v", p)
	}
	// The franked bytes inside still verify with the provider's stamp key.
	if _, err := w.mod.VerifyFranked(p.Message.Franked); err != nil {
		t.Fatalf("exported franked message: %v", err)
	}
	if len(w.log.entries) != 1 {
		t.Fatalf("%d access-log entries, want 1", len(w.log.entries))
	}
	ev, ok := w.log.entries[0].(*accesslog.Evidence)
	if !ok || ev.Kind != accesslog.EvidenceAbuseReport || ev.Digest != digest || ev.Jurisdiction != "EU" {
		t.Fatalf("evidence entry %+v", w.log.entries[0])
	}
	if _, err := accesslog.Marshal(ev); err != nil {
		t.Fatalf("evidence entry does not encode: %v", err)
	}
	// A tampered file fails.
	tampered := strings.Replace(file, `"payload": "`, `"payload": "AA`, 1)
	if _, _, err := moderation.VerifyExport([]byte(tampered), w.exportKey.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("tampered export verifies")
	}
	_, audit, _ := b.get("/moderation/audit")
	if !strings.Contains(audit, "export") || !strings.Contains(audit, fmt.Sprintf("%x", digest)) || !strings.Contains(audit, "intact") {
		t.Fatalf("audit page lacks the export:\n%s", audit)
	}
	if n, err := w.mod.VerifyAudit(w.ctx); err != nil || n < 4 {
		t.Fatalf("audit chain: %d %v", n, err)
	}
}

// TestConsoleActions: warn, revoke device and dismiss through the console
// take effect (warning stored, the DS revokes the stamped device, status
// changes) and are audited.
func TestConsoleActions(t *testing.T) {
	w := newWorld(t, true)
	w.moderators()
	id := w.reportOne(t)
	bob, carol, mallory := w.users["bob"], w.users["carol"], w.users["mallory"]
	status, body := w.postReport(carol, moderation.ReportRequest{Message: marshal(t, carol.find("hello everyone").report), Reason: "spam"})
	if status != 201 {
		t.Fatalf("second report: %d %v", status, body)
	}
	id2 := body["id"].(string)
	b := w.browser()
	csrf := b.login("mo", "mo-correct-horse")
	for _, step := range []struct{ path, note string }{
		{"/moderation/reports/" + id + "/warn", "stop threatening people"},
		{"/moderation/reports/" + id + "/revoke", ""},
		{"/moderation/reports/" + id2 + "/dismiss", ""},
	} {
		if status, _, hdr := b.post(step.path, url.Values{"csrf": {csrf}, "note": {step.note}}); status != http.StatusSeeOther {
			t.Fatalf("%s: %d %v", step.path, status, hdr)
		}
	}
	ws, err := w.mod.Warnings(w.ctx, "mallory")
	if err != nil || len(ws) != 1 || ws[0].Text != "stop threatening people" || ws[0].Report != id {
		t.Fatalf("warnings %+v %v", ws, err)
	}
	d, err := w.ds.Device(w.ctx, mallory.p.Device)
	if err != nil || d.Active() {
		t.Fatalf("mallory's device after revoke: %+v %v", d, err)
	}
	if _, err := w.ds.Authorize(w.ctx, mallory.token); err == nil {
		t.Fatal("revoked device's token still works")
	}
	if err := w.send(bob, "family", "is she gone?"); err != nil {
		t.Fatalf("others keep sending: %v", err)
	}
	r1, _ := w.store.Report(w.ctx, id)
	r2, _ := w.store.Report(w.ctx, id2)
	if r1.Status != moderation.StatusActioned || r2.Status != moderation.StatusDismissed {
		t.Fatalf("statuses %v %v", r1.Status, r2.Status)
	}
	_, page, _ := b.get("/moderation/reports?status=dismissed")
	if !strings.Contains(page, id2) || strings.Contains(page, id) {
		t.Fatal("dismissed filter shows the wrong reports")
	}
	es, _ := w.store.Audit(w.ctx, 0, 100)
	var acts []string
	for _, e := range es {
		if e.Moderator == "mo" {
			acts = append(acts, e.Action)
		}
	}
	if strings.Join(acts, ",") != "login,warn,revoke-device,dismiss" {
		t.Fatalf("audit %v", acts)
	}
}
