package ds

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Prospective ciphertext retention for a logged warrant (docs/lawful-access.md,
// "Retention"; docs/retention.md).
//
// Normally the DS deletes a message once every recipient acked it. From the
// moment an authority presents a warrant whose commitment is in the access log
// (server.RetainedHandler checks that), the DS keeps a copy of every
// application message sent to a group one of the warrant's targets is a member
// of, with its acceptance time, until the hold's end (the warrant window's end
// plus the policy's retention grace); then the copies are purged (GC). Nothing
// sent before the warrant was presented is kept (no historic retention), and
// the copies are ciphertext: only the escrow records the trustees release
// open them.

// RetentionHold is one presented warrant's retention order.
type RetentionHold struct {
	Commitment [32]byte  // the warrant's commitment (accesslog.WarrantCommitment)
	Targets    []string  // accounts whose groups are retained
	From       time.Time // when the warrant was presented
	Until      time.Time // window end + retention grace: copies are purged after it
}

// RetainedMessage is the copy of one application message kept for a hold.
type RetainedMessage struct {
	Commitment [32]byte
	GroupID    []byte
	Epoch      uint64
	Received   time.Time // the DS acceptance time
	Data       []byte    // the MLSMessage as sent (a PrivateMessage)
	Digest     [32]byte  // SHA-256 of Data
}

// RetentionStore holds retention holds and retained copies. store/sqlite
// implements it; the Service finds it on its Store with a type assertion, so
// a Store without it refuses PresentWarrant (ErrNotFound) and retains nothing.
type RetentionStore interface {
	// PutRetentionHold records h; presenting the same commitment again keeps
	// the first From and the later Until.
	PutRetentionHold(ctx context.Context, h RetentionHold) (RetentionHold, error)
	// ActiveRetentionHolds lists the holds with From <= now < Until.
	ActiveRetentionHolds(ctx context.Context, now time.Time) ([]RetentionHold, error)
	// RetainMessage stores m once per (commitment, digest).
	RetainMessage(ctx context.Context, m RetainedMessage, until time.Time) error
	// RetainedMessages lists the copies kept for commitment received in
	// [from, to), by acceptance time.
	RetainedMessages(ctx context.Context, commitment [32]byte, from, to time.Time) ([]RetainedMessage, error)
	// PurgeRetained deletes the copies and holds whose Until is before now.
	PurgeRetained(ctx context.Context, now time.Time) (int, error)
}

func (s *Service) retentionStore() (RetentionStore, error) {
	rs, ok := s.store.(RetentionStore)
	if !ok {
		return nil, fmt.Errorf("ds: this store keeps no retained ciphertext: %w", ErrNotFound)
	}
	return rs, nil
}

// PresentWarrant starts (or extends) the retention hold of a warrant whose
// commitment and scope the caller verified against the access log. From is
// now; until is the window end plus the policy's grace, and must be later
// than now.
func (s *Service) PresentWarrant(ctx context.Context, commitment [32]byte, targets []string, until time.Time) (RetentionHold, error) {
	rs, err := s.retentionStore()
	if err != nil {
		return RetentionHold{}, err
	}
	now := s.now()
	if len(targets) == 0 {
		return RetentionHold{}, fmt.Errorf("ds: retention hold without targets: %w", ErrInvalidInput)
	}
	if !until.After(now) {
		return RetentionHold{}, fmt.Errorf("ds: retention hold ended at %s: %w", until.UTC().Format(time.RFC3339), ErrForbidden)
	}
	t := slices.Clone(targets)
	slices.Sort(t)
	h, err := rs.PutRetentionHold(ctx, RetentionHold{Commitment: commitment, Targets: slices.Compact(t), From: now, Until: until})
	s.holds.invalidate() // even on error: the store may have kept it
	return h, err
}

// HoldCacheTTL bounds how long the DS reuses its list of active retention
// holds. A hold presented through this Service takes effect for the next
// message at once (the cache is dropped); one written to the store by another
// process is seen within HoldCacheTTL.
const HoldCacheTTL = time.Second

// holdCache keeps the active retention holds between sends: the list is
// almost always empty, and reading it from the store for every accepted
// message was a tenth of the server's CPU (docs/benchmarks.md).
type holdCache struct {
	mu     sync.Mutex
	holds  []RetentionHold
	loaded time.Time // the Service clock's time of the read; zero: no list
	gen    uint64    // bumped by invalidate, so a read racing a presentation is not kept
}

func (c *holdCache) invalidate() {
	c.mu.Lock()
	c.loaded, c.holds = time.Time{}, nil
	c.gen++
	c.mu.Unlock()
}

// activeHolds returns the holds active at at (From <= at < Until), from the
// cache when it is fresh.
func (s *Service) activeHolds(ctx context.Context, rs RetentionStore, at time.Time) ([]RetentionHold, error) {
	now := s.now()
	c := &s.holds
	c.mu.Lock()
	fresh := !c.loaded.IsZero() && !now.Before(c.loaded) && now.Sub(c.loaded) < HoldCacheTTL
	cached, gen := c.holds, c.gen
	c.mu.Unlock()
	if !fresh {
		// Read everything not yet ended as of the read, then filter by at
		// below, so the list also serves sends stamped a little later.
		all, err := rs.ActiveRetentionHolds(ctx, now)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.gen == gen {
			c.holds, c.loaded = all, now
		}
		c.mu.Unlock()
		cached = all
	}
	var out []RetentionHold
	for _, h := range cached {
		if !at.Before(h.From) && at.Before(h.Until) {
			out = append(out, h)
		}
	}
	return out, nil
}

// Retained returns the copies kept under commitment's hold with acceptance
// time in [from, to).
func (s *Service) Retained(ctx context.Context, commitment [32]byte, from, to time.Time) ([]RetainedMessage, error) {
	rs, err := s.retentionStore()
	if err != nil {
		return nil, err
	}
	return rs.RetainedMessages(ctx, commitment, from, to)
}

// retain keeps a copy of an accepted application message for every active
// hold naming an account with a device in the group. It is called after the
// message was sequenced; a failure is logged, not returned to the sender (the
// message was delivered).
func (s *Service) retain(ctx context.Context, groupID []byte, epoch uint64, at time.Time, msg []byte) {
	rs, ok := s.store.(RetentionStore)
	if !ok {
		return
	}
	if err := s.retainWith(ctx, rs, groupID, epoch, at, msg); err != nil {
		s.log.Error("ds: retention copy failed", "err", err)
	}
}

func (s *Service) retainWith(ctx context.Context, rs RetentionStore, groupID []byte, epoch uint64, at time.Time, msg []byte) error {
	holds, err := s.activeHolds(ctx, rs, at)
	if err != nil || len(holds) == 0 {
		return err
	}
	devs, err := s.store.GroupMembers(ctx, groupID)
	if err != nil {
		return err
	}
	accounts := map[string]bool{}
	for _, id := range devs {
		d, err := s.store.Device(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		accounts[d.Username] = true
	}
	digest := sha256.Sum256(msg)
	for _, h := range holds {
		if !slices.ContainsFunc(h.Targets, func(t string) bool { return accounts[t] }) {
			continue
		}
		m := RetainedMessage{Commitment: h.Commitment, GroupID: groupID, Epoch: epoch, Received: at, Data: msg, Digest: digest}
		if err := rs.RetainMessage(ctx, m, h.Until); err != nil {
			return err
		}
	}
	return nil
}

// PurgeRetained deletes retained copies and holds past their end (GC).
func (s *Service) PurgeRetained(ctx context.Context) (int, error) {
	rs, ok := s.store.(RetentionStore)
	if !ok {
		return 0, nil
	}
	return rs.PurgeRetained(ctx, s.now())
}
