package harness

import (
	"fmt"
	"testing"
)

// CheckScenarios runs every scenario of e once on small groups: the fixtures
// must work (the best case included) before their timings mean anything. Each
// engine's package calls it from its own test, so every engine is held to the
// same checks.
func CheckScenarios(t *testing.T, e Engine) {
	t.Helper()
	sizes := []int{2, 5, 17}
	r := Run(e, Options{Sizes: sizes, Reps: 1, Best: true})
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %v", r.Errors)
	}
	got := map[string]bool{}
	for _, x := range r.Results {
		got[fmt.Sprint(x.Scenario, x.Size)] = true
		// The tree shapes: one ciphertext per other member in the worst case, one per
		// copath node (helper commit) in the best case.
		if x.Scenario == WorstCiphers && x.Median != float64(x.Size-1) {
			t.Errorf("n=%d: worst case path has %v ciphertexts, want %d", x.Size, x.Median, x.Size-1)
		}
		if x.Scenario == BestCiphers && x.Median != float64(len(Helpers(x.Size))) {
			t.Errorf("n=%d: best case path has %v ciphertexts, want %d", x.Size, x.Median, len(Helpers(x.Size)))
		}
	}
	for _, s := range []string{WorstCreate, WorstProcess, BestCreate, BestProcess,
		AddCommit, AddJoin, AppMessage, HeapPerMember, WorstCiphers, BestCiphers} {
		for _, n := range sizes {
			if !got[fmt.Sprint(s, n)] {
				t.Errorf("no result for %s at n=%d", s, n)
			}
		}
	}
}

// benchSizes are the group sizes of the go test benchmarks (bench/run.sh
// measures 10,000 through cmd/mlsbench).
var benchSizes = []int{2, 100, 1000}

// BenchWorstCreate measures creating an update commit with path over a tree
// of blank parents (the fixture is reset outside the timer).
func BenchWorstCreate(b *testing.B, e Engine) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			f, err := e.NewWorst(n)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := f.CreateUpdate(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := f.ResetCreate(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchWorstProcess measures processing that commit as another member.
func BenchWorstProcess(b *testing.B, e Engine) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			f, err := e.NewWorst(n)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := f.PrepareProcess(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := f.ProcessUpdate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchProtectUnprotect1KiB measures one 1 KiB application message protected
// by one member and unprotected by another, in a group of 100.
func BenchProtectUnprotect1KiB(b *testing.B, e Engine) {
	f, err := e.NewWorst(100)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if err := f.ProtectUnprotect(msg); err != nil {
			b.Fatal(err)
		}
	}
}
