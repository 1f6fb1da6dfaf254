package ds

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are counters since the service started (for /metrics).
type Stats struct {
	Batches       uint64 // writer transactions committing messages
	Accepted      uint64 // messages accepted (durable)
	Rejected      uint64 // messages refused inside the writer (stale epoch, replay, not a member, ...)
	Acks          uint64 // acks stored
	FailedBatches uint64 // writer transactions that failed (nothing written)
	MaxBatch      uint64 // largest batch so far
}

type stats struct {
	batches, accepted, rejected, acks, failed, maxBatch atomic.Uint64
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	return Stats{
		Batches: s.ctr.batches.Load(), Accepted: s.ctr.accepted.Load(), Rejected: s.ctr.rejected.Load(),
		Acks: s.ctr.acks.Load(), FailedBatches: s.ctr.failed.Load(), MaxBatch: s.ctr.maxBatch.Load(),
	}
}

// Config configures a Service. Store and Validator are required; every other
// field has a documented default.
type Config struct {
	Store     Store
	Validator GroupValidator
	Notifier  Notifier         // default: a LocalNotifier
	Logger    *slog.Logger     // default: discard
	Now       func() time.Time // default: time.Now
	Rand      io.Reader        // default: crypto/rand.Reader

	ChallengeTTL time.Duration // default 2 minutes
	TokenTTL     time.Duration // default 1 hour
	// Retention is the published retention: no message or blob is kept longer,
	// acked or not. Default 30 days.
	Retention time.Duration

	MaxMessageBytes     int   // default 1 MiB
	MaxBlobBytes        int64 // default 100 MiB
	BlobChunkBytes      int   // default 256 KiB
	MaxKeyPackageUpload int   // KeyPackages per upload, default 100
	// MaxBatch bounds how many messages one group-commit transaction holds
	// (default 1024).
	MaxBatch int

	// Franking stamps accepted application messages and refuses suspended
	// accounts (ds/franking.go, docs/franking.md). Zero value: no stamps, no
	// suspensions.
	Franking Franking
}

// Service is the delivery service. Its methods are safe for concurrent use.
type Service struct {
	cfg    Config
	store  Store
	val    GroupValidator
	notify Notifier
	log    *slog.Logger
	now    func() time.Time
	rand   io.Reader

	ctr     stats
	reqs    chan *appendReq
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.RWMutex
	closed  bool

	holds holdCache // active retention holds, read once per HoldCacheTTL instead of per send
}

// appendReq is one request to the writer: a message to accept or an ack.
type appendReq struct {
	a    Append
	ack  *DeviceAck
	done chan AppendResult
}

// New returns a Service and starts its writer goroutine (the one goroutine
// that commits accepted messages, in batches). Call Close to stop it.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Validator == nil {
		return nil, errors.New("ds: Config.Store and Config.Validator are required")
	}
	if cfg.Notifier == nil {
		cfg.Notifier = NewLocalNotifier()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ChallengeTTL, 2*time.Minute)
	def(&cfg.TokenTTL, time.Hour)
	def(&cfg.Retention, 30*24*time.Hour)
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 1 << 20
	}
	if cfg.MaxBlobBytes <= 0 {
		cfg.MaxBlobBytes = 100 << 20
	}
	if cfg.BlobChunkBytes <= 0 {
		cfg.BlobChunkBytes = 256 << 10
	}
	if cfg.MaxKeyPackageUpload <= 0 {
		cfg.MaxKeyPackageUpload = 100
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	s := &Service{
		cfg: cfg, store: cfg.Store, val: cfg.Validator, notify: cfg.Notifier,
		log: cfg.Logger, now: cfg.Now, rand: cfg.Rand,
		reqs: make(chan *appendReq, 4*cfg.MaxBatch),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// Config returns the effective configuration (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// Notifier returns the notifier the service wakes devices with.
func (s *Service) Notifier() Notifier { return s.notify }

// Close stops the writer after the batches already queued are committed. It
// does not close the Store.
func (s *Service) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.closeMu.Unlock()
	<-s.done
	return nil
}

// submit hands an Append to the writer and waits for its durable outcome.
func (s *Service) submit(ctx context.Context, a Append) (AppendResult, error) {
	return s.submitReq(ctx, &appendReq{a: a})
}

func (s *Service) submitReq(ctx context.Context, r *appendReq) (AppendResult, error) {
	r.done = make(chan AppendResult, 1)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return AppendResult{}, ctx.Err()
	}
	s.closeMu.RUnlock()
	select {
	case res := <-r.done:
		return res, res.Err
	case <-ctx.Done():
		// The message may still be accepted; a retry of the same bytes gets
		// ErrReplay, which tells the client it was.
		return AppendResult{}, ctx.Err()
	}
}

// writer is the single goroutine that commits accepted messages: it takes
// every request waiting (up to MaxBatch) and commits them in one transaction
// (group commit), then answers each request only after that commit is durable.
func (s *Service) writer() {
	defer close(s.done)
	batch := make([]*appendReq, 0, s.cfg.MaxBatch)
	items := make([]Append, 0, s.cfg.MaxBatch)
	for {
		batch, items = batch[:0], items[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.stop:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				s.commit(batch, items)
			}
			return
		}
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch, items)
	}
}

func (s *Service) commit(batch []*appendReq, items []Append) {
	var acks []DeviceAck
	var ackReqs, msgReqs []*appendReq
	for _, r := range batch {
		if r.ack != nil {
			acks = append(acks, *r.ack)
			ackReqs = append(ackReqs, r)
		} else {
			items = append(items, r.a)
			msgReqs = append(msgReqs, r)
		}
	}
	if len(acks) > 0 {
		err := s.store.Ack(context.Background(), acks)
		if err != nil {
			s.log.Error("ds: ack batch failed", "acks", len(acks), "err", err)
			err = fmt.Errorf("ds: storing ack: %w", err)
		}
		if err == nil {
			s.ctr.acks.Add(uint64(len(acks)))
		}
		for _, r := range ackReqs {
			r.done <- AppendResult{Err: err}
		}
	}
	if len(items) == 0 {
		return
	}
	res, err := s.store.AppendBatch(context.Background(), items)
	if err == nil && len(res) != len(items) {
		err = fmt.Errorf("ds: store returned %d results for %d messages", len(res), len(items))
	}
	if err != nil {
		s.ctr.failed.Add(1)
		s.log.Error("ds: append batch failed", "messages", len(items), "err", err)
		for _, r := range msgReqs {
			r.done <- AppendResult{Err: fmt.Errorf("ds: storing message: %w", err)}
		}
		return
	}
	s.ctr.batches.Add(1)
	if n := uint64(len(items)); n > s.ctr.maxBatch.Load() {
		s.ctr.maxBatch.Store(n) // only the writer goroutine stores
	}
	var wake []DeviceID
	seen := make(map[DeviceID]struct{})
	for i, r := range msgReqs {
		r.done <- res[i]
		if res[i].Err != nil {
			s.ctr.rejected.Add(1)
			continue
		}
		s.ctr.accepted.Add(1)
		for _, d := range res[i].Recipients {
			if _, ok := seen[d]; !ok {
				seen[d] = struct{}{}
				wake = append(wake, d)
			}
		}
	}
	if len(wake) > 0 {
		if err := s.notify.Notify(context.Background(), wake); err != nil {
			s.log.Warn("ds: notify failed", "devices", len(wake), "err", err)
		}
	}
}

// GC runs one maintenance pass: deletes messages every recipient acked,
// anything older than the published retention, expired challenges, tokens and
// KeyPackages, and abandoned uploads (older than a day).
func (s *Service) GC(ctx context.Context) (int, error) {
	now := s.now()
	n, err := s.store.GC(ctx, now, now.Add(-s.cfg.Retention), now.Add(-24*time.Hour))
	if err != nil {
		return n, err
	}
	m, err := s.PurgeRetained(ctx) // retention.go
	return n + m, err
}

// RunMaintenance calls GC every interval until ctx is done.
func (s *Service) RunMaintenance(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.GC(ctx); err != nil {
				s.log.Error("ds: gc", "err", err)
			} else if n > 0 {
				s.log.Debug("ds: gc", "deleted", n)
			}
		}
	}
}

// Check verifies the store's invariants (daylightd check).
func (s *Service) Check(ctx context.Context) ([]string, error) { return s.store.Check(ctx) }
