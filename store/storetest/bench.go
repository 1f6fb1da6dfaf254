package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

// benchWorld is groups of groupSize single-device users.
type benchWorld struct {
	svc     *ds.Service
	groups  [][]byte
	members [][]ds.Principal
}

func newBenchWorld(b *testing.B, newStore NewStore, groups, groupSize int) *benchWorld {
	b.Helper()
	st := newStore(b)
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}, MaxBatch: 2048})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		svc.Close()
		st.Close()
	})
	ctx := context.Background()
	w := &benchWorld{svc: svc}
	for g := range groups {
		var signers []dstest.Signer
		var ps []ds.Principal
		for m := range groupSize {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			pub := priv.Public().(ed25519.PublicKey)
			name := fmt.Sprintf("u%d-%d", g, m)
			d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "", pub))})
			if err != nil {
				b.Fatal(err)
			}
			signers = append(signers, dstest.Signer{Username: name, Device: d.ID, Key: priv})
			ps = append(ps, ds.Principal{Username: name, Device: d.ID})
		}
		gid := fmt.Appendf(nil, "bench-group-%d", g)
		if _, err := svc.CreateGroup(ctx, ps[0], dstest.GroupInfo(gid, signers[0])); err != nil {
			b.Fatal(err)
		}
		var add []dstest.FakeMember
		for _, s := range signers[1:] {
			add = append(add, s.Member())
		}
		if _, err := svc.Send(ctx, ps[0], dstest.Commit(gid, 0, signers[0], add), nil); err != nil {
			b.Fatal(err)
		}
		w.groups = append(w.groups, gid)
		w.members = append(w.members, ps)
	}
	return w
}

// send sends n application messages of about 200 bytes from senders
// goroutines, round-robin over groups and members.
func (w *benchWorld) send(b *testing.B, n, senders int, seq *atomic.Uint64) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range senders {
		wg.Go(func() {
			payload := make([]byte, 200)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				g := int(i) % len(w.groups)
				p := w.members[g][int(i/int64(len(w.groups)))%len(w.members[g])]
				binary.BigEndian.PutUint64(payload, seq.Add(1))
				if _, err := w.svc.Send(context.Background(), p, dstest.Application(w.groups[g], 1, payload), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchAccepted measures durable accepted messages per second: many
// concurrent senders in groups of 10, each Send returning only after its
// group-commit batch is durable.
func BenchAccepted(b *testing.B, newStore NewStore) {
	w := newBenchWorld(b, newStore, 50, 10)
	var seq atomic.Uint64
	const perIter = 2000
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	msgs := 0
	for b.Loop() {
		w.send(b, perIter, 256, &seq)
		msgs += perIter
	}
	b.ReportMetric(float64(msgs)/time.Since(start).Seconds(), "accepted/s")
	st := w.svc.Stats()
	b.ReportMetric(float64(st.Accepted)/float64(max(st.Batches, 1)), "msgs/batch")
}

// BenchDelivered measures delivered messages per second: after 1000
// messages are accepted in groups of 10, every member device fetches its
// queue in pages of 500 and acks (9 deliveries per message).
func BenchDelivered(b *testing.B, newStore NewStore) {
	w := newBenchWorld(b, newStore, 20, 10)
	var seq atomic.Uint64
	b.ReportAllocs()
	var delivered atomic.Int64
	var busy time.Duration
	for b.Loop() {
		b.StopTimer()
		w.send(b, 1000, 128, &seq)
		b.StartTimer()
		t0 := time.Now()
		var wg sync.WaitGroup
		for _, ms := range w.members {
			for _, p := range ms {
				wg.Go(func() {
					var cur uint64
					ctx := context.Background()
					for {
						pg, err := w.svc.Fetch(ctx, p, cur, 500)
						if err != nil {
							b.Error(err)
							return
						}
						delivered.Add(int64(len(pg.Deliveries)))
						if err := w.svc.Ack(ctx, p, pg.Cursor); err != nil {
							b.Error(err)
							return
						}
						if len(pg.Deliveries) < 500 {
							return
						}
						cur = pg.Cursor
					}
				})
			}
		}
		wg.Wait()
		busy += time.Since(t0)
		b.StopTimer()
		if _, err := w.svc.GC(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(delivered.Load())/busy.Seconds(), "delivered/s")
}

// BenchSendLatency measures one Send at a time (no batching possible): the
// latency floor of a durable accepted message (one transaction, one fsync).
func BenchSendLatency(b *testing.B, newStore NewStore) {
	w := newBenchWorld(b, newStore, 1, 10)
	payload := make([]byte, 200)
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		binary.BigEndian.PutUint64(payload, i)
		if _, err := w.svc.Send(context.Background(), w.members[0][int(i)%10], dstest.Application(w.groups[0], 1, payload), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchFetchSmall measures one push-driven read with no concurrency: a
// member of a group of 10 fetches the one new message of its queue and acks
// it (the ack is a durable write of its own here; under load acks share the
// writer's transactions).
func BenchFetchSmall(b *testing.B, newStore NewStore) {
	w := newBenchWorld(b, newStore, 5, 10)
	p := w.members[0][1]
	sender := w.members[0][0]
	payload := make([]byte, 200)
	var i uint64
	ctx := context.Background()
	var cur uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		binary.BigEndian.PutUint64(payload, i)
		b.StopTimer()
		if _, err := w.svc.Send(ctx, sender, dstest.Application(w.groups[0], 1, payload), nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		pg, err := w.svc.Fetch(ctx, p, cur, 100)
		if err != nil || len(pg.Deliveries) != 1 {
			b.Fatalf("fetch: %d, %v", len(pg.Deliveries), err)
		}
		cur = pg.Cursor
		if err := w.svc.Ack(ctx, p, cur); err != nil {
			b.Fatal(err)
		}
	}
}
