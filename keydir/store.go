package keydir

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/daylight-im/daylight/keydir/prefix"
)

// StoredVersion is one account version as the directory keeps it.
type StoredVersion struct {
	Record  []byte   // account.Record encoding, as the device signed it
	Opening [32]byte // commitment opening, secret until looked up
}

// StoredEpoch is a published epoch: its signed head, the leaf updates it
// applied to the previous epoch's tree, and where the log holds the head.
type StoredEpoch struct {
	Head    EpochHead
	Updates []prefix.Entry
	Logged  bool   // the head has been appended to the log
	LogIdx  uint64 // its index there, when Logged
}

// Store errors.
var (
	ErrNotFound = errors.New("keydir: not found")
	ErrConflict = errors.New("keydir: conflicting write") // version or epoch already exists, or a gap
)

// Store is the directory's durable state. Implementations make each method
// atomic and durable before it returns (store/sqlite and store/postgres adapt
// their databases to it; MemStore is for tests and FileStore for one machine).
type Store interface {
	// AppendVersion stores v as version `version` of the account with label
	// and marks the label pending with value commitment. It fails with
	// ErrConflict unless version is exactly one more than the latest stored
	// version (0 for a new label).
	AppendVersion(ctx context.Context, label [32]byte, version uint64, v StoredVersion, commitment [32]byte) error
	// Versions returns all versions of label in order, or ErrNotFound.
	Versions(ctx context.Context, label [32]byte) ([]StoredVersion, error)
	// Pending returns the labels changed since the last saved epoch with
	// their latest commitments.
	Pending(ctx context.Context) ([]prefix.Entry, error)
	// SaveEpoch stores e (with e.Logged false) and clears the pending marks
	// that e.Updates applied (a label changed again since stays pending). It
	// fails with ErrConflict unless e.Head.Epoch is one more than the last
	// saved epoch (or 1 for the first).
	SaveEpoch(ctx context.Context, e StoredEpoch) error
	// SetLogged records that the head of epoch was appended at index.
	SetLogged(ctx context.Context, epoch, index uint64) error
	// Epochs returns the saved epochs numbered from `from`, in order.
	Epochs(ctx context.Context, from uint64) ([]StoredEpoch, error)
}

// MemStore is an in-memory Store for tests. The zero value is not usable;
// call NewMemStore.
type MemStore struct {
	mu       sync.Mutex
	versions map[[32]byte][]StoredVersion
	pending  map[[32]byte][32]byte
	epochs   []StoredEpoch
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{versions: map[[32]byte][]StoredVersion{}, pending: map[[32]byte][32]byte{}}
}

func (m *MemStore) AppendVersion(_ context.Context, label [32]byte, version uint64, v StoredVersion, c [32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if uint64(len(m.versions[label])) != version {
		return ErrConflict
	}
	v.Record = slices.Clone(v.Record)
	m.versions[label] = append(m.versions[label], v)
	m.pending[label] = c
	return nil
}

func (m *MemStore) Versions(_ context.Context, label [32]byte) ([]StoredVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs, ok := m.versions[label]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(vs), nil
}

func (m *MemStore) Pending(context.Context) ([]prefix.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]prefix.Entry, 0, len(m.pending))
	for l, v := range m.pending {
		out = append(out, prefix.Entry{Label: l, Value: v})
	}
	return out, nil
}

func (m *MemStore) SaveEpoch(_ context.Context, e StoredEpoch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Head.Epoch != uint64(len(m.epochs))+1 {
		return ErrConflict
	}
	for _, u := range e.Updates {
		if m.pending[u.Label] == u.Value {
			delete(m.pending, u.Label)
		}
	}
	e.Updates = slices.Clone(e.Updates)
	m.epochs = append(m.epochs, e)
	return nil
}

func (m *MemStore) SetLogged(_ context.Context, epoch, index uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if epoch == 0 || epoch > uint64(len(m.epochs)) {
		return ErrNotFound
	}
	m.epochs[epoch-1].Logged, m.epochs[epoch-1].LogIdx = true, index
	return nil
}

func (m *MemStore) Epochs(_ context.Context, from uint64) ([]StoredEpoch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from = max(from, 1)
	if from > uint64(len(m.epochs)) {
		return nil, nil
	}
	return slices.Clone(m.epochs[from-1:]), nil
}
