package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/daylight-im/daylight/ds"
)

// Notifier is a ds.Notifier for several daylightd replicas over one
// database: Notify wakes local subscribers at once and sends a NOTIFY that
// every other replica's LISTEN connection turns into local wake-ups. Notify
// never blocks on the database: device ids are coalesced and sent by a
// background goroutine. Wake-ups are hints; after a reconnect every local
// subscriber is woken, since some may have been missed.
type Notifier struct {
	local   *ds.LocalNotifier
	cfg     *pgx.ConnConfig
	channel string
	self    string
	log     *slog.Logger

	mu      sync.Mutex
	pending map[ds.DeviceID]struct{}
	kick    chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{}
}

var _ ds.Notifier = (*Notifier)(nil)

// maxPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxPayload = 7000

// NewNotifier starts listening on the store's database. Close stops it.
func NewNotifier(st *Store, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ch := "daylight_wake"
	if st.schema != "" {
		ch += "_" + st.schema
	}
	id := make([]byte, 8)
	rand.Read(id)
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		local: ds.NewLocalNotifier(), cfg: st.cfg.Copy(), channel: ch, self: hex.EncodeToString(id), log: logger,
		pending: map[ds.DeviceID]struct{}{}, kick: make(chan struct{}, 1), cancel: cancel, ready: make(chan struct{}),
	}
	n.wg.Add(2)
	go n.listen(ctx)
	go n.send(ctx)
	return n
}

// Ready is closed once the first LISTEN is in place (tests wait on it).
func (n *Notifier) Ready() <-chan struct{} { return n.ready }

// Close stops both goroutines.
func (n *Notifier) Close() error {
	n.cancel()
	n.wg.Wait()
	return nil
}

// Notify implements ds.Notifier.
func (n *Notifier) Notify(_ context.Context, devices []ds.DeviceID) error {
	n.local.Wake(devices)
	n.mu.Lock()
	for _, d := range devices {
		n.pending[d] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return nil
}

// Subscribe implements ds.Notifier.
func (n *Notifier) Subscribe(device ds.DeviceID) (<-chan struct{}, func()) {
	return n.local.Subscribe(device)
}

func (n *Notifier) send(ctx context.Context) {
	defer n.wg.Done()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		n.mu.Lock()
		ids := make([]ds.DeviceID, 0, len(n.pending))
		for d := range n.pending {
			ids = append(ids, d)
		}
		clear(n.pending)
		n.mu.Unlock()
		for _, payload := range n.payloads(ids) {
			for attempt := 0; ; attempt++ {
				if conn == nil || conn.IsClosed() {
					c, err := pgx.ConnectConfig(ctx, n.cfg)
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						n.log.Warn("store/postgres: notifier connect", "err", err)
						time.Sleep(min(time.Duration(attempt+1)*100*time.Millisecond, 2*time.Second))
						continue
					}
					conn = c
				}
				if _, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, n.channel, payload); err != nil {
					if ctx.Err() != nil {
						return
					}
					n.log.Warn("store/postgres: notify", "err", err)
					conn.Close(context.Background())
					conn = nil
					continue
				}
				break
			}
		}
	}
}

// payloads encodes "<replica>|id,id,..." chunks.
func (n *Notifier) payloads(ids []ds.DeviceID) []string {
	var out []string
	var b strings.Builder
	for _, d := range ids {
		if b.Len() == 0 {
			b.WriteString(n.self)
			b.WriteByte('|')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(d), 10))
		if b.Len() > maxPayload {
			out = append(out, b.String())
			b.Reset()
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func (n *Notifier) listen(ctx context.Context) {
	defer n.wg.Done()
	first := true
	for attempt := 0; ctx.Err() == nil; attempt++ {
		conn, err := pgx.ConnectConfig(ctx, n.cfg)
		if err == nil {
			_, err = conn.Exec(ctx, `LISTEN "`+n.channel+`"`)
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			if ctx.Err() == nil {
				n.log.Warn("store/postgres: listen", "err", err)
				time.Sleep(min(time.Duration(attempt+1)*100*time.Millisecond, 2*time.Second))
			}
			continue
		}
		attempt = 0
		if first {
			close(n.ready)
			first = false
		} else {
			n.local.WakeAll()
		}
		for {
			note, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			from, list, ok := strings.Cut(note.Payload, "|")
			if !ok || from == n.self {
				continue
			}
			var ids []ds.DeviceID
			for _, f := range strings.Split(list, ",") {
				if v, err := strconv.ParseInt(f, 10, 64); err == nil {
					ids = append(ids, ds.DeviceID(v))
				}
			}
			n.local.Wake(ids)
		}
		conn.Close(context.Background())
	}
}
