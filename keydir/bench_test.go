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

// BenchmarkMonitorDay: one day of own-account monitoring at
// benchAccounts() accounts, in an access log of KEYDIR_BENCH_LOG entries
// (default 10^6) that grows by KEYDIR_BENCH_LOG_PER_EPOCH other entries
// (default 40: lawful-access records) per epoch: 24 hourly epochs of 1,000
// changed accounts each, synced 4 times a day (every 6 epochs), twice or once.
// Every epoch is checked either way (the detection bound is the same; the
// delay to detection is the sync interval). It reports the bytes downloaded
// per day as served (compact encoding, without the versions the monitor
// already holds) and as before (plain encoding, whole chain each sync), and
// times decoding + verifying one sync.
func BenchmarkMonitorDay(b *testing.B) {
	for _, syncs := range []int{4, 2, 1} {
		b.Run(fmt.Sprintf("syncs=%d", syncs), func(b *testing.B) { benchMonitorDay(b, 24/syncs) })
	}
}

func benchMonitorDay(b *testing.B, syncEvery int) {
	bd := getBench(b)
	ctx := context.Background()
	logSize := envInt("KEYDIR_BENCH_LOG", 1_000_000)
	perEpoch := envInt("KEYDIR_BENCH_LOG_PER_EPOCH", 40)
	filler := make([]byte, 120)
	for range max(0, logSize-len(bd.fx.log.Entries())) {
		rand.Read(filler)
		bd.fx.log.AppendEntry(filler)
	}
	h0, err := bd.d.History(ctx, "alice", 0)
	if err != nil {
		b.Fatal(err)
	}
	m := kdclient.NewMonitor("alice")
	c := kdclient.NewClient(bd.cfg)
	if _, err := c.Sync(m, h0); err != nil { // alice's device is unknown to this bare monitor: one alert, once
		b.Fatal(err)
	}
	heldR, heldO := h0.Records, h0.Openings
	const epochs = 24
	var compact, plain, fixed int
	var last []byte
	for e := 1; e <= epochs; e++ {
		fillStore(b, bd.fx.store, 1000)
		for range perEpoch {
			rand.Read(filler)
			bd.fx.log.AppendEntry(filler)
		}
		if _, err := bd.d.Publish(ctx); err != nil {
			b.Fatal(err)
		}
		if e%syncEvery != 0 {
			continue
		}
		// Served: compact, without the versions the monitor holds.
		h, err := bd.d.HistoryFrom(ctx, "alice", m.Epoch, uint64(len(heldR)))
		if err != nil {
			b.Fatal(err)
		}
		cb, err := h.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		// Before: the whole chain, plain.
		full, err := bd.d.History(ctx, "alice", m.Epoch)
		if err != nil {
			b.Fatal(err)
		}
		pb, _ := keydir.TestingOnlyHistoryPlain(full)
		empty := *h
		empty.Epochs = nil
		eb, _ := empty.Marshal()
		compact, plain, fixed, last = compact+len(cb), plain+len(pb), fixed+len(eb), cb
		back, err := keydir.ParseHistoryResponse(cb)
		if err != nil {
			b.Fatal(err)
		}
		if !kdclient.Complete(back, heldR, heldO) {
			b.Fatal("answer does not continue the held versions")
		}
		if _, err := c.Sync(m, back); err != nil {
			b.Fatalf("sync: %v", err)
		}
		heldR, heldO = back.Records, back.Openings
	}
	b.ReportAllocs()
	for b.Loop() {
		h, err := keydir.ParseHistoryResponse(last)
		if err != nil {
			b.Fatal(err)
		}
		h.Records, h.Openings, h.FirstVersion = heldR, heldO, 0
		mm := kdclient.NewMonitor("alice")
		mm.Epoch = h0Epochs(h)
		if _, err := kdclient.NewClient(bd.cfg).Sync(mm, h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(compact), "bytes/day")
	b.ReportMetric(float64(plain), "bytes/day-plain")
	b.ReportMetric(float64(fixed)/float64(epochs/syncEvery), "bytes/sync-fixed")
	b.ReportMetric(float64(len(bd.fx.log.Entries())), "log-entries")
}

// h0Epochs is the epoch a monitor had reached before h's first epoch.
func h0Epochs(h *keydir.HistoryResponse) uint64 {
	e, err := keydir.ParseHeadEntry(h.Epochs[0].HeadProof.Entry)
	if err != nil {
		panic(err)
	}
	return e.Epoch - 1
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 0 {
		return n
	}
	return def
}
