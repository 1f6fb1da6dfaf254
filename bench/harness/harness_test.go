package harness

import (
	"slices"
	"testing"
)

func TestHelpers(t *testing.T) {
	for _, tc := range []struct {
		size int
		want []int
	}{
		{2, []int{1}},
		{3, []int{2, 1}},
		{100, []int{64, 32, 16, 8, 4, 2, 1}},
		{1000, []int{512, 256, 128, 64, 32, 16, 8, 4, 2, 1}},
		{1024, []int{512, 256, 128, 64, 32, 16, 8, 4, 2, 1}},
	} {
		if got := Helpers(tc.size); !slices.Equal(got, tc.want) {
			t.Errorf("Helpers(%d) = %v, want %v", tc.size, got, tc.want)
		}
	}
}

func TestNewResult(t *testing.T) {
	r := newResult("x", 2, "ms", []float64{3, 1, 2})
	if r.Median != 2 || r.Best != 1 {
		t.Fatalf("median %v best %v", r.Median, r.Best)
	}
	r = newResult("x", 2, "ms", []float64{4, 1, 2, 3})
	if r.Median != 2.5 {
		t.Fatalf("median %v", r.Median)
	}
}
