// Package kdstoretest is the conformance suite of keydir.Store: every
// implementation (keydir.MemStore, keydir.FileStore, and the store/sqlite
// and store/postgres adapters) runs Run.
package kdstoretest

import (
	"context"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/prefix"
)

// Run checks the Store contract on stores returned by newStore (each call a
// fresh, empty store).
func Run(t *testing.T, newStore func(t *testing.T) keydir.Store) {
	ctx := context.Background()
	l1, l2 := [32]byte{1}, [32]byte{2}
	v := func(b byte) keydir.StoredVersion {
		return keydir.StoredVersion{Record: []byte{b, b}, Opening: [32]byte{b}}
	}

	t.Run("AppendVersion", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Versions(ctx, l1); !errors.Is(err, keydir.ErrNotFound) {
			t.Fatalf("Versions of unknown label: %v", err)
		}
		if err := s.AppendVersion(ctx, l1, 1, v(1), [32]byte{1}); !errors.Is(err, keydir.ErrConflict) {
			t.Fatalf("version 1 first: %v", err)
		}
		if err := s.AppendVersion(ctx, l1, 0, v(0), [32]byte{10}); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendVersion(ctx, l1, 0, v(9), [32]byte{19}); !errors.Is(err, keydir.ErrConflict) {
			t.Fatalf("version 0 twice: %v", err)
		}
		if err := s.AppendVersion(ctx, l1, 1, v(1), [32]byte{11}); err != nil {
			t.Fatal(err)
		}
		vs, err := s.Versions(ctx, l1)
		if err != nil || len(vs) != 2 || vs[1].Record[0] != 1 || vs[1].Opening != ([32]byte{1}) {
			t.Fatalf("Versions: %v %v", vs, err)
		}
		p, _ := s.Pending(ctx)
		if len(p) != 1 || p[0].Label != l1 || p[0].Value != ([32]byte{11}) {
			t.Fatalf("Pending keeps the latest commitment per label: %v", p)
		}
	})

	t.Run("Epochs", func(t *testing.T) {
		s := newStore(t)
		s.AppendVersion(ctx, l1, 0, v(0), [32]byte{10})
		s.AppendVersion(ctx, l2, 0, v(0), [32]byte{20})
		p, _ := s.Pending(ctx)
		e1 := keydir.StoredEpoch{Head: keydir.EpochHead{Epoch: 1, Root: [32]byte{7}, Time: 5, Signature: []byte{1, 2}}, Updates: p}
		if err := s.SaveEpoch(ctx, keydir.StoredEpoch{Head: keydir.EpochHead{Epoch: 2}}); !errors.Is(err, keydir.ErrConflict) {
			t.Fatalf("epoch 2 before 1: %v", err)
		}
		// A change to l1 after the pending list was read stays pending.
		s.AppendVersion(ctx, l1, 1, v(1), [32]byte{11})
		if err := s.SaveEpoch(ctx, e1); err != nil {
			t.Fatal(err)
		}
		p, _ = s.Pending(ctx)
		if len(p) != 1 || p[0] != (prefix.Entry{Label: l1, Value: [32]byte{11}}) {
			t.Fatalf("pending after SaveEpoch: %v", p)
		}
		if err := s.SaveEpoch(ctx, e1); !errors.Is(err, keydir.ErrConflict) {
			t.Fatalf("epoch 1 twice: %v", err)
		}
		eps, err := s.Epochs(ctx, 1)
		if err != nil || len(eps) != 1 || eps[0].Logged || !eps[0].Head.Equal(&e1.Head) || len(eps[0].Updates) != 2 {
			t.Fatalf("Epochs: %+v %v", eps, err)
		}
		if err := s.SetLogged(ctx, 1, 42); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLogged(ctx, 2, 43); err == nil {
			t.Fatal("SetLogged of a missing epoch")
		}
		eps, _ = s.Epochs(ctx, 1)
		if !eps[0].Logged || eps[0].LogIdx != 42 {
			t.Fatalf("after SetLogged: %+v", eps[0])
		}
		if eps, _ := s.Epochs(ctx, 2); len(eps) != 0 {
			t.Fatalf("Epochs from 2: %d", len(eps))
		}
	})
}
