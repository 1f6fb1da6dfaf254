package server

import (
	"fmt"
	"log/slog"
	"net/http"
)

// mount registers one of Config.Mounts behind the per-IP rate limit, with
// the request metrics and the access-log line every route has. The handler
// does its own authentication (the log append endpoint, the intake's
// authority signatures) or none (the transparency report).
func (s *Server) mount(pattern string, h http.Handler) {
	route := pattern
	s.mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		start := s.now()
		w := &statusWriter{ResponseWriter: rw}
		if !s.perIP.allow(remoteIP(r)) {
			s.met.rateLimited.Add(1)
			s.writeError(w, r, fmt.Errorf("address %s over %g requests/s: %w", remoteIP(r), s.cfg.PerIP.PerSecond, errRateLimited))
		} else {
			h.ServeHTTP(w, r)
		}
		d := s.now().Sub(start)
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		s.met.request(route, status, d)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "http", slog.String("route", route), slog.Int("status", status),
			slog.Duration("dur", d), slog.Int64("bytes", w.bytes), slog.String("ip", remoteIP(r)))
	})
}
