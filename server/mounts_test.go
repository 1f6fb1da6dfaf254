package server

import (
	"net/http"
	"testing"
)

// TestMounts: Config.Mounts are served at their patterns with the full
// path; a method the pattern excludes gets 405 with Allow.
func TestMounts(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Mounts = map[string]http.Handler{
			"/transparency/":      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("report " + r.URL.Path)) }),
			"POST /v1/log/append": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("append")) }),
		}
	})
	if r := h.do("GET", "/transparency/report.json", "", "", nil); r.status != 200 || string(r.body) != "report /transparency/report.json" {
		t.Fatalf("mount: %d %q", r.status, r.body)
	}
	if r := h.do("POST", "/v1/log/append", "", "", nil); r.status != 200 || string(r.body) != "append" {
		t.Fatalf("POST mount: %d %q", r.status, r.body)
	}
	if r := h.do("GET", "/v1/log/append", "", "", nil); r.status != http.StatusMethodNotAllowed || r.hdr.Get("Allow") != "POST" {
		t.Fatalf("GET on a POST mount: %d %q allow %q", r.status, r.body, r.hdr.Get("Allow"))
	}
}

// TestMountsRateLimited: a client over the per-IP limit gets 429 from a
// mounted handler too, and the handler is not called.
func TestMountsRateLimited(t *testing.T) {
	calls := 0
	h := newHarness(t, func(c *Config) {
		c.PerIP = &Rate{PerSecond: 0.001, Burst: 2}
		c.Mounts = map[string]http.Handler{"/transparency/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ })}
	})
	var last resp
	for range 4 {
		last = h.do("GET", "/transparency/", "", "", nil)
	}
	if last.status != http.StatusTooManyRequests || calls != 2 {
		t.Fatalf("over the limit: status %d, handler called %d times (want 429, 2)", last.status, calls)
	}
}
