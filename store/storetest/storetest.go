// Package storetest is the conformance suite every ds.Store implementation
// passes: store/sqlite and store/postgres call Run from their tests. It drives
// the store both directly and through ds.Service with the fake validator of
// ds/dstest, so the behaviour the delivery service promises (one commit per
// epoch, ordered fan-out, one-time KeyPackages, bad input changing nothing)
// is checked on every backend.
package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

// NewStore returns a fresh, empty store for one test; Run closes it.
type NewStore func(t testing.TB) ds.Store

// Run runs the conformance suite.
func Run(t *testing.T, newStore NewStore) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newStore)
			tc.fn(t, e)
			e.check(t)
		})
	}
}

// RunOne runs one case of the suite by name (for tests named after the
// attack they attempt); an unknown name fails.
func RunOne(t *testing.T, newStore NewStore, name string) {
	for _, tc := range cases {
		if tc.name == name {
			e := newEnv(t, newStore)
			tc.fn(t, e)
			e.check(t)
			return
		}
	}
	t.Fatalf("storetest: no case %q", name)
}

var cases = []struct {
	name string
	fn   func(*testing.T, *env)
}{
	{"RegisterAuthenticate", testRegisterAuthenticate},
	{"RegisterBadInput", testRegisterBadInput},
	{"AuthForgedSignature", testAuthForgedSignature},
	{"LinkListRevoke", testLinkListRevoke},
	{"KeyPackagesOneTime", testKeyPackagesOneTime},
	{"KeyPackagesConcurrentClaims", testKeyPackagesConcurrentClaims},
	{"KeyPackagesBadInput", testKeyPackagesBadInput},
	{"GroupFanOutOrder", testGroupFanOutOrder},
	{"StaleEpochCommit", testStaleEpochCommit},
	{"ConcurrentCommitsOneWins", testConcurrentCommitsOneWins},
	{"ReplayedMessage", testReplayedMessage},
	{"RemovedMember", testRemovedMember},
	{"ForgedCommit", testForgedCommit},
	{"GhostDevice", testGhostDevice},
	{"MalformedMessages", testMalformedMessages},
	{"ProposalThenCommit", testProposalThenCommit},
	{"ExternalCommit", testExternalCommit},
	{"AppendBatchMixed", testAppendBatchMixed},
	{"AckAndGC", testAckAndGC},
	{"Retention", testRetention},
	{"Notify", testNotify},
	{"Blobs", testBlobs},
	{"RevokeEndsDelivery", testRevokeEndsDelivery},
	{"StampDelivered", testStampDelivered},
	{"EscrowRecords", testEscrowRecords},
	{"EpochStatements", testEpochStatements},
	{"AccountGroups", testAccountGroups},
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	ctx   context.Context
	st    ds.Store
	svc   *ds.Service
	clock *clock
	n     int
}

func newEnv(t *testing.T, newStore NewStore) *env {
	st := newStore(t)
	c := &clock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	svc, err := ds.New(ds.Config{
		Store: st, Validator: dstest.Fake{}, Now: c.Now,
		Retention: 48 * time.Hour, BlobChunkBytes: 1000, MaxBlobBytes: 1 << 20, MaxMessageBytes: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close()
		st.Close()
	})
	return &env{ctx: t.Context(), st: st, svc: svc, clock: c}
}

func (e *env) check(t *testing.T) {
	t.Helper()
	problems, err := e.svc.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, p := range problems {
		t.Errorf("invariant violated: %s", p)
	}
}

// user registers a user with one device and returns its signer and principal.
func (e *env) user(t *testing.T, name string) (dstest.Signer, ds.Principal) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	d, err := e.svc.Register(e.ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
		Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "phone", pub))})
	if err != nil {
		t.Fatalf("Register(%s): %v", name, err)
	}
	return dstest.Signer{Username: name, Device: d.ID, Key: priv}, ds.Principal{Username: name, Device: d.ID}
}

// link adds a device to s's account, approved by s.
func (e *env) link(t *testing.T, s dstest.Signer, name string) (dstest.Signer, ds.Principal) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	d, err := e.svc.LinkDevice(e.ctx, ds.LinkRequest{Username: s.Username, Approver: s.Device, DeviceName: name, SigningKey: pub,
		Approval:  ed25519.Sign(s.Key, ds.LinkStatement(s.Username, s.Device, name, pub)),
		Signature: ed25519.Sign(priv, ds.RegisterStatement(s.Username, name, pub))})
	if err != nil {
		t.Fatalf("LinkDevice: %v", err)
	}
	return dstest.Signer{Username: s.Username, Device: d.ID, Key: priv}, ds.Principal{Username: s.Username, Device: d.ID}
}

func pr(s dstest.Signer) ds.Principal { return ds.Principal{Username: s.Username, Device: s.Device} }

func randomID() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

// group creates a group by creator and adds the others with one commit.
// It returns the group id and its epoch.
func (e *env) group(t *testing.T, creator dstest.Signer, others ...dstest.Signer) ([]byte, uint64) {
	t.Helper()
	gid := randomID()
	if _, err := e.svc.CreateGroup(e.ctx, pr(creator), dstest.GroupInfo(gid, creator)); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if len(others) == 0 {
		return gid, 0
	}
	var add []dstest.FakeMember
	for _, o := range others {
		add = append(add, o.Member())
	}
	if _, err := e.svc.Send(e.ctx, pr(creator), dstest.Commit(gid, 0, creator, add), dstest.Welcome([]byte("welcome"))); err != nil {
		t.Fatalf("add commit: %v", err)
	}
	return gid, 1
}

// drain fetches a device's whole queue in pages, acking nothing.
func (e *env) drain(t *testing.T, p ds.Principal, page int) []ds.Delivery {
	t.Helper()
	var out []ds.Delivery
	var cur uint64
	for {
		pg, err := e.svc.Fetch(e.ctx, p, cur, page)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		out = append(out, pg.Deliveries...)
		if pg.Cursor < cur {
			t.Fatalf("Fetch cursor went back from %d to %d", cur, pg.Cursor)
		}
		if len(pg.Deliveries) == 0 {
			return out
		}
		cur = pg.Cursor
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func digest(b []byte) [32]byte { return sha256.Sum256(b) }

func app(gid []byte, epoch uint64, i int) []byte {
	return dstest.Application(gid, epoch, fmt.Appendf(nil, "message %d", i))
}
