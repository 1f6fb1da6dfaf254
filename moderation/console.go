package moderation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed templates/*.html static/*.css
var assets embed.FS

// ConsolePath is the console's mount point: mount Console() on it.
const ConsolePath = "/moderation/"

const (
	sessionCookie = "daylight_mod_session"
	loginCookie   = "daylight_mod_login" // double-submit CSRF token of the login form
)

var funcs = template.FuncMap{
	"b64":  func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) },
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"text": func(b []byte) string { return string(bytes.ToValidUTF8(b, []byte("\uFFFD"))) },
	"short": func(s string) string {
		if len(s) > 8 {
			return s[:8]
		}
		return s
	},
	"add": func(a, b int) int { return a + b },
}

// page is the data every template gets.
type page struct {
	Title   string
	Mod     *Moderator
	CSRF    string
	Flash   string
	Error   string
	Data    any
	CanAct  bool
	IsAdmin bool
}

// Console returns the moderation console's handler, to mount at ConsolePath.
// Pages are server-rendered HTML with no script; every POST needs the
// session's CSRF token.
func (s *Service) Console() http.Handler {
	t := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/*.html"))
	c := &console{s: s, t: t}
	m := http.NewServeMux()
	m.HandleFunc("GET /moderation/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moderation/reports", http.StatusSeeOther)
	})
	m.HandleFunc("GET /moderation/static/console.css", func(w http.ResponseWriter, r *http.Request) {
		b, _ := assets.ReadFile("static/console.css")
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(b)
	})
	m.HandleFunc("GET /moderation/login", c.loginForm)
	m.HandleFunc("POST /moderation/login", c.login)
	m.HandleFunc("POST /moderation/logout", c.authed(RoleViewer, c.logout))
	m.HandleFunc("GET /moderation/reports", c.authed(RoleViewer, c.queue))
	m.HandleFunc("GET /moderation/reports/{id}", c.authed(RoleViewer, c.report))
	m.HandleFunc("POST /moderation/reports/{id}/{action}", c.authed(RoleViewer, c.act))
	m.HandleFunc("POST /moderation/accounts/{account}/unsuspend", c.authed(RoleModerator, c.unsuspend))
	m.HandleFunc("GET /moderation/audit", c.authed(RoleAdmin, c.auditPage))
	m.HandleFunc("/moderation/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	return securityHeaders(m)
}

type console struct {
	s *Service
	t *template.Template
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin") // not no-referrer: browsers then send "Origin: null" on POST
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (c *console) secure(r *http.Request) bool { return r.TLS != nil || c.s.cfg.SecureCookies }

func (c *console) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := c.t.ExecuteTemplate(&buf, name, p); err != nil {
		c.s.log.Error("moderation: template", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (c *console) fail(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	p := page{Title: http.StatusText(status), Error: msg}
	if sess != nil {
		p.Mod, p.CSRF = &sess.mod, sess.csrf
	}
	c.render(w, status, "error.html", p)
}

// session is an authenticated console request's moderator.
type session struct {
	mod  Moderator
	csrf string
	hash [32]byte
}

func (c *console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) != 43 {
		return nil, ErrUnauthenticated
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	h := sha256.Sum256(raw)
	ss, err := c.s.st.Session(r.Context(), h, c.s.now())
	if err != nil {
		return nil, ErrUnauthenticated
	}
	m, err := c.s.st.Moderator(r.Context(), ss.Moderator)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return &session{mod: m, csrf: ss.CSRF, hash: h}, nil
}

// authed wraps a handler: a session is required (GET without one redirects to
// the login page), the role must suffice, and every POST must carry the
// session's CSRF token and, if the browser sends one, a same-origin Origin.
func (c *console) authed(role Role, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := c.session(r)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/moderation/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "You are not signed in, or your session expired. Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !sameOrigin(r) || !equalToken(r.PostFormValue("csrf"), sess.csrf) {
				c.fail(w, r, sess, http.StatusForbidden, "This form did not come from this console or has expired (CSRF check failed). Reload the page and try again.")
				return
			}
		}
		if sess.mod.Role < role {
			c.fail(w, r, sess, http.StatusForbidden, fmt.Sprintf("Your role (%s) cannot do this; it needs %s.", sess.mod.Role, role))
			return
		}
		h(w, r, sess)
	}
}

func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func equalToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (c *console) token() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(c.s.rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	tok, err := c.token()
	if err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "Internal error.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/moderation/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.secure(r), MaxAge: 1800})
	c.render(w, http.StatusOK, "login.html", page{Title: "Sign in", CSRF: tok, Data: safeNext(r.URL.Query().Get("next"))})
}

func safeNext(n string) string {
	if strings.HasPrefix(n, "/moderation/") && !strings.HasPrefix(n, "//") && !strings.ContainsAny(n, "\\\r\n") {
		return n
	}
	return "/moderation/reports"
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || !equalToken(r.PostFormValue("csrf"), ck.Value) {
		c.fail(w, r, nil, http.StatusForbidden, "The sign-in form expired or did not come from this console (CSRF check failed). Reload the sign-in page.")
		return
	}
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	again := func(status int, msg string) {
		tok, _ := c.token()
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/moderation/login", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: c.secure(r), MaxAge: 1800})
		c.render(w, status, "login.html", page{Title: "Sign in", CSRF: tok, Error: msg, Data: next})
	}
	if !c.s.logins.allow(name, c.s.now()) {
		again(http.StatusTooManyRequests, "Too many sign-in attempts for this name. Wait 15 minutes.")
		return
	}
	m, err := c.s.st.Moderator(r.Context(), name)
	select {
	case c.s.kdf <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	ok := err == nil && checkPassword(m.PasswordHash, pw)
	if err != nil {
		checkPassword(dummyHash, pw) // same cost whether or not the name exists
	}
	<-c.s.kdf
	if !ok {
		c.s.audit(r.Context(), short64(name), "login-failed", "", "")
		again(http.StatusUnauthorized, "Wrong name or password.")
		return
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(c.s.rand, raw); err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "Internal error.")
		return
	}
	csrf, err := c.token()
	if err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "Internal error.")
		return
	}
	now := c.s.now()
	if err := c.s.st.PutSession(r.Context(), Session{Hash: sha256.Sum256(raw), Moderator: m.Name, CSRF: csrf, Created: now, Expires: now.Add(c.s.cfg.SessionTTL)}); err != nil {
		c.fail(w, r, nil, http.StatusInternalServerError, "Internal error.")
		return
	}
	c.s.audit(r.Context(), m.Name, "login", "", "")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: base64.RawURLEncoding.EncodeToString(raw), Path: "/moderation/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r), MaxAge: int(c.s.cfg.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/moderation/login", MaxAge: -1})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// dummyHash is checked when the name is unknown, so timing does not tell
// which moderator names exist.
const dummyHash = "$argon2id$v=19$m=65536,t=3,p=4$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func (c *console) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	c.s.st.DeleteSession(r.Context(), sess.hash)
	c.s.audit(r.Context(), sess.mod.Name, "logout", "", "")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/moderation/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
	http.Redirect(w, r, "/moderation/login", http.StatusSeeOther)
}

func (c *console) base(sess *session, title string) page {
	return page{Title: title, Mod: &sess.mod, CSRF: sess.csrf, CanAct: sess.mod.Role >= RoleModerator, IsAdmin: sess.mod.Role >= RoleAdmin}
}

type queueData struct {
	Status     string
	Statuses   []string
	Reports    []Report
	Rejections map[string]int64
}

func (c *console) queue(w http.ResponseWriter, r *http.Request, sess *session) {
	st := r.URL.Query().Get("status")
	var status Status
	switch st {
	case "", "open":
		st, status = "open", StatusOpen
	case "actioned":
		status = StatusActioned
	case "dismissed":
		status = StatusDismissed
	case "all":
	default:
		c.fail(w, r, sess, http.StatusBadRequest, "Unknown status filter; use open, actioned, dismissed or all.")
		return
	}
	reps, err := c.s.st.Reports(r.Context(), status, 200)
	if err != nil {
		c.internal(w, r, sess, err)
		return
	}
	rej, err := c.s.st.Rejections(r.Context())
	if err != nil {
		c.internal(w, r, sess, err)
		return
	}
	p := c.base(sess, "Report queue")
	p.Data = queueData{Status: st, Statuses: []string{"open", "actioned", "dismissed", "all"}, Reports: reps, Rejections: rej}
	c.render(w, http.StatusOK, "queue.html", p)
}

type reportData struct {
	R         Report
	Suspended bool
	Warnings  []Warning
}

var flashes = map[string]string{
	"warn": "Warning recorded for the sender.", "suspend": "Sender's account suspended: its sends are now refused.",
	"revoke": "Sending device revoked.", "dismiss": "Report dismissed.", "unsuspend": "Suspension lifted.",
}

func (c *console) report(w http.ResponseWriter, r *http.Request, sess *session) {
	rep, err := c.s.ViewReport(r.Context(), sess.mod, r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		c.fail(w, r, sess, http.StatusNotFound, "No such report.")
		return
	}
	if err != nil {
		c.internal(w, r, sess, err)
		return
	}
	susp, err := c.s.Suspended(r.Context(), rep.Message.Account)
	if err != nil {
		c.internal(w, r, sess, err)
		return
	}
	warns, _ := c.s.st.Warnings(r.Context(), rep.Message.Account)
	p := c.base(sess, "Report "+short(rep.ID))
	p.Flash = flashes[r.URL.Query().Get("done")]
	p.Data = reportData{R: rep, Suspended: susp, Warnings: warns}
	c.render(w, http.StatusOK, "report.html", p)
}

// short64 bounds an untrusted name before it is written to the audit trail.
func short64(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func (c *console) act(w http.ResponseWriter, r *http.Request, sess *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	note := r.PostFormValue("note")
	ctx := r.Context()
	var err error
	switch action {
	case "warn":
		err = c.s.Warn(ctx, sess.mod, id, note)
	case "suspend":
		err = c.s.Suspend(ctx, sess.mod, id, note)
	case "revoke":
		err = c.s.RevokeDevice(ctx, sess.mod, id)
	case "dismiss":
		err = c.s.Dismiss(ctx, sess.mod, id)
	case "export":
		var file []byte
		file, _, err = c.s.Export(ctx, sess.mod, id)
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="abuse-report-%s.json"`, short(id)))
			w.Write(file)
			return
		}
	default:
		c.fail(w, r, sess, http.StatusNotFound, "Unknown action.")
		return
	}
	if err != nil {
		c.actionError(w, r, sess, err)
		return
	}
	http.Redirect(w, r, "/moderation/reports/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
}

func (c *console) unsuspend(w http.ResponseWriter, r *http.Request, sess *session) {
	acct := r.PathValue("account")
	if err := c.s.Unsuspend(r.Context(), sess.mod, acct); err != nil {
		c.actionError(w, r, sess, err)
		return
	}
	back := safeNext(r.PostFormValue("back"))
	http.Redirect(w, r, back+"?done=unsuspend", http.StatusSeeOther)
}

func (c *console) actionError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	switch {
	case errors.Is(err, ErrForbidden):
		c.fail(w, r, sess, http.StatusForbidden, fmt.Sprintf("Your role (%s) cannot do this.", sess.mod.Role))
	case errors.Is(err, ErrNotFound):
		c.fail(w, r, sess, http.StatusNotFound, "No such report.")
	case errors.Is(err, ErrInvalidInput):
		c.fail(w, r, sess, http.StatusBadRequest, "The form was not valid (a note is at most 2000 bytes).")
	default:
		c.internal(w, r, sess, err)
	}
}

func (c *console) internal(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	c.s.log.Error("moderation: console", "path", r.URL.Path, "err", err)
	c.fail(w, r, sess, http.StatusInternalServerError, "Internal error; the action may not have happened. Check the report.")
}

type auditData struct {
	Entries []AuditEntry
	Chain   string
}

func (c *console) auditPage(w http.ResponseWriter, r *http.Request, sess *session) {
	es, err := c.s.st.Audit(r.Context(), 0, 1000)
	if err != nil {
		c.internal(w, r, sess, err)
		return
	}
	chain := "intact"
	if n, err := c.s.VerifyAudit(context.WithoutCancel(r.Context())); err != nil {
		chain = err.Error()
	} else {
		chain = fmt.Sprintf("intact (%d entries)", n)
	}
	p := c.base(sess, "Audit trail")
	p.Data = auditData{Entries: es, Chain: chain}
	c.render(w, http.StatusOK, "audit.html", p)
}
