// Package harness times the MLS engine comparison scenarios (issue 3, "Speed") in the
// same way for every Go engine, and prints the side-by-side table.
//
// Every engine builds the same groups: member A at leaf 0 creates the group and adds
// everyone else in one commit ("bulk add"), so every parent node other than A's own
// direct path is blank (worst case). The receiver R is the member at leaf 1, A's
// sibling: it decrypts the path secret at the lowest level and derives the longest
// chain of path secrets. The best case is then built by honest commits (see Fixture).
package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// Scenario names shared by the Go engines and the ts-mls script (bench/tsmls/bench.mjs).
const (
	WorstCreate     = "worst_create"      // update commit with path by A, worst-case tree
	WorstProcess    = "worst_process"     // R processes it
	BestCreate      = "best_create"       // update commit with path by A, best-case tree
	BestProcess     = "best_process"      // R processes it
	AddCommit       = "add_commit"        // one commit adding size-1 members (+ Welcome)
	AddJoin         = "add_join"          // one new member joins from that Welcome
	AppMessage      = "app_1kib"          // 1 KiB application message: protect (A) + unprotect (R)
	HeapPerMember   = "heap_per_member"   // bytes of Go/JS heap retained by one member's state / size
	StatePerMember  = "state_per_member"  // serialized member state bytes / size (if the engine has one)
	BestBuildSecond = "best_build_s"      // seconds spent building the best-case tree (informative)
	WorstCiphers    = "worst_ciphertexts" // HPKE ciphertexts in A's update path, worst case (shape check)
	BestCiphers     = "best_ciphertexts"  // the same in the best case
)

// PathCounter is implemented by fixtures that can count the HPKE ciphertexts in A's
// update path: the check that the worst and best cases have the intended tree shape
// (size-1 and about log2(size) ciphertexts).
type PathCounter interface {
	PathCiphertexts() (int, error)
}

// Fixture is a group of Size members in the worst-case shape after NewWorst.
type Fixture interface {
	// CreateUpdate makes A create an update commit with path (not merged).
	CreateUpdate() error
	// ResetCreate undoes CreateUpdate's pending state (untimed).
	ResetCreate() error
	// PrepareProcess makes A create a commit and restores R so that it can process it
	// again (untimed).
	PrepareProcess() error
	// ProcessUpdate makes R validate and apply (or stage) the prepared commit.
	ProcessUpdate() error
	// MakeBest turns the tree into the best case: every copath node of A is non-blank
	// with no unmerged leaves (resolution of size 1), so A's update commit needs one
	// HPKE encryption per level, exactly as in a fully updated tree.
	MakeBest() error
	// ProtectUnprotect has A protect msg as a PrivateMessage and R unprotect it.
	ProtectUnprotect(msg []byte) error
}

// Adder times the bulk-add scenario.
type Adder interface {
	// Reset puts the committer back to its one-member group (untimed).
	Reset() error
	// Commit creates one commit adding size-1 members, with the Welcome.
	Commit() error
	// Join makes one added member join from the last Welcome; keep is the member's state,
	// held so its heap can be measured.
	Join() (keep any, err error)
	// StateBytes is the size of the serialized state of a joined member, 0 if the
	// engine cannot serialize one.
	StateBytes(keep any) (int, error)
}

// Engine builds fixtures.
type Engine interface {
	Name() string
	NewWorst(size int) (Fixture, error)
	NewAdder(size int) (Adder, error)
}

// Result is one figure: the runs of one scenario at one size.
type Result struct {
	Scenario string    `json:"scenario"`
	Size     int       `json:"size"`
	Unit     string    `json:"unit"` // "ms" or "bytes" or "s"
	Runs     []float64 `json:"runs"`
	Median   float64   `json:"median"`
	Best     float64   `json:"best"`
	Note     string    `json:"note,omitempty"`
}

// Report is what an engine run prints with -json.
type Report struct {
	Engine  string   `json:"engine"`
	Runtime string   `json:"runtime"`
	Date    string   `json:"date"`
	Results []Result `json:"results"`
	Errors  []string `json:"errors,omitempty"`
}

func newResult(scenario string, size int, unit string, runs []float64) Result {
	s := slices.Clone(runs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Result{Scenario: scenario, Size: size, Unit: unit, Runs: runs, Median: med, Best: s[0]}
}

// timeOp runs prep (untimed) then op (timed) reps times; inner > 1 repeats op inside one
// timing and divides (for sub-millisecond operations).
func timeOp(reps, inner int, prep func() error, op func() error) ([]float64, error) {
	var runs []float64
	for range reps {
		if prep != nil {
			if err := prep(); err != nil {
				return nil, fmt.Errorf("prepare: %w", err)
			}
		}
		start := time.Now()
		for range inner {
			if err := op(); err != nil {
				return nil, err
			}
		}
		runs = append(runs, float64(time.Since(start).Nanoseconds())/1e6/float64(inner))
	}
	return runs, nil
}

// Options bound a run.
type Options struct {
	Sizes   []int
	Reps    int  // timed repetitions per figure (≥ 3)
	Best    bool // build and time the best case
	MaxBest int  // largest size for which the best case is built
	Log     io.Writer
}

// Run times every scenario of e at every size.
func Run(e Engine, o Options) *Report {
	rep := &Report{Engine: e.Name(), Runtime: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s: "+format+"\n", append([]any{e.Name()}, a...)...)
		}
	}
	add := func(r Result) {
		rep.Results = append(rep.Results, r)
		logf("%-16s n=%-6d median %.3f %s  runs %v", r.Scenario, r.Size, r.Median, r.Unit, r.Runs)
	}
	fail := func(size int, what string, err error) {
		msg := fmt.Sprintf("n=%d %s: %v", size, what, err)
		rep.Errors = append(rep.Errors, msg)
		logf("ERROR %s", msg)
	}
	msg := make([]byte, 1024)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, n := range o.Sizes {
		// Bulk add + join, and memory.
		func() {
			a, err := e.NewAdder(n)
			if err != nil {
				fail(n, "adder setup", err)
				return
			}
			runs, err := timeOp(o.Reps, 1, a.Reset, a.Commit)
			if err != nil {
				fail(n, AddCommit, err)
				return
			}
			add(newResult(AddCommit, n, "ms", runs))
			var keep any
			runs, err = timeOp(o.Reps, 1, func() error { keep = nil; runtime.GC(); return nil }, func() error {
				var err error
				keep, err = a.Join()
				return err
			})
			if err != nil {
				fail(n, AddJoin, err)
				return
			}
			add(newResult(AddJoin, n, "ms", runs))
			// Memory: heap retained by one joined member's state.
			var mem []float64
			for range o.Reps {
				keep = nil
				runtime.GC()
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				k, err := a.Join()
				if err != nil {
					fail(n, HeapPerMember, err)
					return
				}
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				runtime.KeepAlive(k)
				keep = k
				mem = append(mem, float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n))
			}
			add(newResult(HeapPerMember, n, "bytes", mem))
			if sb, err := a.StateBytes(keep); err != nil {
				fail(n, StatePerMember, err)
			} else if sb > 0 {
				add(newResult(StatePerMember, n, "bytes", []float64{float64(sb) / float64(n)}))
			}
		}()
		// Update commits, worst then best case, and application messages.
		func() {
			f, err := e.NewWorst(n)
			if err != nil {
				fail(n, "worst setup", err)
				return
			}
			runs, err := timeOp(o.Reps, 1, f.ResetCreate, f.CreateUpdate)
			if err != nil {
				fail(n, WorstCreate, err)
				return
			}
			add(newResult(WorstCreate, n, "ms", runs))
			if pc, ok := f.(PathCounter); ok {
				if c, err := pc.PathCiphertexts(); err != nil {
					fail(n, WorstCiphers, err)
				} else {
					add(newResult(WorstCiphers, n, "count", []float64{float64(c)}))
				}
			}
			runs, err = timeOp(o.Reps, 1, f.PrepareProcess, f.ProcessUpdate)
			if err != nil {
				fail(n, WorstProcess, err)
				return
			}
			add(newResult(WorstProcess, n, "ms", runs))
			runs, err = timeOp(o.Reps, 200, f.ResetCreate, func() error { return f.ProtectUnprotect(msg) })
			if err != nil {
				fail(n, AppMessage, err)
				return
			}
			for i := range runs {
				runs[i] *= 1000 // µs
			}
			add(newResult(AppMessage, n, "µs", runs))
			if !o.Best || (o.MaxBest > 0 && n > o.MaxBest) {
				return
			}
			start := time.Now()
			if err := f.ResetCreate(); err != nil {
				fail(n, "best setup", err)
				return
			}
			if err := f.MakeBest(); err != nil {
				fail(n, "best setup", err)
				return
			}
			add(newResult(BestBuildSecond, n, "s", []float64{time.Since(start).Seconds()}))
			runs, err = timeOp(o.Reps, 1, f.ResetCreate, f.CreateUpdate)
			if err != nil {
				fail(n, BestCreate, err)
				return
			}
			add(newResult(BestCreate, n, "ms", runs))
			if pc, ok := f.(PathCounter); ok {
				if c, err := pc.PathCiphertexts(); err != nil {
					fail(n, BestCiphers, err)
				} else {
					add(newResult(BestCiphers, n, "count", []float64{float64(c)}))
				}
			}
			runs, err = timeOp(o.Reps, 1, f.PrepareProcess, f.ProcessUpdate)
			if err != nil {
				fail(n, BestProcess, err)
				return
			}
			add(newResult(BestProcess, n, "ms", runs))
		}()
	}
	return rep
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Helpers returns the leaves that must commit, in this order, so that every copath
// node of leaf 0 is non-blank: 2^k, 2^(k-1), ..., 1 for the largest 2^k < size
// (largest subtree first, so each later commit finds the big subtrees already filled).
func Helpers(size int) []int {
	var h []int
	for p := 1; p < size; p *= 2 {
		h = append([]int{p}, h...)
	}
	return h
}
