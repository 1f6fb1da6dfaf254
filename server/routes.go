package server

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
)

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// handlerFunc is a route handler; p is the zero Principal on public routes.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p ds.Principal) error

func (s *Server) routes() {
	m := s.mux
	s.handle(api.RouteRegister, false, s.register)
	s.handle(api.RouteLink, false, s.link)
	s.handle(api.RouteDevices, true, s.devices)
	s.handle(api.RouteRevoke, true, s.revoke)
	s.handle(api.RouteChallenge, false, s.challenge)
	s.handle(api.RouteToken, false, s.token)
	s.handle(api.RouteUploadKP, true, s.uploadKeyPackages)
	s.handle(api.RouteCountKP, true, s.countKeyPackages)
	s.handle(api.RouteClaimUserKP, true, s.claimUserKeyPackages)
	s.handle(api.RouteClaimDeviceKP, true, s.claimDeviceKeyPackage)
	s.handle(api.RouteCreateGroup, true, s.createGroup)
	s.handle(api.RouteGroup, true, s.group)
	s.handle(api.RouteSend, true, s.send)
	s.handle(api.RouteFetch, true, s.fetch)
	s.handle(api.RouteAck, true, s.ack)
	s.handle(api.RouteUploadBlob, true, s.uploadBlob)
	s.handle(api.RouteBlob, true, s.downloadBlob)
	s.handle(api.RouteBlobHead, true, s.downloadBlob)
	s.handle(api.RouteEscrowUpload, true, s.escrowUpload)
	s.handle(api.RouteEscrowList, true, s.escrowList)
	s.handle(api.RouteEpochStatement, true, s.epochStatement)
	s.handle(api.RouteEpochEvidence, true, s.epochEvidence)
	// The WebSocket route authenticates itself (header or first frame).
	s.handle(api.RouteWebSocket, false, s.websocket)
	s.handle(api.RouteHealth, false, s.health)
	s.handle(api.RouteMetrics, false, s.metrics)
	if s.cfg.LogHandler != nil {
		m.Handle(api.PathLog, s.cfg.LogHandler)
	}
	if s.cfg.KeyDirHandler != nil {
		m.Handle(api.PathKeyDir, s.cfg.KeyDirHandler)
	}
	for pattern, h := range s.cfg.Mounts {
		s.mount(pattern, h)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, fmt.Errorf("%s is not allowed on %s: %w", r.Method, r.URL.Path, errMethod))
			return
		}
		s.writeError(w, r, fmt.Errorf("no route %s %s: %w", r.Method, r.URL.Path, ds.ErrNotFound))
	})
}

// allowed lists the methods with a route for r's path (for 405 answers).
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// statusWriter records the status and size of a response; it passes
// Hijack and Flush through (WebSocket, long-poll).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("server: connection cannot be hijacked")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return hj.Hijack()
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// remoteIP is the peer address without port (no proxy headers are trusted).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// authenticate resolves the request's bearer token to a principal.
func (s *Server) authenticate(r *http.Request) (ds.Principal, error) {
	tok, ok := bearer(r)
	if !ok {
		return ds.Principal{}, fmt.Errorf("no Authorization: Bearer header: %w", errNoToken)
	}
	return s.svc.Authorize(r.Context(), tok)
}

// handle registers a route with rate limits, authentication, error mapping,
// metrics and an access log line. The log never holds tokens or bodies.
func (s *Server) handle(pattern string, auth bool, fn handlerFunc) {
	route := pattern
	s.mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		start := s.now()
		w := &statusWriter{ResponseWriter: rw}
		var p ds.Principal
		err := func() error {
			if !s.perIP.allow(remoteIP(r)) {
				s.met.rateLimited.Add(1)
				return fmt.Errorf("address %s over %g requests/s: %w", remoteIP(r), s.cfg.PerIP.PerSecond, errRateLimited)
			}
			if auth {
				var err error
				if p, err = s.authenticate(r); err != nil {
					return err
				}
				if !s.perAcct.allow(p.Username) {
					s.met.rateLimited.Add(1)
					return fmt.Errorf("account over %g requests/s: %w", s.cfg.PerAccount.PerSecond, errRateLimited)
				}
			}
			return fn(w, r, p)
		}()
		if err != nil {
			s.writeError(w, r, err)
		}
		d := s.now().Sub(start)
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		s.met.request(route, status, d)
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case route == api.RouteHealth || route == api.RouteMetrics:
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("route", route), slog.Int("status", status),
			slog.Duration("dur", d), slog.Int64("bytes", w.bytes), slog.String("ip", remoteIP(r)),
		}
		if p.Device != 0 {
			attrs = append(attrs, slog.Int64("device", int64(p.Device)))
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "http", attrs...)
	})
}

// writeError answers with the status and JSON body the error table gives.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="daylight"`)
	}
	writeJSON(w, status, api.ErrorResponse{Error: body})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", api.MediaJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// readBody reads a body of at most limit bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("body of %d bytes, limit %d: %w", r.ContentLength, limit, errTooLarge)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("body over the limit of %d bytes: %w", limit, errTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", errMalformed)
	}
	return b, nil
}

// mediaType returns the request's Content-Type without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// decodeJSON reads and strictly decodes a JSON body into v.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt := mediaType(r); mt != api.MediaJSON {
		return fmt.Errorf("Content-Type %q, want %s: %w", r.Header.Get("Content-Type"), api.MediaJSON, errMedia)
	}
	b, err := readBody(w, r, s.cfg.MaxJSONBytes)
	if err != nil {
		return err
	}
	if err := api.Decode(b, v); err != nil {
		return fmt.Errorf("%v: %w", err, errMalformed)
	}
	return nil
}

func pathDevice(r *http.Request) (ds.DeviceID, error) {
	n, err := strconv.ParseInt(r.PathValue("device"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("device id %q: %w", r.PathValue("device"), errBadParam)
	}
	return ds.DeviceID(n), nil
}

func pathGroup(r *http.Request) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(r.PathValue("group"))
	if err != nil || len(id) == 0 {
		return nil, fmt.Errorf("group id must be base64url without padding: %w", errBadParam)
	}
	return id, nil
}

func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("query %s=%q: %w", name, v, errBadParam)
	}
	return n, nil
}

func apiDevice(d ds.Device) api.Device {
	out := api.Device{ID: api.DeviceID(d.ID), Username: d.Username, Name: d.Name, SigningKey: d.SigningKey, Created: d.Created.UTC()}
	if !d.Revoked.IsZero() {
		t := d.Revoked.UTC()
		out.Revoked = &t
	}
	return out
}

func (s *Server) register(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	var req api.RegisterRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	d, err := s.svc.Register(r.Context(), ds.RegisterRequest{
		Username: req.Username, DeviceName: req.DeviceName, SigningKey: ed25519.PublicKey(req.SigningKey), Signature: req.Signature,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, api.DeviceResponse{Device: apiDevice(d)})
}

func (s *Server) link(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	var req api.LinkRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	d, err := s.svc.LinkDevice(r.Context(), ds.LinkRequest{
		Username: r.PathValue("username"), Approver: ds.DeviceID(req.Approver), DeviceName: req.DeviceName,
		SigningKey: ed25519.PublicKey(req.SigningKey), Approval: req.Approval, Signature: req.Signature,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, api.DeviceResponse{Device: apiDevice(d)})
}

func (s *Server) devices(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	ds_, err := s.svc.Devices(r.Context(), r.PathValue("username"))
	if err != nil {
		return err
	}
	out := api.DevicesResponse{Devices: make([]api.Device, 0, len(ds_))}
	for _, d := range ds_ {
		out.Devices = append(out.Devices, apiDevice(d))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	id, err := pathDevice(r)
	if err != nil {
		return err
	}
	if err := s.svc.RevokeDevice(r.Context(), p, id); err != nil {
		return err
	}
	s.endDevice(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	var req api.ChallengeRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.svc.Challenge(r.Context(), ds.DeviceID(req.Device))
	if errors.Is(err, ds.ErrNotFound) {
		// Do not tell unauthenticated callers which device ids exist.
		err = fmt.Errorf("challenge: %w", ds.ErrUnauthenticated)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.ChallengeResponse{Device: api.DeviceID(c.Device), Nonce: c.Nonce, Expires: c.Expires.UTC()})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	var req api.TokenRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	t, err := s.svc.Authenticate(r.Context(), ds.DeviceID(req.Device), req.Nonce, req.Signature)
	if errors.Is(err, ds.ErrBadSignature) {
		// A wrong challenge signature is an authentication failure (401).
		err = fmt.Errorf("%v: %w", err, ds.ErrUnauthenticated)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.TokenResponse{Token: t.Value, Expires: t.Expires.UTC()})
}

func (s *Server) uploadKeyPackages(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	var req api.UploadKeyPackagesRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.svc.UploadKeyPackages(r.Context(), p, req.KeyPackages); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) countKeyPackages(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	n, err := s.svc.KeyPackageCount(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.CountResponse{Count: n})
}

func apiKP(c ds.ClaimedKeyPackage) api.KeyPackage {
	return api.KeyPackage{Device: api.DeviceID(c.Device), Ref: c.Ref, Data: c.Data, LastResort: c.LastResort}
}

func (s *Server) claimUserKeyPackages(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	cs, err := s.svc.ClaimKeyPackages(r.Context(), p, r.PathValue("username"))
	if err != nil {
		return err
	}
	out := api.ClaimResponse{KeyPackages: make([]api.KeyPackage, 0, len(cs))}
	for _, c := range cs {
		out.KeyPackages = append(out.KeyPackages, apiKP(c))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) claimDeviceKeyPackage(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	id, err := pathDevice(r)
	if err != nil {
		return err
	}
	c, err := s.svc.ClaimKeyPackage(r.Context(), p, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.ClaimResponse{KeyPackages: []api.KeyPackage{apiKP(c)}})
}

func apiGroup(g ds.GroupView) api.Group {
	out := api.Group{ID: g.ID, Epoch: g.Epoch, LastSeq: g.LastSeq, State: g.State, Members: make([]api.DeviceID, 0, len(g.Members))}
	for _, m := range g.Members {
		out.Members = append(out.Members, api.DeviceID(m))
	}
	return out
}

// mlsBody reads a message/mls body of at most the service's message size.
func (s *Server) mlsBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if mt := mediaType(r); mt != api.MediaMLS {
		return nil, fmt.Errorf("Content-Type %q, want %s: %w", r.Header.Get("Content-Type"), api.MediaMLS, errMedia)
	}
	b, err := readBody(w, r, int64(s.svc.Config().MaxMessageBytes))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("empty message/mls body: %w", ds.ErrInvalidMessage)
	}
	return b, nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	gi, err := s.mlsBody(w, r)
	if err != nil {
		return err
	}
	g, err := s.svc.CreateGroup(r.Context(), p, gi)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiGroup(g))
}

func (s *Server) group(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	id, err := pathGroup(r)
	if err != nil {
		return err
	}
	g, err := s.svc.Group(r.Context(), p, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiGroup(g))
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	var msg, welcome []byte
	switch mediaType(r) {
	case api.MediaMLS:
		b, err := s.mlsBody(w, r)
		if err != nil {
			return err
		}
		msg = b
	case api.MediaJSON:
		var req api.SendRequest
		if err := s.decodeJSON(w, r, &req); err != nil {
			return err
		}
		if len(req.Message) == 0 {
			return fmt.Errorf("SendRequest.message is empty: %w", ds.ErrInvalidMessage)
		}
		msg, welcome = req.Message, req.Welcome
	default:
		return fmt.Errorf("Content-Type %q, want %s or %s: %w", r.Header.Get("Content-Type"), api.MediaMLS, api.MediaJSON, errMedia)
	}
	rc, err := s.sendMessage(r.Context(), p, msg, welcome)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, rc)
}

func (s *Server) sendMessage(ctx context.Context, p ds.Principal, msg, welcome []byte) (api.Receipt, error) {
	if len(welcome) == 0 {
		welcome = nil
	}
	rc, err := s.svc.Send(ctx, p, msg, welcome)
	if err != nil {
		return api.Receipt{}, err
	}
	s.met.accepted.Add(1)
	return api.Receipt{Cursor: rc.Cursor, Seq: rc.Seq, Epoch: rc.Epoch}, nil
}

// apiPage converts a queue page for the wire. Stamps go out in their
// delivered form (franking.AppendDelivered: version, time, tag; 41 bytes):
// the recipient rebuilds the rest from the message (docs/api.md). One buffer
// holds the page's stamps.
func apiPage(pg ds.Page) api.Page {
	out := api.Page{Cursor: pg.Cursor, Deliveries: make([]api.Delivery, 0, len(pg.Deliveries))}
	var stamps []byte
	for _, d := range pg.Deliveries {
		var stamp []byte
		if len(d.Stamp) > 0 {
			if stamps == nil {
				stamps = make([]byte, 0, franking.DeliveredSize*len(pg.Deliveries))
			}
			n := len(stamps)
			var err error
			if stamps, err = franking.AppendDelivered(stamps, d.Stamp); err == nil {
				stamp = stamps[n:len(stamps):len(stamps)]
			} // a malformed stored stamp is delivered as none: the message is unreportable
		}
		out.Deliveries = append(out.Deliveries, api.Delivery{
			Cursor: d.Cursor, GroupID: d.GroupID, Seq: d.Seq, Epoch: d.Epoch, Kind: d.Kind.String(),
			Sender: api.DeviceID(d.Sender), Data: d.Data, Received: d.Received.UTC(), Stamp: stamp,
		})
	}
	return out
}

// fetch is the long-poll fallback: it returns the page after the cursor, and
// if empty waits up to wait seconds for one.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	after, err := queryUint(r, api.QueryAfter, 0)
	if err != nil {
		return err
	}
	limit, err := queryUint(r, api.QueryLimit, uint64(s.cfg.PageSize))
	if err != nil {
		return err
	}
	wait, err := queryUint(r, api.QueryWait, 0)
	if err != nil {
		return err
	}
	if wait > api.MaxWaitSeconds {
		return fmt.Errorf("wait=%d exceeds %d seconds: %w", wait, api.MaxWaitSeconds, errBadParam)
	}
	var wake <-chan struct{}
	if wait > 0 {
		ch, cancel := s.svc.Subscribe(p) // before the first fetch: no lost wake-up
		defer cancel()
		wake = ch
	}
	ctx := r.Context()
	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	s.met.longPolls.Add(1)
	defer s.met.longPolls.Add(-1)
	for {
		pg, err := s.svc.Fetch(ctx, p, after, int(min(limit, 1000)))
		if err != nil {
			return err
		}
		if len(pg.Deliveries) > 0 || wait == 0 {
			s.met.delivered.Add(uint64(len(pg.Deliveries)))
			if len(pg.Deliveries) == 0 {
				pg.Cursor = max(pg.Cursor, after)
			}
			return writeJSON(w, http.StatusOK, apiPage(pg))
		}
		select {
		case <-wake:
		case <-deadline.C:
			wait = 0 // one last fetch, then answer (possibly empty)
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			wait = 0
		}
	}
}

func (s *Server) ack(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	var req api.AckRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.svc.Ack(r.Context(), p, req.Cursor); err != nil {
		return err
	}
	s.met.acks.Add(1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	if s.ctx.Err() != nil {
		return writeJSON(w, http.StatusServiceUnavailable, api.Health{Status: "unavailable"})
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// A cheap read through the store: an unknown device is the healthy answer.
	if _, err := s.svc.Device(ctx, -1); err != nil && !errors.Is(err, ds.ErrNotFound) {
		s.log.Error("healthz: store", "err", err)
		return writeJSON(w, http.StatusServiceUnavailable, api.Health{Status: "unavailable"})
	}
	return writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	w.Header().Set("Content-Type", api.MediaText)
	s.met.write(w, cpuSeconds())
	return nil
}
