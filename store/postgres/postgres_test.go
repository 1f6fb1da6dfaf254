package postgres_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/store/postgres"
	"github.com/daylight-im/daylight/store/storetest"
)

// openFresh opens a store in a schema of its own, dropped when the test ends.
func openFresh(t testing.TB) *postgres.Store {
	dsn := testkit.RequirePostgres(t)
	b := make([]byte, 6)
	rand.Read(b)
	st, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Schema: "dstest_" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.DropSchema(context.Background()); err != nil {
			t.Errorf("DropSchema: %v", err)
		}
		st.Close()
	})
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) ds.Store { return openFresh(t) })
}

// TestTwoReplicasPush: two services (replicas) over one database; a message
// accepted by replica A wakes a subscriber on replica B through LISTEN/NOTIFY,
// and B serves it from the shared queue.
func TestTwoReplicasPush(t *testing.T) {
	dsn := testkit.RequirePostgres(t)
	ctx := t.Context()
	a := openFresh(t)
	b, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Schema: a.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	na, nb := postgres.NewNotifier(a, nil), postgres.NewNotifier(b, nil)
	defer na.Close()
	defer nb.Close()
	<-na.Ready()
	<-nb.Ready()
	sa, err := ds.New(ds.Config{Store: a, Validator: dstest.Fake{}, Notifier: na})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := ds.New(ds.Config{Store: b, Validator: dstest.Fake{}, Notifier: nb})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	reg := func(svc *ds.Service, name string) dstest.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "", pub))})
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}
	}
	alice, bob := reg(sa, "alice"), reg(sb, "bob")
	ap, bp := ds.Principal{Username: "alice", Device: alice.Device}, ds.Principal{Username: "bob", Device: bob.Device}
	gid := []byte("group-1")
	if _, err := sa.CreateGroup(ctx, ap, dstest.GroupInfo(gid, alice)); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Send(ctx, ap, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}), dstest.Welcome([]byte("w"))); err != nil {
		t.Fatal(err)
	}
	for _, pair := range []struct {
		from *ds.Service
		p    ds.Principal
		to   *ds.Service
		tp   ds.Principal
	}{{sa, ap, sb, bp}, {sb, bp, sa, ap}} {
		w, c := pair.to.Subscribe(pair.tp)
		msg := dstest.Application(gid, 1, []byte("hello from "+pair.p.Username))
		if _, err := pair.from.Send(ctx, pair.p, msg, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not woken on the other replica", pair.tp.Username)
		}
		c()
		pg, err := pair.to.Fetch(ctx, pair.tp, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if last := pg.Deliveries[len(pg.Deliveries)-1]; string(last.Data) != string(msg) {
			t.Fatalf("%s fetched %q", pair.tp.Username, last.Data)
		}
	}
}

func BenchmarkAccepted(b *testing.B) {
	storetest.BenchAccepted(b, func(t testing.TB) ds.Store { return openFresh(t) })
}

func BenchmarkDelivered(b *testing.B) {
	storetest.BenchDelivered(b, func(t testing.TB) ds.Store { return openFresh(t) })
}

// TestTwoReplicasOneCommitPerEpoch: commits for one epoch racing through two
// replicas (two services, two connection pools, one database): exactly one
// is accepted per epoch, the others get ErrStaleEpoch.
func TestTwoReplicasOneCommitPerEpoch(t *testing.T) {
	dsn := testkit.RequirePostgres(t)
	ctx := t.Context()
	a := openFresh(t)
	b, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Schema: a.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var svcs []*ds.Service
	for _, st := range []ds.Store{a, b} {
		s, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		svcs = append(svcs, s)
	}
	const n = 6
	signers := make([]dstest.Signer, n)
	for i := range signers {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		name := "user" + string(rune('a'+i))
		d, err := svcs[i%2].Register(ctx, ds.RegisterRequest{Username: name, SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "", pub))})
		if err != nil {
			t.Fatal(err)
		}
		signers[i] = dstest.Signer{Username: name, Device: d.ID, Key: priv}
	}
	p := func(s dstest.Signer) ds.Principal { return ds.Principal{Username: s.Username, Device: s.Device} }
	gid := []byte("race")
	if _, err := svcs[0].CreateGroup(ctx, p(signers[0]), dstest.GroupInfo(gid, signers[0])); err != nil {
		t.Fatal(err)
	}
	var add []dstest.FakeMember
	for _, s := range signers[1:] {
		add = append(add, s.Member())
	}
	if _, err := svcs[0].Send(ctx, p(signers[0]), dstest.Commit(gid, 0, signers[0], add), nil); err != nil {
		t.Fatal(err)
	}
	for epoch := uint64(1); epoch <= 5; epoch++ {
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			msg := dstest.Commit(gid, epoch, signers[i], nil)
			wg.Go(func() {
				<-start
				_, errs[i] = svcs[i%2].Send(ctx, p(signers[i]), msg, nil)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ds.ErrStaleEpoch):
				t.Fatalf("epoch %d: commit %d: %v", epoch, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("epoch %d: %d commits accepted across two replicas, want 1", epoch, wins)
		}
	}
	problems, err := a.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("invariant: %s", pr)
	}
}

func BenchmarkSendLatency(b *testing.B) {
	storetest.BenchSendLatency(b, func(t testing.TB) ds.Store { return openFresh(t) })
}
