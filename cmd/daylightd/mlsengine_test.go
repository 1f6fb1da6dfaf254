package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// TestPublicEngineFollowsRealMLS drives the adapter with real mls/group
// messages: creation, an Add proposal, a commit, a commit with a path by the
// new member, a tampered commit, a stale commit, and a rebuild from the
// stored state by a fresh engine (as after a restart).
func TestPublicEngineFollowsRealMLS(t *testing.T) {
	cs := suite.X25519AES128GCMSHA256Ed25519
	cfg := group.Config{}
	alice, err := group.Create(cfg, cs, []byte("group-1"), ds.Identity("alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	gi, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	e := newPublicEngine()
	st, err := e.NewGroup(gi)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 0 || len(st.Members) != 1 || !bytes.Equal(st.Members[0].Identity, ds.Identity("alice", 1)) {
		t.Fatalf("initial state %+v", st)
	}
	bobKP, err := group.NewKeyPackage(cfg, cs, ds.Identity("bob", 2))
	if err != nil {
		t.Fatal(err)
	}
	prop, err := alice.Propose(group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: bobKP.Message})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Apply(st.Opaque, prop)
	if err != nil || v.Commit || v.NewState.Epoch != 0 || !bytes.Equal(v.Sender.Identity, ds.Identity("alice", 1)) {
		t.Fatalf("proposal: %+v %v", v, err)
	}
	st = v.NewState
	res, err := alice.Commit(group.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), res.Commit...)
	bad[len(bad)-100] ^= 1
	if _, err := e.Apply(st.Opaque, bad); err == nil {
		t.Fatal("tampered commit accepted")
	}
	v, err = e.Apply(st.Opaque, res.Commit)
	if err != nil || !v.Commit || v.NewState.Epoch != 1 || len(v.NewState.Members) != 2 {
		t.Fatalf("commit: %+v %v", v, err)
	}
	afterAdd := v.NewState
	// The same commit against the new state is for a past epoch.
	if _, err := e.Apply(afterAdd.Opaque, res.Commit); !errors.Is(err, ds.ErrStaleEpoch) && !errors.Is(err, ds.ErrInvalidMessage) {
		t.Fatalf("stale commit: %v", err)
	}
	bob, err := group.Join(cfg, bobKP, res.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := bob.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh engine (restart): rebuilt by replay from the stored state.
	e2 := newPublicEngine()
	v, err = e2.Apply(afterAdd.Opaque, res2.Commit)
	if err != nil || !v.Commit || v.NewState.Epoch != 2 || !bytes.Equal(v.Sender.Identity, ds.Identity("bob", 2)) {
		t.Fatalf("bob's commit after replay: %+v %v", v, err)
	}
	// And the first engine agrees, from its cache.
	v1, err := e.Apply(afterAdd.Opaque, res2.Commit)
	if err != nil || !bytes.Equal(v1.NewState.Opaque, v.NewState.Opaque) {
		t.Fatalf("cached and replayed engines disagree: %v", err)
	}
}
