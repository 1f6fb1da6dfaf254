package daylight

import (
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/bench/harness"
)

// TestScenarios runs every scenario once on small groups: the fixtures must work
// (the best case included) before their timings mean anything.
func TestScenarios(t *testing.T) {
	r := harness.Run(Engine{}, harness.Options{Sizes: []int{2, 5, 17}, Reps: 1, Best: true})
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %v", r.Errors)
	}
	want := map[string]bool{}
	for _, x := range r.Results {
		want[fmt.Sprint(x.Scenario, x.Size)] = true
		// The tree shapes: one ciphertext per other member in the worst case, one per
		// copath node (helper commit) in the best case.
		if x.Scenario == harness.WorstCiphers && x.Median != float64(x.Size-1) {
			t.Errorf("n=%d: worst case path has %v ciphertexts, want %d", x.Size, x.Median, x.Size-1)
		}
		if x.Scenario == harness.BestCiphers && x.Median != float64(len(harness.Helpers(x.Size))) {
			t.Errorf("n=%d: best case path has %v ciphertexts, want %d", x.Size, x.Median, len(harness.Helpers(x.Size)))
		}
	}
	for _, s := range []string{harness.WorstCreate, harness.WorstProcess, harness.BestCreate, harness.BestProcess,
		harness.AddCommit, harness.AddJoin, harness.AppMessage, harness.HeapPerMember,
		harness.WorstCiphers, harness.BestCiphers} {
		for _, n := range []int{2, 5, 17} {
			if !want[fmt.Sprint(s, n)] {
				t.Errorf("no result for %s at n=%d", s, n)
			}
		}
	}
}

func benchSizes() []int { return []int{2, 100, 1000} }

func BenchmarkWorstCreate(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			f, err := Engine{}.NewWorst(n)
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

func BenchmarkWorstProcess(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			f, err := Engine{}.NewWorst(n)
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

func BenchmarkProtectUnprotect1KiB(b *testing.B) {
	f, err := Engine{}.NewWorst(100)
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
