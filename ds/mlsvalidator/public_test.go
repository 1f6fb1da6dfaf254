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
