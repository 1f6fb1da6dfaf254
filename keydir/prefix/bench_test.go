package prefix

import (
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
)

var benchTrees sync.Map // size -> *Tree

func randomEntries(n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		rand.Read(es[i].Label[:])
		rand.Read(es[i].Value[:])
	}
	return es
}

func benchTree(b *testing.B, n int) *Tree {
	if t, ok := benchTrees.Load(n); ok {
		return t.(*Tree)
	}
	t, err := (&Tree{}).Insert(randomEntries(n))
	if err != nil {
		b.Fatal(err)
	}
	benchTrees.Store(n, t)
	return t
}

var sizes = []int{1_000, 100_000, 1_000_000}

// BenchmarkProve reports the proof size (bytes/proof) and depth for a
// member label in trees of 10^3..10^6 labels.
func BenchmarkProve(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t := benchTree(b, n)
			l := leftmost(t.root).leaf.Label
			var p *Proof
			b.ReportAllocs()
			for b.Loop() {
				p = t.Prove(l)
			}
			b.ReportMetric(float64(len(p.Marshal())), "bytes/proof")
			b.ReportMetric(float64(len(p.Steps)), "depth")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t := benchTree(b, n)
			l := leftmost(t.root).leaf.Label
			v, _ := t.Get(l)
			p := t.Prove(l)
			root := t.Root()
			b.ReportAllocs()
			for b.Loop() {
				if err := Verify(root, l, &v, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInsertBatch is the tree part of publishing an epoch: a batch of
// changed accounts applied to a tree of 10^6 accounts (path copying; the
// old epoch's tree is kept).
func BenchmarkInsertBatch(b *testing.B) {
	t := benchTree(b, 1_000_000)
	for _, k := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			batch := randomEntries(k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := t.Insert(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(k), "ns/change")
		})
	}
}

// BenchmarkBuild builds a tree of n labels from scratch (what a directory
// does on restart, replaying its epochs).
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			es := randomEntries(n)
			for b.Loop() {
				if _, err := (&Tree{}).Insert(es); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
