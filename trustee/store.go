package trustee

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/accesslog"
	"golang.org/x/crypto/cryptobyte"
)

// Key store errors.
var (
	ErrNoKey        = errors.New("trustee: no key for this period")
	ErrKeyDestroyed = errors.New("trustee: period key destroyed")
	ErrKeyExists    = errors.New("trustee: period key already exists")
)

// Store holds a trustee's escrow private keys per key period. Implementations
// (store/sqlite, store/postgres, MemStore) must make DestroyPeriodKey final:
// once it returns, no copy of the key remains in the store (rows deleted and
// the space overwritten or vacuumed), PeriodKey returns ErrKeyDestroyed
// forever, and Raw shows no trace of it. PutPeriodKey returns only after the
// key is durable.
type Store interface {
	PutPeriodKey(ctx context.Context, period uint32, priv []byte) error
	PeriodKey(ctx context.Context, period uint32) ([]byte, error)
	DestroyPeriodKey(ctx context.Context, period uint32) error
	// Periods lists live (not destroyed) periods, ascending.
	Periods(ctx context.Context) ([]uint32, error)
	// Destroyed reports whether period's key was destroyed.
	Destroyed(ctx context.Context, period uint32) (bool, error)
	// LatestCheckpoint returns the largest access-log checkpoint the trustee
	// accepted (nil if none); SetLatestCheckpoint durably replaces it.
	LatestCheckpoint(ctx context.Context) ([]byte, error)
	SetLatestCheckpoint(ctx context.Context, raw []byte) error
}

// MemStore is an in-memory Store.
type MemStore struct {
	mu         sync.Mutex
	checkpoint []byte
	keys       map[uint32][]byte
	destroyed  map[uint32]bool
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{keys: map[uint32][]byte{}, destroyed: map[uint32]bool{}}
}

func (m *MemStore) PutPeriodKey(_ context.Context, period uint32, priv []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.destroyed[period] {
		return fmt.Errorf("%w: period %d", ErrKeyDestroyed, period)
	}
	if _, ok := m.keys[period]; ok {
		return fmt.Errorf("%w: period %d", ErrKeyExists, period)
	}
	m.keys[period] = slices.Clone(priv)
	return nil
}

func (m *MemStore) PeriodKey(_ context.Context, period uint32) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.destroyed[period] {
		return nil, fmt.Errorf("%w: period %d", ErrKeyDestroyed, period)
	}
	k, ok := m.keys[period]
	if !ok {
		return nil, fmt.Errorf("%w: period %d", ErrNoKey, period)
	}
	return slices.Clone(k), nil
}

func (m *MemStore) DestroyPeriodKey(_ context.Context, period uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[period]; ok {
		clear(k) // overwrite the only copy before dropping it
		delete(m.keys, period)
	}
	m.destroyed[period] = true
	return nil
}

func (m *MemStore) Periods(_ context.Context) ([]uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []uint32
	for p := range m.keys {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

func (m *MemStore) Destroyed(_ context.Context, period uint32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.destroyed[period], nil
}

func (m *MemStore) LatestCheckpoint(_ context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.checkpoint), nil
}

func (m *MemStore) SetLatestCheckpoint(_ context.Context, raw []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkpoint = slices.Clone(raw)
	return nil
}

// Raw returns every byte the store holds (for destruction tests: a
// destroyed key must not appear in it).
func (m *MemStore) Raw() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []byte
	for _, k := range m.keys {
		out = append(out, k...)
	}
	return out
}

// RotateKey generates and stores the X-Wing key of period and returns its
// public key (to be published in the next policy and as a TrusteeKey log
// entry).
func RotateKey(ctx context.Context, s Store, period uint32, rand io.Reader) ([]byte, error) {
	sk, pk, err := xwing.GenerateKeyPairPacked(rand)
	if err != nil {
		return nil, fmt.Errorf("trustee: generating period %d key: %w", period, err)
	}
	if err := s.PutPeriodKey(ctx, period, sk); err != nil {
		return nil, err
	}
	clear(sk)
	return pk, nil
}

// Destruction is a trustee's signed statement that it destroyed the key of
// a period (A6). It is a promise kept on the record, not a proof of erasure;
// the Store contract and its tests are what make erasure real.
type Destruction struct {
	Trustee   string
	Period    uint32
	Time      uint64
	Signature []byte
}

func (d *Destruction) tbs() []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte("daylight key destruction v1\x00"))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(d.Trustee)) })
	b.AddUint32(d.Period)
	b.AddUint64(d.Time)
	return b.BytesOrPanic()
}

// Verify checks the statement against the trustee's signing key.
func (d *Destruction) Verify(key ed25519.PublicKey) bool {
	return ed25519.Verify(key, d.tbs(), d.Signature)
}

// DestroyExpired destroys every live period key whose period ended more than
// the policy's lookback before now, and returns signed statements for them.
func (t *Trustee) DestroyExpired(ctx context.Context, now uint64) ([]Destruction, error) {
	periods, err := t.cfg.Store.Periods(ctx)
	if err != nil {
		return nil, err
	}
	var out []Destruction
	for _, p := range periods {
		if !t.expired(p, now) {
			continue
		}
		if err := t.cfg.Store.DestroyPeriodKey(ctx, p); err != nil {
			return out, err
		}
		d := Destruction{Trustee: t.cfg.ID, Period: p, Time: now}
		d.Signature = ed25519.Sign(t.cfg.SigningKey, d.tbs())
		out = append(out, d)
	}
	return out, nil
}

// expired reports whether period p ended more than Lookback before now.
func (t *Trustee) expired(p uint32, now uint64) bool {
	pol := t.cfg.Policy
	end := pol.PeriodStart(p) + pol.Periods.Length
	return now >= end && now-end > pol.Budgets.Lookback
}

var _ Store = (*MemStore)(nil)

// KeyEntry returns the signed TrusteeKey access-log entry that publishes
// this trustee's public key for a period and the date by which the private
// key will be destroyed (end of the period plus the policy's lookback).
func (t *Trustee) KeyEntry(period uint32, pub []byte, now uint64) (*accesslog.TrusteeKey, error) {
	pol := t.cfg.Policy
	start := pol.PeriodStart(period)
	e := &accesslog.TrusteeKey{
		Trustee: t.cfg.ID, Period: uint64(period), PublicKey: pub,
		NotBefore: start, NotAfter: start + pol.Periods.Length,
		DestroyBy: start + pol.Periods.Length + pol.Budgets.Lookback, Time: now,
	}
	msg, err := e.SignedMessage()
	if err != nil {
		return nil, err
	}
	e.Signature = ed25519.Sign(t.cfg.SigningKey, msg)
	return e, nil
}
