package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/daylight-im/daylight/api"
)

// Conn is one WebSocket connection to the server: pushed pages arrive on
// Pages, sends are pipelined (each waits for its own receipt), acks are
// frames. It does not reconnect; Receive does.
type Conn struct {
	c       *websocket.Conn
	pages   chan api.Page
	done    chan struct{}
	closing chan struct{} // closed by Close: readLoop stops handing out pages
	once    sync.Once
	err     error // why the connection ended, set before done closes

	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]chan api.Frame
}

// Dial opens a WebSocket connection that pushes the queue after the cursor.
func (c *Client) Dial(ctx context.Context, after uint64) (*Conn, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	u := *c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = "/v1/ws"
	u.RawQuery = api.QueryAfter + "=" + strconv.FormatUint(after, 10)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient: c.hc, HTTPHeader: h, Subprotocols: []string{api.WebSocketSubprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			if resp.StatusCode == http.StatusUnauthorized {
				c.dropToken()
			}
			return nil, &api.Error{Status: resp.StatusCode, ErrorBody: api.ErrorBody{Code: api.CodeUnavailable, Message: "websocket refused: " + resp.Status}}
		}
		return nil, fmt.Errorf("transport: websocket: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	cn := &Conn{c: ws, pages: make(chan api.Page, 16), done: make(chan struct{}), closing: make(chan struct{}), waiting: map[uint64]chan api.Frame{}}
	// The first frame is "ready" (or an error).
	_, b, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("transport: websocket: %w", err)
	}
	var f api.Frame
	if err := json.Unmarshal(b, &f); err != nil || f.Type != api.FrameReady {
		ws.CloseNow()
		if f.Error != nil {
			return nil, &api.Error{Status: http.StatusUnauthorized, ErrorBody: *f.Error}
		}
		return nil, errors.New("transport: websocket: no ready frame")
	}
	go cn.readLoop()
	return cn, nil
}

func (cn *Conn) readLoop() {
	defer close(cn.done)
	defer close(cn.pages)
	for {
		_, b, err := cn.c.Read(context.Background())
		if err != nil {
			cn.fail(err)
			return
		}
		var f api.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			cn.fail(fmt.Errorf("transport: malformed frame: %w", err))
			cn.c.Close(websocket.StatusPolicyViolation, "malformed frame")
			return
		}
		switch f.Type {
		case api.FrameDeliveries:
			if f.Page != nil {
				select {
				case cn.pages <- *f.Page:
				case <-cn.closing:
					cn.fail(errors.New("transport: connection closed"))
					cn.c.CloseNow()
					return
				}
			}
		case api.FrameReceipt, api.FrameError:
			cn.mu.Lock()
			ch := cn.waiting[f.ID]
			delete(cn.waiting, f.ID)
			cn.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		}
	}
}

func (cn *Conn) fail(err error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err == nil {
		cn.err = err
	}
	for id, ch := range cn.waiting {
		close(ch)
		delete(cn.waiting, id)
	}
}

// Pages delivers pushed pages in queue order; it is closed when the
// connection ends (Err tells why). Process a page, then Ack its Cursor. The
// caller must keep draining Pages: frames are read in order, so an undrained
// channel also holds back the receipts of Send.
func (cn *Conn) Pages() <-chan api.Page { return cn.pages }

// Done is closed when the connection has ended.
func (cn *Conn) Done() <-chan struct{} { return cn.done }

// Err returns why the connection ended (nil while open).
func (cn *Conn) Err() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

func (cn *Conn) write(ctx context.Context, f api.Frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return cn.c.Write(ctx, websocket.MessageText, b)
}

// Send sends msg (and, for a commit that adds members, welcome) over the
// connection and waits for its receipt. Safe for concurrent use; sends are
// pipelined.
func (cn *Conn) Send(ctx context.Context, msg, welcome []byte) (api.Receipt, error) {
	ch := make(chan api.Frame, 1)
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return api.Receipt{}, fmt.Errorf("transport: connection closed: %w", err)
	}
	cn.nextID++
	id := cn.nextID
	cn.waiting[id] = ch
	cn.mu.Unlock()
	if err := cn.write(ctx, api.Frame{Type: api.FrameSend, ID: id, Send: &api.SendRequest{Message: msg, Welcome: welcome}}); err != nil {
		cn.mu.Lock()
		delete(cn.waiting, id)
		cn.mu.Unlock()
		return api.Receipt{}, fmt.Errorf("transport: send: %w", err)
	}
	select {
	case f, ok := <-ch:
		if !ok {
			return api.Receipt{}, fmt.Errorf("transport: connection closed before the receipt (the message may have been accepted; resending it answers %s)", api.CodeReplay)
		}
		if f.Error != nil {
			return api.Receipt{}, &api.Error{Status: 0, ErrorBody: *f.Error}
		}
		if f.Receipt == nil {
			return api.Receipt{}, errors.New("transport: receipt frame without a receipt")
		}
		return *f.Receipt, nil
	case <-ctx.Done():
		cn.mu.Lock()
		delete(cn.waiting, id)
		cn.mu.Unlock()
		return api.Receipt{}, ctx.Err()
	}
}

// Ack acknowledges the queue up to cursor (the server applies acks within
// its ack interval; they are cumulative).
func (cn *Conn) Ack(ctx context.Context, cursor uint64) error {
	return cn.write(ctx, api.Frame{Type: api.FrameAck, Cursor: cursor})
}

// Close closes the connection (pages not yet taken from Pages are dropped;
// they were not acked, so the server delivers them again).
func (cn *Conn) Close() error {
	cn.once.Do(func() { close(cn.closing) })
	err := cn.c.Close(websocket.StatusNormalClosure, "")
	<-cn.done
	return err
}

// ReceiveConfig configures Receive.
type ReceiveConfig struct {
	// After is the cursor to resume from (the last one processed).
	After uint64
	// Handle processes one page; Receive acks the page's cursor after Handle
	// returns nil. An error from Handle stops Receive and is returned. Every
	// delivery is handed over once per Receive call: deliveries at or below the
	// last processed cursor (re-pushed after a reconnect) are dropped.
	Handle func(ctx context.Context, p api.Page) error
	// MinBackoff and MaxBackoff bound the reconnection delay (default 200 ms, 10 s).
	MinBackoff, MaxBackoff time.Duration
	// LongPollAfter is how many consecutive WebSocket failures switch to HTTP
	// long-polling for LongPollFor (defaults 3 and 1 minute) before trying the
	// WebSocket again.
	LongPollAfter int
	LongPollFor   time.Duration
	// OnState, if set, reports transitions: "websocket", "long-poll",
	// "reconnecting" (with the error).
	OnState func(state string, err error)
}

// Receive delivers this device's queue to cfg.Handle until ctx is done,
// over WebSocket, reconnecting with backoff, and falling back to HTTP
// long-poll when WebSockets keep failing (a proxy that does not pass them).
// It returns ctx.Err(), the handler's error, or a permanent error (the
// device was revoked).
func (c *Client) Receive(ctx context.Context, cfg ReceiveConfig) error {
	if cfg.Handle == nil {
		return errors.New("transport: ReceiveConfig.Handle is required")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.LongPollAfter <= 0 {
		cfg.LongPollAfter = 3
	}
	if cfg.LongPollFor <= 0 {
		cfg.LongPollFor = time.Minute
	}
	state := func(s string, err error) {
		if cfg.OnState != nil {
			cfg.OnState(s, err)
		}
	}
	cursor := cfg.After
	// handle drops what was already processed and calls the handler.
	handle := func(p api.Page) error {
		var fresh []api.Delivery
		for _, d := range p.Deliveries {
			if d.Cursor > cursor {
				fresh = append(fresh, d)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		if err := cfg.Handle(ctx, api.Page{Deliveries: fresh, Cursor: p.Cursor}); err != nil {
			return &handlerError{err}
		}
		cursor = max(cursor, p.Cursor)
		return nil
	}
	failures := 0
	backoff := cfg.MinBackoff
	for ctx.Err() == nil {
		if failures >= cfg.LongPollAfter {
			state("long-poll", nil)
			err := c.longPoll(ctx, &cursor, cfg.LongPollFor, handle)
			var he *handlerError
			if errors.As(err, &he) {
				return he.err
			}
			failures = 0
			if permanent(err) {
				return err
			}
			if err != nil && ctx.Err() == nil {
				state("reconnecting", err)
				sleep(ctx, backoff)
				backoff = min(2*backoff, cfg.MaxBackoff)
			}
			continue
		}
		cn, err := c.Dial(ctx, cursor)
		if permanent(err) {
			return err
		}
		if err != nil {
			failures++
			state("reconnecting", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, cfg.MaxBackoff)
			continue
		}
		state("websocket", nil)
		failures, backoff = 0, cfg.MinBackoff
		err = func() error {
			defer cn.c.CloseNow()
			for {
				select {
				case <-ctx.Done():
					return nil
				case p, ok := <-cn.pages:
					if !ok {
						return cn.Err()
					}
					if err := handle(p); err != nil {
						return err
					}
					if err := cn.Ack(ctx, cursor); err != nil {
						return err
					}
				}
			}
		}()
		var he *handlerError
		if errors.As(err, &he) {
			cn.Close()
			return he.err
		}
		cn.once.Do(func() { close(cn.closing) })
		if ctx.Err() == nil {
			failures++
			state("reconnecting", err)
			sleep(ctx, backoff)
		}
	}
	return ctx.Err()
}

// permanent reports errors no retry can fix: the device is revoked or its
// key is no longer accepted.
func permanent(err error) bool {
	return api.HasCode(err, api.CodeRevoked) || api.HasCode(err, api.CodeForbidden) || api.HasCode(err, api.CodeBadSignature)
}

type handlerError struct{ err error }

func (h *handlerError) Error() string { return h.err.Error() }

// longPoll fetches with wait until d has passed.
func (c *Client) longPoll(ctx context.Context, cursor *uint64, d time.Duration, handle func(api.Page) error) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		p, err := c.Fetch(ctx, *cursor, 0, 25*time.Second)
		if err != nil {
			return err
		}
		if err := handle(p); err != nil {
			return err
		}
		if len(p.Deliveries) > 0 {
			if err := c.Ack(ctx, *cursor); err != nil {
				return err
			}
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
