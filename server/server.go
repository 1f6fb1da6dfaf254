// Package server is the HTTP and WebSocket adapter of daylightd: it maps the
// routes of package api onto ds.Service calls, authenticates requests with ds
// tokens, limits request sizes and rates, pushes queue entries over WebSocket
// (github.com/coder/websocket) with an HTTP long-poll fallback, streams
// attachments with Range support, and serves /healthz and /metrics.
//
// It makes no protocol decisions and runs no SQL: ds decides, the store
// stores. Every error reaches the client through one table (errors.go).
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/daylight-im/daylight/ds"
)

// Config configures a Server. Service is required; every other field has a
// documented default.
type Config struct {
	Service *ds.Service
	Logger  *slog.Logger     // default: discard
	Now     func() time.Time // default: time.Now

	// LogHandler, if set, is mounted at /log/ (the access log's C2SP tiles,
	// accesslog/tlog). KeyDirHandler, if set, is mounted at /keydir/ (key
	// transparency). Both receive the full path.
	LogHandler    http.Handler
	KeyDirHandler http.Handler
	// Mounts are further handlers by ServeMux pattern (e.g. "/transparency/",
	// "/intake/v1/", "POST /v1/log/append"): they receive the full path, do
	// their own authentication, and get the per-IP rate limit, the request
	// metrics and the access-log line of every route (mounts.go).
	Mounts map[string]http.Handler

	// MaxJSONBytes bounds control (JSON) request bodies; default 4 MiB (a
	// batch of 100 post-quantum KeyPackages in base64 fits).
	MaxJSONBytes int64

	// PerIP limits every request and WebSocket connection by remote address
	// (default 200/s, burst 400); PerAccount limits authenticated requests and
	// WebSocket sends by username (default 100/s, burst 200). A zero
	// PerSecond disables a limit: set both to Rate{} for load tests.
	PerIP, PerAccount *Rate

	// AckInterval coalesces WebSocket acks: at most one ack write per
	// connection per interval (acks are cumulative; a lost ack only means a
	// redelivery the client drops by cursor). Default 500 ms. HTTP acks are
	// applied before the response.
	AckInterval time.Duration
	// PushDelay is how long a woken WebSocket waits before it reads the
	// queue, so that wake-ups of several group commits coalesce into one
	// read and one frame. Default 5 ms; negative disables.
	PushDelay time.Duration
	// PageSize is the number of queue entries per pushed page; default 256.
	PageSize int
	// PingInterval keeps idle WebSocket connections alive; default 30 s.
	PingInterval time.Duration
	// WebSocketOrigins are the Origin host patterns (path.Match syntax, e.g.
	// "chat.example.org", "*.example.org") a browser WebSocket may come from
	// besides the server's own host; default none (same origin only).
	WebSocketOrigins []string
	// ReauthInterval is how often an open WebSocket re-checks its token, so
	// a revoked device or an expired token loses its push channel (close
	// code 1008; the client reconnects with a fresh token). Default 1 minute.
	ReauthInterval time.Duration
}

// Server is the HTTP handler of daylightd. Create it with New; call Close
// during shutdown to end WebSocket connections and long-polls.
type Server struct {
	cfg     Config
	svc     *ds.Service
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	met     *metrics
	perIP   *limiter
	perAcct *limiter

	connsMu sync.Mutex
	conns   map[ds.DeviceID]map[*wsConn]struct{} // open WebSockets, to end a revoked device's at once

	ctx    context.Context // cancelled by Close: ends WebSockets and long-polls
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errorf("server: Config.Service is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxJSONBytes <= 0 {
		cfg.MaxJSONBytes = 4 << 20
	}
	if cfg.PerIP == nil {
		cfg.PerIP = &Rate{PerSecond: 200, Burst: 400}
	}
	if cfg.PerAccount == nil {
		cfg.PerAccount = &Rate{PerSecond: 100, Burst: 200}
	}
	if cfg.AckInterval <= 0 {
		cfg.AckInterval = 500 * time.Millisecond
	}
	if cfg.PushDelay == 0 {
		cfg.PushDelay = 5 * time.Millisecond
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 256
	}
	if cfg.ReauthInterval <= 0 {
		cfg.ReauthInterval = time.Minute
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, svc: cfg.Service, log: cfg.Logger, now: cfg.Now,
		mux: http.NewServeMux(), met: newMetrics(cfg.Now()),
		perIP: newLimiter(*cfg.PerIP, cfg.Now), perAcct: newLimiter(*cfg.PerAccount, cfg.Now),
		ctx: ctx, cancel: cancel, conns: make(map[ds.DeviceID]map[*wsConn]struct{}),
	}
	s.routes()
	return s, nil
}

// Close ends open WebSocket connections (close code "going away") and waiting
// long-polls, and waits for their goroutines. Call it after
// http.Server.Shutdown has stopped accepting requests, or before, to hurry it.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) addConn(c *wsConn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	m := s.conns[c.p.Device]
	if m == nil {
		m = make(map[*wsConn]struct{})
		s.conns[c.p.Device] = m
	}
	m[c] = struct{}{}
}

func (s *Server) removeConn(c *wsConn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	delete(s.conns[c.p.Device], c)
	if len(s.conns[c.p.Device]) == 0 {
		delete(s.conns, c.p.Device)
	}
}

// endDevice closes the device's WebSockets on this replica (close code 1008);
// on other replicas they end at their next token check (ReauthInterval).
func (s *Server) endDevice(id ds.DeviceID) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for c := range s.conns[id] {
		c.revoked.Store(true)
		c.stop()
	}
}
