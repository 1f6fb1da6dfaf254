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
