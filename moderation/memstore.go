package moderation

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemStore is an in-memory Store for tests (nothing is durable).
type MemStore struct {
	mu          sync.Mutex
	moderators  map[string]Moderator
	sessions    map[[32]byte]Session
	reports     map[string]Report
	order       []string
	reportKeys  map[string]bool
	rejections  map[string]int64
	audit       []AuditEntry
	suspensions map[string]Suspension
	warnings    map[string][]Warning
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{
		moderators: map[string]Moderator{}, sessions: map[[32]byte]Session{},
		reports: map[string]Report{}, reportKeys: map[string]bool{}, rejections: map[string]int64{},
		suspensions: map[string]Suspension{}, warnings: map[string][]Warning{},
	}
}

func (m *MemStore) AddModerator(_ context.Context, mod Moderator) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.moderators[mod.Name]; ok {
		return fmt.Errorf("moderation: moderator %q: %w", mod.Name, ErrExists)
	}
	m.moderators[mod.Name] = mod
	return nil
}

func (m *MemStore) Moderator(_ context.Context, name string) (Moderator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mod, ok := m.moderators[name]
	if !ok {
		return Moderator{}, fmt.Errorf("moderation: moderator %q: %w", name, ErrNotFound)
	}
	return mod, nil
}

func (m *MemStore) Moderators(context.Context) ([]Moderator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.moderators))
	slices.SortFunc(out, func(a, b Moderator) int { return cmpString(a.Name, b.Name) })
	return out, nil
}

func (m *MemStore) PutSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.Hash] = s
	return nil
}

func (m *MemStore) Session(_ context.Context, hash [32]byte, now time.Time) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[hash]
	if !ok || !now.Before(s.Expires) {
		return Session{}, fmt.Errorf("moderation: session: %w", ErrNotFound)
	}
	return s, nil
}

func (m *MemStore) DeleteSession(_ context.Context, hash [32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, hash)
	return nil
}

func (m *MemStore) AddReport(_ context.Context, r Report) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := r.Reporter + "\x00" + string(r.Key[:])
	if m.reportKeys[k] {
		return fmt.Errorf("moderation: %q already reported this message: %w", r.Reporter, ErrExists)
	}
	if _, ok := m.reports[r.ID]; ok {
		return fmt.Errorf("moderation: report %s: %w", r.ID, ErrExists)
	}
	m.reportKeys[k] = true
	m.reports[r.ID] = r
	m.order = append(m.order, r.ID)
	return nil
}

func (m *MemStore) Report(_ context.Context, id string) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reports[id]
	if !ok {
		return Report{}, fmt.Errorf("moderation: report %q: %w", id, ErrNotFound)
	}
	return r, nil
}

func (m *MemStore) Reports(_ context.Context, status Status, limit int) ([]Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Report
	for _, id := range m.order {
		if r := m.reports[id]; status == 0 || r.Status == status {
			out = append(out, r)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (m *MemStore) SetReportStatus(_ context.Context, id string, s Status) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reports[id]
	if !ok {
		return fmt.Errorf("moderation: report %q: %w", id, ErrNotFound)
	}
	r.Status = s
	m.reports[id] = r
	return nil
}

func (m *MemStore) CountRejection(_ context.Context, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejections[reason]++
	return nil
}

func (m *MemStore) Rejections(context.Context) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.rejections), nil
}

func (m *MemStore) AppendAudit(_ context.Context, e AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last AuditEntry
	if n := len(m.audit); n > 0 {
		last = m.audit[n-1]
	}
	if e.Seq != last.Seq+1 || e.PrevHash != last.Hash {
		return fmt.Errorf("moderation: audit entry %d does not follow %d: %w", e.Seq, last.Seq, ErrExists)
	}
	m.audit = append(m.audit, e)
	return nil
}

func (m *MemStore) LastAudit(context.Context) (AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.audit); n > 0 {
		return m.audit[n-1], nil
	}
	return AuditEntry{}, nil
}

func (m *MemStore) Audit(_ context.Context, after uint64, limit int) ([]AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AuditEntry
	for _, e := range m.audit {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *MemStore) PutSuspension(_ context.Context, s Suspension) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.suspensions[s.Account] = s
	return nil
}

func (m *MemStore) DeleteSuspension(_ context.Context, account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.suspensions, account)
	return nil
}

func (m *MemStore) Suspension(_ context.Context, account string) (Suspension, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.suspensions[account]
	if !ok {
		return Suspension{}, fmt.Errorf("moderation: suspension of %q: %w", account, ErrNotFound)
	}
	return s, nil
}

func (m *MemStore) AddWarning(_ context.Context, w Warning) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.warnings[w.Account] = append(m.warnings[w.Account], w)
	return nil
}

func (m *MemStore) Warnings(_ context.Context, account string) ([]Warning, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.warnings[account]), nil
}

func (m *MemStore) Close() error { return nil }

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
