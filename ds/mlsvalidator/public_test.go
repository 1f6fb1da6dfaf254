package mlsvalidator_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

const cs = suite.X25519AES128GCMSHA256Ed25519

// TestEngineFollowsRealGroup drives the DS's validator with a real MLS group:
// creation from a GroupInfo, an Add commit, a stale commit, a tampered
// commit, a commit by the new member, two commits validated against the same
// state (the engine never changes a stored state), and a cold rebuild.
func TestEngineFollowsRealGroup(t *testing.T) {
	cfg := group.Config{}
	alice, err := group.Create(cfg, cs, []byte("gid"), ds.Identity("alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	gi, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	v := mlsvalidator.New(mlsvalidator.NewEngine(0))
	st, err := v.NewGroup(gi)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 0 || len(st.Members) != 1 || !bytes.Equal(st.Members[0].Identity, ds.Identity("alice", 1)) || string(st.GroupID) != "gid" {
		t.Fatalf("NewGroup: %+v", st)
	}
	aliceKey := st.Members[0].SignatureKey

	bobKP, err := group.NewKeyPackage(cfg, cs, ds.Identity("bob", 2))
	if err != nil {
		t.Fatal(err)
	}
	add, err := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: bobKP.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	// Tampered signature.
	bad := bytes.Clone(add.Commit)
	bad[len(bad)-100] ^= 1
	if _, err := v.Apply(st.Opaque, bad); !errors.Is(err, ds.ErrBadSignature) {
		t.Fatalf("tampered commit: %v", err)
	}
	vd, err := v.Apply(st.Opaque, add.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if !vd.Commit || vd.NewState.Epoch != 1 || len(vd.NewState.Members) != 2 ||
		!bytes.Equal(vd.Sender.Identity, ds.Identity("alice", 1)) || !bytes.Equal(vd.Sender.SignatureKey, aliceKey) {
		t.Fatalf("add commit verdict: %+v", vd)
	}
	s1 := vd.NewState.Opaque
	if _, err := v.Apply(s1, add.Commit); !errors.Is(err, ds.ErrStaleEpoch) {
		t.Fatalf("stale commit: %v", err)
	}

	bob, err := group.Join(cfg, bobKP, add.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two commits for epoch 1, each validated against s1: both valid on their
	// own (the DS's compare-and-swap picks one).
	cb, err := bob.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := alice.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	vb, err := v.Apply(s1, cb.Commit)
	if err != nil || !bytes.Equal(vb.Sender.Identity, ds.Identity("bob", 2)) || vb.NewState.Epoch != 2 {
		t.Fatalf("bob's commit: %+v %v", vb.Sender, err)
	}
	va, err := v.Apply(s1, ca.Commit)
	if err != nil || !bytes.Equal(va.Sender.Identity, ds.Identity("alice", 1)) {
		t.Fatalf("alice's commit against the same state: %v", err)
	}
	// bob's commit won; alice's is stale against the new state.
	if _, err := v.Apply(vb.NewState.Opaque, ca.Commit); !errors.Is(err, ds.ErrStaleEpoch) {
		t.Fatalf("losing commit against the winner's state: %v", err)
	}
	// A fresh engine (a restarted server) rebuilds the state from the log.
	cold := mlsvalidator.New(mlsvalidator.NewEngine(0))
	bob.MergePendingCommit()
	alice.Process(cb.Commit)
	rm, err := bob.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalRemove, RemovedIdentity: ds.Identity("alice", 1)}}})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := cold.Apply(vb.NewState.Opaque, rm.Commit)
	if err != nil || vr.NewState.Epoch != 3 || len(vr.NewState.Members) != 1 {
		t.Fatalf("remove after cold rebuild: %+v %v", vr.NewState.Members, err)
	}
	if _, err := cold.Apply([]byte("junk"), rm.Commit); !errors.Is(err, ds.ErrInvalidMessage) {
		t.Fatalf("junk state: %v", err)
	}
}

// TestEngineEpochStates: the public state the DS rebuilds for each past epoch
// of a real MLS group (for an authority decrypting under a warrant) is the
// members' own: the GroupContext, suite, leaf count and leaves equal those of
// a PublicGroup built from the GroupInfo a member published in that epoch.
// Epochs the group never reached are left out; a rebuild never disturbs the
// cached view the next commit is validated against; a malformed state is
// refused.
func TestEngineEpochStates(t *testing.T) {
	cfg := group.Config{}
	alice, err := group.Create(cfg, cs, []byte("gid"), ds.Identity("alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	v := mlsvalidator.New(mlsvalidator.NewEngine(0))
	var infos [][]byte // GroupInfo of each epoch, as alice publishes it
	snap := func() {
		gi, _, err := alice.GroupInfo(false)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, gi)
	}
	snap()
	st, err := v.NewGroup(infos[0])
	if err != nil {
		t.Fatal(err)
	}
	state := st.Opaque
	commit := func(o group.CommitOptions) *group.CommitResult {
		t.Helper()
		c, err := alice.Commit(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
		vd, err := v.Apply(state, c.Commit)
		if err != nil {
			t.Fatal(err)
		}
		state = vd.NewState.Opaque
		snap()
		return c
	}
	bobKP, err := group.NewKeyPackage(cfg, cs, ds.Identity("bob", 2))
	if err != nil {
		t.Fatal(err)
	}
	commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: bobKP.Message}}})                 // epoch 1
	commit(group.CommitOptions{ForcePath: true})                                                                                     // epoch 2
	commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalRemove, RemovedIdentity: ds.Identity("bob", 2)}}}) // epoch 3

	sts, err := v.EpochStates(state, []uint64{3, 1, 2, 9})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 {
		t.Fatalf("%d states, want epochs 1, 2, 3", len(sts))
	}
	for i, s := range sts {
		want := uint64(i + 1)
		pg, err := group.NewPublicGroup(infos[want], nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Epoch != want || string(s.GroupID) != "gid" || !bytes.Equal(s.GroupContext, pg.GroupContext()) ||
			s.Suite != uint16(pg.CipherSuite()) || s.LeafCount != pg.LeafCount() || len(s.Members) != len(pg.Members()) {
			t.Fatalf("epoch %d: rebuilt state differs from the members' (epoch %d, %d members, leaves %d)", want, s.Epoch, len(s.Members), s.LeafCount)
		}
		for _, m := range s.Members {
			key, _ := pg.MemberSignatureKey(m.Leaf)
			if !bytes.Equal(m.Identity, pg.Members()[m.Leaf]) || !bytes.Equal(m.SignatureKey, key) {
				t.Fatalf("epoch %d leaf %d differs", want, m.Leaf)
			}
		}
	}
	if len(sts[0].Members) != 2 || len(sts[2].Members) != 1 {
		t.Fatalf("members by epoch: %d, %d", len(sts[0].Members), len(sts[2].Members))
	}
	// The cached view of the latest state is untouched: the next commit validates.
	c, err := alice.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	if vd, err := v.Apply(state, c.Commit); err != nil || vd.NewState.Epoch != 4 {
		t.Fatalf("commit after EpochStates: %v", err)
	}
	if _, err := v.EpochStates([]byte("junk"), []uint64{1}); !errors.Is(err, ds.ErrInvalidMessage) {
		t.Fatalf("junk state: %v", err)
	}
	if _, err := mlsvalidator.New(nil).EpochStates(state, []uint64{1}); !errors.Is(err, ds.ErrNotFound) {
		t.Fatalf("no engine: %v", err)
	}
}
