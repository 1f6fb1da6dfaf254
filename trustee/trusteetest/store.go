package trusteetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/trustee"
)

// RunStoreTests is the conformance suite for trustee.Store implementations
// (store/sqlite, store/postgres, trustee.MemStore). newStore returns an empty
// store and a function that dumps every byte the store keeps (its database
// file, its tables, its memory): a destroyed key must not appear in it (T12).
func RunStoreTests(t *testing.T, newStore func(t *testing.T) (trustee.Store, func() []byte)) {
	ctx := context.Background()
	t.Run("PutGetDestroy", func(t *testing.T) {
		s, raw := newStore(t)
		keys := map[uint32][]byte{}
		for _, p := range []uint32{3, 1, 2} {
			k := make([]byte, 32)
			rand.Read(k)
			keys[p] = k
			if err := s.PutPeriodKey(ctx, p, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutPeriodKey(ctx, 2, keys[2]); !errors.Is(err, trustee.ErrKeyExists) {
			t.Fatalf("second key for a period: %v", err)
		}
		if got, err := s.PeriodKey(ctx, 2); err != nil || !bytes.Equal(got, keys[2]) {
			t.Fatalf("PeriodKey: %v", err)
		}
		if _, err := s.PeriodKey(ctx, 9); !errors.Is(err, trustee.ErrNoKey) {
			t.Fatalf("unknown period: %v", err)
		}
		if err := s.DestroyPeriodKey(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PeriodKey(ctx, 1); !errors.Is(err, trustee.ErrKeyDestroyed) {
			t.Fatalf("destroyed key readable: %v", err)
		}
		if gone, err := s.Destroyed(ctx, 1); err != nil || !gone {
			t.Fatalf("Destroyed: %v %v", gone, err)
		}
		if err := s.PutPeriodKey(ctx, 1, keys[1]); !errors.Is(err, trustee.ErrKeyDestroyed) {
			t.Fatalf("destroyed period re-keyed: %v", err)
		}
		if bytes.Contains(raw(), keys[1]) {
			t.Fatal("destroyed key bytes remain in the store")
		}
		if !bytes.Contains(raw(), keys[3]) {
			t.Fatal("raw dump does not show live keys: the destruction check above proves nothing")
		}
		if ps, err := s.Periods(ctx); err != nil || len(ps) != 2 || ps[0] != 2 || ps[1] != 3 {
			t.Fatalf("Periods = %v, %v", ps, err)
		}
	})
	t.Run("LatestCheckpoint", func(t *testing.T) {
		s, _ := newStore(t)
		if cp, err := s.LatestCheckpoint(ctx); err != nil || cp != nil {
			t.Fatalf("empty store: %q %v", cp, err)
		}
		for _, cp := range []string{"checkpoint 1\n", "checkpoint 2\n"} {
			if err := s.SetLatestCheckpoint(ctx, []byte(cp)); err != nil {
				t.Fatal(err)
			}
			if got, err := s.LatestCheckpoint(ctx); err != nil || string(got) != cp {
				t.Fatalf("LatestCheckpoint = %q %v", got, err)
			}
		}
	})
}
