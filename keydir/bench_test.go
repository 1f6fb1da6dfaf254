package keydir_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

// benchAccounts is the directory size of the benchmarks (default 10^6; set
// KEYDIR_BENCH_ACCOUNTS to change it).
func benchAccounts() int {
	if n, err := strconv.Atoi(os.Getenv("KEYDIR_BENCH_ACCOUNTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

type benchDir struct {
	fx  *fixture
	d   *keydir.Directory
	cfg kdclient.Config
}

var benchOnce sync.Once
var bench *benchDir

// fillStore adds n accounts with random labels and commitments straight into
// the store: other accounts' contents do not matter to alice's proofs, only
// how many there are, and this avoids n VRF evaluations.
func fillStore(b *testing.B, s *keydir.MemStore, n int) {
	ctx := context.Background()
	for range n {
		var l, c, o [32]byte
		rand.Read(l[:])
		rand.Read(c[:])
		if err := s.AppendVersion(ctx, l, 0, keydir.StoredVersion{Record: []byte{0}, Opening: o}, c); err != nil {
			b.Fatal(err)
		}
	}
}

func getBench(b *testing.B) *benchDir {
	benchOnce.Do(func() {
		ctx := context.Background()
		fx := newFixture(b)
		d, err := keydir.New(ctx, fx.cfg)
		if err != nil {
			b.Fatal(err)
		}
		enc, _, _ := registration(b, "alice")
		if err := d.Register(ctx, enc); err != nil {
			b.Fatal(err)
		}
		n := benchAccounts()
		fillStore(b, fx.store, n-1)
		if _, err := d.Publish(ctx); err != nil {
			b.Fatal(err)
		}
		lv, wv := fx.log.Verifiers()
		bench = &benchDir{fx: fx, d: d, cfg: kdclient.Config{
			DirectoryKey: fx.cfg.SigningKey.Public().(ed25519.PublicKey), VRFKey: d.VRFPublicKey(),
			Checkpoints: &kdclient.WitnessPolicy{Origin: "daylight.test/log", Log: lv, Witnesses: wv, Threshold: 2}}}
	})
	if bench == nil {
		b.Fatal("bench setup failed")
	}
	return bench
}

// BenchmarkLookup: the server's cost to answer a lookup, and the response's
// size, at benchAccounts() accounts.
func BenchmarkLookup(b *testing.B) {
	bd := getBench(b)
	ctx := context.Background()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		r, err := bd.d.Lookup(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		enc, _ := r.Marshal()
		size = len(enc)
	}
	r, _ := bd.d.Lookup(ctx, "alice")
	b.ReportMetric(float64(size), "bytes/lookup")
	b.ReportMetric(float64(len(r.TreeProof.Marshal())), "bytes/tree-proof")
	b.ReportMetric(float64(len(r.Checkpoint)), "bytes/checkpoint")
}

// BenchmarkVerifyLookup: the client's full check of a lookup (checkpoint and
// 2 cosignatures, head signature, log inclusion, VRF, account chain, prefix
// proof) at benchAccounts() accounts.
func BenchmarkVerifyLookup(b *testing.B) {
	bd := getBench(b)
	r, err := bd.d.Lookup(context.Background(), "alice")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bd.cfg.VerifyLookup(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish: publishing an epoch of k changed accounts on a
// directory of benchAccounts() accounts (tree update, head signature, store,
// log append).
func BenchmarkPublish(b *testing.B) {
	bd := getBench(b)
	ctx := context.Background()
	for _, k := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				fillStore(b, bd.fx.store, k)
				b.StartTimer()
				if _, err := bd.d.Publish(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(k), "ns/change")
		})
	}
}

// BenchmarkMonitorEpoch: the bytes a client downloads per epoch to monitor
// its own account (History), and the time to verify them, when every epoch
// changes 1000 other accounts.
func BenchmarkMonitorEpoch(b *testing.B) {
	bd := getBench(b)
	ctx := context.Background()
	const epochs = 24
	h0, _ := bd.d.History(ctx, "alice", 0)
	since := uint64(len(h0.Epochs))
	for range epochs {
		fillStore(b, bd.fx.store, 1000)
		if _, err := bd.d.Publish(ctx); err != nil {
			b.Fatal(err)
		}
	}
	base, err := bd.d.History(ctx, "alice", since)
	if err != nil {
		b.Fatal(err)
	}
	empty := *base
	empty.Epochs = nil
	encAll, _ := base.Marshal()
	encNone, _ := empty.Marshal()
	perEpoch := float64(len(encAll)-len(encNone)) / float64(len(base.Epochs))
	b.ReportAllocs()
	for b.Loop() {
		c := kdclient.NewClient(bd.cfg)
		m := kdclient.NewMonitor("alice")
		m.Epoch = since
		if _, err := c.Sync(m, base); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perEpoch, "bytes/epoch")
	b.ReportMetric(float64(len(encNone)), "bytes/fixed")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(base.Epochs)), "ns/epoch-verified")
}
