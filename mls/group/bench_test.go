package group

import (
	"fmt"
	"math/bits"
	"runtime"
	"testing"
)

// Benchmarks of issue 3 (suite 1): update commit with path (create, process) in
// the worst case (tree of blank parents right after one bulk add) and the best
// case (every copath node of the committer filled), add N members in one commit
// and join from that Welcome, 1 KiB application message protect+unprotect, group
// state size per member. Run the big sizes with -benchtime=5x.

var benchSizes = []int{2, 100, 1000, 10000}

// bulkGroup returns alice (leaf 0) with n-1 members added in one commit, bob
// (leaf 1) joined from its Welcome, the Welcome and the joiners' KeyPackages
// (kps[i] is leaf i+1).
func bulkGroup(b *testing.B, n int) (alice, bob *Group, welcome []byte, kps []*KeyPackageBundle) {
	b.Helper()
	cfg := Config{}
	alice, err := Create(cfg, cs1, []byte("bench"), []byte("alice"))
	if err != nil {
		b.Fatal(err)
	}
	specs := make([]ProposalSpec, 0, n-1)
	for i := 1; i < n; i++ {
		kp, err := NewKeyPackage(cfg, cs1, fmt.Appendf(nil, "m%d", i))
		if err != nil {
			b.Fatal(err)
		}
		kps = append(kps, kp)
		specs = append(specs, ProposalSpec{Type: ProposalAdd, KeyPackage: kp.Message})
	}
	res, err := alice.Commit(CommitOptions{ByValue: specs})
	if err != nil {
		b.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		b.Fatal(err)
	}
	bob, err = Join(cfg, kps[0], res.Welcome, nil)
	if err != nil {
		b.Fatal(err)
	}
	return alice, bob, res.Welcome, kps
}

// fillCopath makes every copath node of leaf 0 non-blank without unmerged
// leaves: the member at leaf 2^k commits with a path, for k from the top down
// (its path covers the subtree root that is leaf 0's copath node at level k).
// Every commit is processed by alice, bob and the other committers.
func fillCopath(b *testing.B, n int, alice, bob *Group, welcome []byte, kps []*KeyPackageBundle) {
	b.Helper()
	if n <= 2 {
		return
	}
	members := []*Group{alice, bob}
	var committers []*Group
	for k := bits.Len(uint(n-1)) - 1; k >= 1; k-- {
		g, err := Join(Config{}, kps[(1<<k)-1], welcome, nil)
		if err != nil {
			b.Fatal(err)
		}
		committers = append(committers, g)
	}
	members = append(members, committers...)
	for _, c := range committers {
		res, err := c.Commit(CommitOptions{ForcePath: true})
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range members {
			if m == c {
				if err := m.MergePendingCommit(); err != nil {
					b.Fatal(err)
				}
				continue
			}
			r, err := m.Process(res.Commit)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Merge(r.Staged); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkUpdateCommit: alice (leaf 0) creates an update commit with path, bob
// (leaf 1) processes it (stage only: both stay in the same epoch, so every
// iteration sees the same tree).
func BenchmarkUpdateCommit(b *testing.B) {
	for _, n := range benchSizes {
		for _, tc := range []string{"worst", "best"} {
			b.Run(fmt.Sprintf("%s/members=%d", tc, n), func(b *testing.B) {
				alice, bob, welcome, kps := bulkGroup(b, n)
				if tc == "best" {
					fillCopath(b, n, alice, bob, welcome, kps)
				}
				var commit []byte
				b.Run("create", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						res, err := alice.Commit(CommitOptions{ForcePath: true})
						if err != nil {
							b.Fatal(err)
						}
						commit = res.Commit
					}
				})
				if commit == nil {
					return
				}
				b.Run("process", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						r, err := bob.Process(commit)
						if err != nil {
							b.Fatal(err)
						}
						if r.Staged == nil {
							b.Fatal("no staged commit")
						}
					}
				})
			})
		}
	}
}

// BenchmarkAddMembers: add n-1 members in one commit (Commit with n-1 Add
// proposals by value, Welcome included), and join from that Welcome.
func BenchmarkAddMembers(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			cfg := Config{}
			var specs []ProposalSpec
			var kps []*KeyPackageBundle
			for i := 1; i < n; i++ {
				kp, err := NewKeyPackage(cfg, cs1, fmt.Appendf(nil, "m%d", i))
				if err != nil {
					b.Fatal(err)
				}
				kps = append(kps, kp)
				specs = append(specs, ProposalSpec{Type: ProposalAdd, KeyPackage: kp.Message})
			}
			alice, err := Create(cfg, cs1, []byte("bench"), []byte("alice"))
			if err != nil {
				b.Fatal(err)
			}
			var welcome []byte
			b.Run("add", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					res, err := alice.Commit(CommitOptions{ByValue: specs})
					if err != nil {
						b.Fatal(err)
					}
					welcome = res.Welcome
				}
			})
			if welcome == nil {
				return
			}
			b.Run("join", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Join(cfg, kps[len(kps)-1], welcome, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkProtectUnprotect: one 1 KiB application message, alice to bob.
func BenchmarkProtectUnprotect(b *testing.B) {
	cfg := Config{}
	alice, _ := Create(cfg, cs1, []byte("bench"), []byte("alice"))
	kp, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	res, _ := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: kp.Message}}})
	alice.MergePendingCommit()
	bob, err := Join(cfg, kp, res.Welcome, nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		ct, err := alice.Protect(nil, msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bob.Process(ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateSize reports the group state per member: the MarshalBinary
// encoding and the live heap of a Group restored from it (worst-case tree, as
// right after the bulk add). The timed loop is UnmarshalGroup.
func BenchmarkStateSize(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			_, bob, _, _ := bulkGroup(b, n)
			state, err := bob.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapAlloc
			g, err := UnmarshalGroup(Config{}, state)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap := int64(ms.HeapAlloc) - int64(before)
			runtime.KeepAlive(g)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := UnmarshalGroup(Config{}, state); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(state))/float64(n), "state-B/member")
			b.ReportMetric(float64(heap)/float64(n), "heap-B/member")
		})
	}
}
