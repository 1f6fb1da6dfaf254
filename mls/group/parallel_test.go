package group

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestParallelForLowestError: parallelFor runs every index once and reports the
// failure of the lowest index whatever the scheduling, so errors from parallel
// KeyPackage and signature checks are deterministic.
func TestParallelForLowestError(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		var calls atomic.Int64
		seen := make([]atomic.Bool, n)
		err := parallelFor(n, func(i int) error {
			calls.Add(1)
			if seen[i].Swap(true) {
				t.Errorf("n=%d: index %d run twice", n, i)
			}
			if i%3 == 2 {
				return fmt.Errorf("fail %d", i)
			}
			return nil
		})
		if calls.Load() != int64(n) {
			t.Fatalf("n=%d: %d calls", n, calls.Load())
		}
		switch {
		case n < 3 && err != nil:
			t.Fatalf("n=%d: unexpected error %v", n, err)
		case n >= 3 && (err == nil || err.Error() != "fail 2"):
			t.Fatalf("n=%d: error %v, want fail 2", n, err)
		}
	}
	if err := parallelFor(4, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	sentinel := errors.New("x")
	if err := parallelFor(1, func(int) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatal(err)
	}
}
