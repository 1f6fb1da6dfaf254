package group

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/suite"
)

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func processMerge(t *testing.T, g *Group, msg []byte) {
	t.Helper()
	r, err := g.Process(msg)
	mustNil(t, err)
	if r.Kind != KindCommit {
		t.Fatalf("got %v, want commit", r.Kind)
	}
	mustNil(t, g.Merge(r.Staged))
}

// TestExternalJoinAndResync: a client joins by external commit from a GroupInfo
// (with and without the tree inside), then rejoins removing its prior leaf
// (RFC 9420, Section 12.4.3.2); members follow both commits.
func TestExternalJoinAndResync(t *testing.T) {
	cfg := Config{}
	alice, bob, _, _ := threeMembers(t, cfg)
	gi, tree, err := alice.GroupInfo(true)
	mustNil(t, err)
	if _, _, err := ExternalJoin(cfg, gi, ExternalJoinOptions{Identity: []byte("dave")}); err == nil {
		t.Fatal("external join without the tree succeeded")
	}
	dave, commit, err := ExternalJoin(cfg, gi, ExternalJoinOptions{RatchetTree: tree, Identity: []byte("dave")})
	mustNil(t, err)
	processMerge(t, alice, commit)
	processMerge(t, bob, commit)
	if !bytes.Equal(dave.EpochAuthenticator(), alice.EpochAuthenticator()) {
		t.Fatal("external joiner disagrees")
	}
	gi, _, err = bob.GroupInfo(false)
	mustNil(t, err)
	dave2, commit, err := ExternalJoin(cfg, gi, ExternalJoinOptions{Identity: []byte("dave"), RemovePrior: true})
	mustNil(t, err)
	processMerge(t, alice, commit)
	processMerge(t, bob, commit)
	if !bytes.Equal(dave2.EpochAuthenticator(), alice.EpochAuthenticator()) || len(alice.Members()) != 4 {
		t.Fatalf("resync: members %v", alice.Members())
	}
	// Attack: an external joiner removes another member (bob, leaf 1).
	gi, _, err = alice.GroupInfo(false)
	mustNil(t, err)
	victim := uint32(1)
	_, commit, err = ExternalJoin(cfg, gi, ExternalJoinOptions{Identity: []byte("mallory"), removeLeaf: &victim})
	mustNil(t, err)
	before := save(t, alice)
	if _, err := alice.Process(commit); err == nil {
		t.Fatal("external commit removing another member accepted")
	}
	if !bytes.Equal(save(t, alice), before) {
		t.Fatal("rejected external commit changed state")
	}
}

// TestExternalSendersAndJoinerProposals: a DS-like external signer is added through
// external_senders and its Remove is committed; a joiner's self-signed Add is
// committed and the joiner enters with the Welcome (RFC 9420, Section 12.1.8).
func TestExternalSendersAndJoinerProposals(t *testing.T) {
	cfg := Config{}
	alice, bob, charlie, _ := threeMembers(t, cfg)
	ds, err := NewExternalSigner(cfg, cs1, []byte("ds"))
	mustNil(t, err)
	p, err := alice.ProposeAddExternalSender(ds.ExternalSender())
	mustNil(t, err)
	mustNil(t, bob.ReceiveProposal(p))
	mustNil(t, charlie.ReceiveProposal(p))
	res, err := alice.Commit(CommitOptions{})
	mustNil(t, err)
	mustNil(t, alice.MergePendingCommit())
	processMerge(t, bob, res.Commit)
	processMerge(t, charlie, res.Commit)

	gi, tree, err := alice.GroupInfo(true)
	mustNil(t, err)
	rm, err := ds.Propose(gi, tree, ProposalSpec{Type: ProposalRemove, RemovedIdentity: []byte("charlie")})
	mustNil(t, err)
	joiner, add, err := NewMemberAddProposal(cfg, func() []byte { g, _, _ := alice.GroupInfo(false); return g }(), []byte("erin"))
	mustNil(t, err)
	for _, g := range []*Group{alice, bob} {
		mustNil(t, g.ReceiveProposal(rm))
		mustNil(t, g.ReceiveProposal(add))
	}
	res, err = bob.Commit(CommitOptions{})
	mustNil(t, err)
	mustNil(t, bob.MergePendingCommit())
	processMerge(t, alice, res.Commit)
	erin, err := Join(cfg, joiner, res.Welcome, nil)
	mustNil(t, err)
	if !bytes.Equal(erin.EpochAuthenticator(), alice.EpochAuthenticator()) {
		t.Fatal("joiner disagrees")
	}
	members := alice.Members()
	for _, id := range members {
		if string(id) == "charlie" {
			t.Fatalf("charlie not removed: %v", members)
		}
	}
	if len(members) != 3 {
		t.Fatalf("members %v", members)
	}
	// An outsider not in external_senders cannot propose.
	mallory, _ := NewExternalSigner(cfg, cs1, []byte("mallory"))
	if _, err := mallory.Propose(gi, tree, ProposalSpec{Type: ProposalRemove, RemovedLeaf: 0}); err == nil {
		t.Fatal("non-listed external signer proposed")
	}
}

// TestBranchAndReInit: a branch and a reinit (to suite 3) carry the resumption
// PSK of the original group; members join with JoinSubgroup (RFC 9420, Sections
// 11.2, 11.3); a client outside the original group cannot join the branch.
func TestBranchAndReInit(t *testing.T) {
	cfg := Config{}
	alice, bob, _, _ := threeMembers(t, cfg)
	bobKP, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	br, res, err := alice.Branch(cfg, SubgroupOptions{GroupID: []byte("branch"), KeyPackages: [][]byte{bobKP.Message}})
	mustNil(t, err)
	bobBr, err := JoinSubgroup(cfg, bobKP, res.Welcome, nil, bob)
	mustNil(t, err)
	if !bytes.Equal(br.EpochAuthenticator(), bobBr.EpochAuthenticator()) || br.Epoch() != 1 {
		t.Fatal("branch disagrees")
	}
	// Joining the branch without the original group's resumption PSK fails.
	other, _ := Create(cfg, cs1, []byte("other"), []byte("bob"))
	bobKP2, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	_, res2, err := alice.Branch(cfg, SubgroupOptions{GroupID: []byte("branch2"), KeyPackages: [][]byte{bobKP2.Message}})
	mustNil(t, err)
	if _, err := JoinSubgroup(cfg, bobKP2, res2.Welcome, nil, other); err == nil {
		t.Fatal("joined a branch without the resumption PSK")
	}

	p, err := bob.Propose(ProposalSpec{Type: ProposalReInit, GroupID: []byte("reinit"), CipherSuite: suite.X25519ChaCha20Poly1305SHA256Ed25519})
	mustNil(t, err)
	mustNil(t, alice.ReceiveProposal(p))
	res, err = alice.Commit(CommitOptions{})
	mustNil(t, err)
	mustNil(t, alice.MergePendingCommit())
	processMerge(t, bob, res.Commit)
	if _, err := alice.Protect(nil, []byte("x")); err == nil {
		t.Fatal("group used after ReInit")
	}
	bobNew, _ := NewKeyPackage(cfg, suite.X25519ChaCha20Poly1305SHA256Ed25519, []byte("bob"))
	ng, res, err := alice.ReInitWelcome(cfg, SubgroupOptions{KeyPackages: [][]byte{bobNew.Message}})
	mustNil(t, err)
	bobNG, err := JoinSubgroup(cfg, bobNew, res.Welcome, nil, bob)
	mustNil(t, err)
	if ng.CipherSuite() != suite.X25519ChaCha20Poly1305SHA256Ed25519 || !bytes.Equal(ng.EpochAuthenticator(), bobNG.EpochAuthenticator()) {
		t.Fatal("reinit group disagrees")
	}
}
