package ds_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/store/sqlite"
)

// benchPool is the number of distinct franked messages prepared per run; runs
// longer than that fail (use -benchtime=Nx with N ≤ benchPool).
const benchPool = 20000

// sendBench prepares a delivery service on SQLite with the real validator, a
// two-member group and benchPool franked application messages from alice.
func sendBench(b *testing.B, fr ds.Franking) (*ds.Service, ds.Principal, [][]byte) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "d.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(0)), Franking: fr})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	cs := suite.X25519AES128GCMSHA256Ed25519
	reg := func(name string) (ds.Principal, []byte) {
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		k := ed25519.NewKeyFromSeed(seed)
		pub := k.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "p", SigningKey: pub, Signature: ed25519.Sign(k, ds.RegisterStatement(name, "p", pub))})
		if err != nil {
			b.Fatal(err)
		}
		return ds.Principal{Username: name, Device: d.ID}, seed
	}
	alice, aseed := reg("alice")
	bob, bseed := reg("bob")
	kp, _ := group.NewKeyPackage(group.Config{Rand: seededReader(bseed)}, cs, ds.Identity("bob", bob.Device))
	if err := svc.UploadKeyPackages(ctx, bob, [][]byte{kp.Message}); err != nil {
		b.Fatal(err)
	}
	ag, _ := group.Create(group.Config{Rand: seededReader(aseed)}, cs, []byte("bench"), ds.Identity("alice", alice.Device))
	gi, _, _ := ag.GroupInfo(false)
	if _, err := svc.CreateGroup(ctx, alice, gi); err != nil {
		b.Fatal(err)
	}
	kps, _ := svc.ClaimKeyPackages(ctx, alice, "bob")
	add, _ := ag.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: kps[0].Data}}})
	if _, err := svc.Send(ctx, alice, add.Commit, add.Welcome); err != nil {
		b.Fatal(err)
	}
	ag.MergePendingCommit()
	sender := ds.StampSender(alice)
	text := make([]byte, 200)
	msgs := make([][]byte, benchPool)
	for i := range msgs {
		content, c, _ := franking.Protect(rand.Reader, []byte("bench"), sender, text)
		if msgs[i], err = ag.Protect(c[:], content); err != nil {
			b.Fatal(err)
		}
	}
	return svc, alice, msgs
}

type noSuspensions struct{}

func (noSuspensions) Suspended(context.Context, string) (bool, error) { return false, nil }

// BenchmarkSendFranking measures ds.Send throughput (8 concurrent senders per
// core, group commit on SQLite) of 200-byte franked application messages
// without and with the provider's franking hook (stamp + suspension check).
// Compare ns/op and msgs/s of the two sub-benchmarks (docs/benchmarks.md).
func BenchmarkSendFranking(b *testing.B) {
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	stamper, _ := franking.NewStamper(key)
	for _, tc := range []struct {
		name string
		fr   ds.Franking
	}{
		{"off", ds.Franking{}},
		{"stamp", ds.Franking{Stamper: stamper}},
		{"stamp+suspensions", ds.Franking{Stamper: stamper, Suspensions: noSuspensions{}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			svc, alice, msgs := sendBench(b, tc.fr)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if i >= int64(len(msgs)) {
						b.Error("benchmark ran past the prepared messages; use -benchtime=Nx with N <= 20000")
						return
					}
					if _, err := svc.Send(context.Background(), alice, msgs[i], nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkFrankingAdmit is the hook's own cost per message: reading the
// commitment from the PrivateMessage, stamping, encoding the stamp.
func BenchmarkFrankingAdmit(b *testing.B) {
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	stamper, _ := franking.NewStamper(key)
	_, c, _ := franking.Protect(rand.Reader, []byte("bench"), franking.Sender{Account: "alice", Device: "1"}, make([]byte, 200))
	sender := franking.Sender{Account: "alice", Device: "1"}
	b.ReportAllocs()
	for b.Loop() {
		st, err := stamper.Stamp(c, sender, []byte("bench"), 1700000000000)
		if err != nil {
			b.Fatal(err)
		}
		_ = st.Marshal()
	}
}
