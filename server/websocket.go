package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
)

// maxInflightSends bounds the sends one WebSocket connection has in flight
// (each waits for its group commit); the reader stops reading beyond it.
const maxInflightSends = 128

// wsAuthTimeout bounds how long a connection may stay unauthenticated.
const wsAuthTimeout = 10 * time.Second

// websocket serves the push channel (api/ws.go describes the protocol).
func (s *Server) websocket(w http.ResponseWriter, r *http.Request, _ ds.Principal) error {
	after, err := queryUint(r, api.QueryAfter, 0)
	if err != nil {
		return err
	}
	var p ds.Principal
	authed := false
	token, ok := bearer(r)
	if ok {
		// Header authentication fails as plain HTTP (401), before the upgrade.
		if p, err = s.authenticate(r); err != nil {
			return err
		}
		authed = true
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{api.WebSocketSubprotocol},
		CompressionMode: websocket.CompressionDisabled,
		OriginPatterns:  s.cfg.WebSocketOrigins,
	})
	if err != nil {
		s.log.Debug("websocket: accept", "err", err)
		return nil // Accept has answered
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.met.wsConns.Add(1)
	s.met.wsTotal.Add(1)
	defer s.met.wsConns.Add(-1)
	maxMsg := s.svc.Config().MaxMessageBytes
	c.SetReadLimit(int64(maxMsg)*2*4/3 + 64<<10) // a send frame: message + welcome in base64

	// The reader's context is the request's only: cancelling a Read's
	// context makes coder/websocket drop the connection without a close
	// frame, so the pusher ends the connection with c.Close instead.
	ctx := r.Context()
	pushCtx, cancelPush := context.WithCancel(ctx)
	defer cancelPush()
	stop := context.AfterFunc(s.ctx, cancelPush)
	defer stop()

	if !authed {
		if p, token, err = s.wsAuth(ctx, c); err != nil {
			_, body := classify(err)
			s.writeFrame(ctx, c, api.Frame{Type: api.FrameError, Error: &body})
			c.Close(websocket.StatusPolicyViolation, "authentication failed")
			return nil
		}
	}
	conn := &wsConn{s: s, c: c, p: p, token: token, stop: cancelPush, sem: make(chan struct{}, maxInflightSends), ackWake: make(chan struct{}, 1)}
	s.addConn(conn)
	defer s.removeConn(conn)
	if err := s.writeFrame(ctx, c, api.Frame{Type: api.FrameReady, Device: api.DeviceID(p.Device)}); err != nil {
		c.CloseNow()
		return nil
	}
	s.log.Info("websocket: open", "device", p.Device, "after", after)

	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		conn.push(pushCtx, after)
		switch {
		case s.ctx.Err() != nil:
			c.Close(websocket.StatusGoingAway, "server shutting down")
		case conn.revoked.Load():
			c.Close(websocket.StatusPolicyViolation, "token expired or device revoked; authenticate again")
		case conn.failed.Load():
			c.Close(websocket.StatusTryAgainLater, "queue unavailable; reconnect")
		case pushCtx.Err() == nil:
			c.Close(websocket.StatusInternalError, "push ended")
		}
	}()
	go func() { defer bg.Done(); conn.acker(pushCtx) }()
	if reason := conn.read(ctx); reason != nil {
		c.Close(websocket.StatusPolicyViolation, reason.Error())
	}
	cancelPush()
	bg.Wait()
	conn.senders.Wait()
	conn.flushAck()
	c.CloseNow()
	s.log.Info("websocket: closed", "device", p.Device)
	return nil
}

// wsAuth reads the first frame, which must be {"type":"auth","token":...}.
func (s *Server) wsAuth(ctx context.Context, c *websocket.Conn) (ds.Principal, string, error) {
	actx, cancel := context.WithTimeout(ctx, wsAuthTimeout)
	defer cancel()
	_, b, err := c.Read(actx)
	if err != nil {
		return ds.Principal{}, "", fmt.Errorf("no auth frame: %w", errNoToken)
	}
	var f api.Frame
	if err := api.Decode(b, &f); err != nil || f.Type != api.FrameAuth || f.Token == "" {
		return ds.Principal{}, "", fmt.Errorf("first frame must be an auth frame: %w", errNoToken)
	}
	p, err := s.svc.Authorize(ctx, f.Token)
	return p, f.Token, err
}

func (s *Server) writeFrame(ctx context.Context, c *websocket.Conn, f api.Frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}

type wsConn struct {
	s       *Server
	c       *websocket.Conn
	p       ds.Principal
	token   string // secret: never logged
	stop    context.CancelFunc
	revoked atomic.Bool
	failed  atomic.Bool // the queue could not be read
	sem     chan struct{}
	senders sync.WaitGroup

	ackWant atomic.Uint64 // highest cursor the client acked
	ackDone atomic.Uint64 // highest cursor applied
	ackWake chan struct{}
}

// push sends every queue entry after the cursor, then waits for wake-ups.
func (w *wsConn) push(ctx context.Context, after uint64) {
	wake, unsubscribe := w.s.svc.Subscribe(w.p) // before the first fetch: no lost wake-up
	defer unsubscribe()
	ping := time.NewTicker(w.s.cfg.PingInterval)
	defer ping.Stop()
	reauth := time.NewTicker(w.s.cfg.ReauthInterval)
	defer reauth.Stop()
	for {
		pg, err := w.s.svc.Fetch(ctx, w.p, after, w.s.cfg.PageSize)
		if err != nil {
			if ctx.Err() == nil {
				if _, aerr := w.s.svc.Authorize(ctx, w.token); aerr != nil {
					w.revoked.Store(true)
				} else {
					w.s.log.Warn("websocket: fetch", "device", w.p.Device, "err", err)
					w.failed.Store(true)
				}
			}
			return
		}
		if len(pg.Deliveries) > 0 {
			page := apiPage(pg)
			if err := w.s.writeFrame(ctx, w.c, api.Frame{Type: api.FrameDeliveries, Page: &page}); err != nil {
				return
			}
			w.s.met.delivered.Add(uint64(len(pg.Deliveries)))
			after = pg.Cursor
			continue
		}
		select {
		case <-wake:
			if d := w.s.cfg.PushDelay; d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		case <-reauth.C:
			if _, err := w.s.svc.Authorize(ctx, w.token); errors.Is(err, ds.ErrUnauthenticated) || errors.Is(err, ds.ErrRevoked) {
				w.s.log.Info("websocket: token no longer valid", "device", w.p.Device)
				w.revoked.Store(true)
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := w.c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// read handles client frames until the connection ends. It returns a non-nil
// reason for a protocol violation.
func (w *wsConn) read(ctx context.Context) error {
	for {
		typ, b, err := w.c.Read(ctx)
		if err != nil {
			return nil
		}
		if typ != websocket.MessageText {
			return errors.New("binary frames are not part of the protocol")
		}
		var f api.Frame
		if err := api.Decode(b, &f); err != nil {
			return errors.New("malformed frame")
		}
		switch f.Type {
		case api.FrameAck:
			for {
				cur := w.ackWant.Load()
				if f.Cursor <= cur || w.ackWant.CompareAndSwap(cur, f.Cursor) {
					break
				}
			}
			select {
			case w.ackWake <- struct{}{}:
			default:
			}
		case api.FrameSend:
			if f.Send == nil || len(f.Send.Message) == 0 {
				w.replyError(ctx, f.ID, fmt.Errorf("send frame without a message: %w", ds.ErrInvalidMessage))
				continue
			}
			if !w.s.perAcct.allow(w.p.Username) {
				w.s.met.rateLimited.Add(1)
				w.replyError(ctx, f.ID, fmt.Errorf("account over %g requests/s: %w", w.s.cfg.PerAccount.PerSecond, errRateLimited))
				continue
			}
			select {
			case w.sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			w.senders.Add(1)
			go func(id uint64, req api.SendRequest) {
				defer w.senders.Done()
				defer func() { <-w.sem }()
				rc, err := w.s.sendMessage(ctx, w.p, req.Message, req.Welcome)
				if err != nil {
					w.replyError(ctx, id, err)
					return
				}
				w.s.writeFrame(ctx, w.c, api.Frame{Type: api.FrameReceipt, ID: id, Receipt: &rc})
			}(f.ID, *f.Send)
		default:
			return fmt.Errorf("unknown frame type %q", f.Type)
		}
	}
}

func (w *wsConn) replyError(ctx context.Context, id uint64, err error) {
	_, body := classify(err)
	w.s.writeFrame(ctx, w.c, api.Frame{Type: api.FrameError, ID: id, Error: &body})
}

// acker applies acks, at most one store write per AckInterval (acks are
// cumulative, so coalescing loses nothing).
func (w *wsConn) acker(ctx context.Context) {
	t := time.NewTicker(w.s.cfg.AckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.ackWake:
		}
		w.applyAck(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *wsConn) applyAck(ctx context.Context) {
	want := w.ackWant.Load()
	if want <= w.ackDone.Load() {
		return
	}
	if err := w.s.svc.Ack(ctx, w.p, want); err != nil {
		if ctx.Err() == nil {
			w.s.log.Warn("websocket: ack", "device", w.p.Device, "err", err)
		}
		return
	}
	w.ackDone.Store(want)
	w.s.met.acks.Add(1)
}

// flushAck applies the last ack after the connection ended.
func (w *wsConn) flushAck() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.applyAck(ctx)
}
