package group

import (
	"fmt"
	"testing"
)

// BenchmarkCommitProcess measures one full commit (with path) created by one member
// and processed by another, in groups of n members.
func BenchmarkCommitProcess(b *testing.B) {
	for _, n := range []int{2, 10, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			cfg := Config{}
			alice, _ := Create(cfg, cs1, []byte("bench"), []byte("alice"))
			var specs []ProposalSpec
			var kps []*KeyPackageBundle
			for i := 1; i < n; i++ {
				kp, _ := NewKeyPackage(cfg, cs1, []byte(fmt.Sprint("m", i)))
				kps = append(kps, kp)
				specs = append(specs, ProposalSpec{Type: ProposalAdd, KeyPackage: kp.Message})
			}
			res, err := alice.Commit(CommitOptions{ByValue: specs})
			if err != nil {
				b.Fatal(err)
			}
			alice.MergePendingCommit()
			bob, err := Join(cfg, kps[0], res.Welcome, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := alice.Commit(CommitOptions{ForcePath: true})
				if err != nil {
					b.Fatal(err)
				}
				alice.MergePendingCommit()
				r, err := bob.Process(res.Commit)
				if err != nil {
					b.Fatal(err)
				}
				bob.Merge(r.Staged)
			}
		})
	}
}

// BenchmarkProtectUnprotect measures one application message each way.
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
	msg := make([]byte, 256)
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
