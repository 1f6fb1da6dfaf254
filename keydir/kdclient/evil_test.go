package kdclient_test

import (
	"context"
	"sync"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/keydir/prefix"
)

type keydirPendingEntry = prefix.Entry

// forkStore is a provider's store that serves a replacement chain for one
// label and slips its commitment into the next epoch.
type forkStore struct {
	keydir.Store
	label   [32]byte
	fork    []keydir.StoredVersion
	mu      sync.Mutex
	pending []prefix.Entry
}

func (f *forkStore) Versions(ctx context.Context, label [32]byte) ([]keydir.StoredVersion, error) {
	if label == f.label {
		return f.fork, nil
	}
	return f.Store.Versions(ctx, label)
}

func (f *forkStore) Pending(ctx context.Context) ([]prefix.Entry, error) {
	p, err := f.Store.Pending(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(p, f.pending...), err
}

func (f *forkStore) SaveEpoch(ctx context.Context, e keydir.StoredEpoch) error {
	f.mu.Lock()
	f.pending = nil
	f.mu.Unlock()
	return f.Store.SaveEpoch(ctx, e)
}

func (e *env) newDirectoryFrom(s keydir.Store) *keydir.Directory { return e.newDirectory(s, e.log) }

// swapRecords serves genuine proofs with another chain for one user.
type swapRecords struct {
	kdhttp.Service
	user    string
	records [][]byte
}

func (s *swapRecords) Lookup(ctx context.Context, u string) (*keydir.LookupResponse, error) {
	r, err := s.Service.Lookup(ctx, u)
	if err == nil && u == s.user {
		r.Records = s.records
	}
	return r, err
}

// swapHead serves a different head entry under the genuine inclusion proof.
type swapHead struct {
	kdhttp.Service
	entry []byte
}

func (s *swapHead) Lookup(ctx context.Context, u string) (*keydir.LookupResponse, error) {
	r, err := s.Service.Lookup(ctx, u)
	if err == nil {
		r.HeadProof.Entry = s.entry
	}
	return r, err
}
