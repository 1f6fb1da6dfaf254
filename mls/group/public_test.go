package group

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/suite"
)

// TestPublicGroupFollowsMembers: a PublicGroup built from a GroupInfo validates the
// same PublicMessage commits and proposals as the members and tracks membership;
// it rejects a commit whose signature was tampered with.
func TestPublicGroupFollowsMembers(t *testing.T) {
	cfg := Config{}
	alice, err := Create(cfg, suite.X25519AES128GCMSHA256Ed25519, []byte("g"), []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	gi, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := NewPublicGroup(gi, nil)
	if err != nil {
		t.Fatal(err)
	}
	bobKP, err := NewKeyPackage(cfg, suite.X25519AES128GCMSHA256Ed25519, []byte("bob"))
	if err != nil {
		t.Fatal(err)
	}
	prop, err := alice.Propose(ProposalSpec{Type: ProposalAdd, KeyPackage: bobKP.Message})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := pg.Process(prop); err != nil || r.Kind != KindProposal {
		t.Fatalf("server proposal: %v %v", r, err)
	}
	res, err := alice.Commit(CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	// Tamper with the FramedContent signature (before the confirmation and
	// membership tags at the end; the server cannot check the membership tag).
	bad := append([]byte(nil), res.Commit...)
	bad[len(bad)-100] ^= 1
	if _, err := pg.Process(bad); err == nil {
		t.Fatal("server accepted a tampered commit")
	}
	r, err := pg.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Staged.Added(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("added %v", got)
	}
	if err := pg.Merge(r.Staged); err != nil {
		t.Fatal(err)
	}
	if pg.Epoch() != alice.Epoch() || len(pg.Members()) != 2 || !bytes.Equal(pg.Members()[1], []byte("bob")) {
		t.Fatalf("server view epoch %d members %v", pg.Epoch(), pg.Members())
	}
	// The server's context matches the members' (same tree hash, transcript).
	if !bytes.Equal(pg.ctxBytes, alice.ctxBytes) || !bytes.Equal(pg.interim, alice.interim) {
		t.Fatal("server GroupContext or interim transcript hash differs from the member's")
	}
	bob, err := Join(cfg, bobKP, res.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Bob removes nobody but updates; the server follows.
	res, err = bob.Commit(CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	bob.MergePendingCommit()
	r, err = pg.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	pg.Merge(r.Staged)
	if !bytes.Equal(pg.ctxBytes, bob.ctxBytes) {
		t.Fatal("server diverged after bob's commit")
	}
}

// TestPublicGroupStateRoundTrip: the server view saves and restores (canonical
// bytes), keeps following commits after a restore, and rejects truncated state.
func TestPublicGroupStateRoundTrip(t *testing.T) {
	cfg := Config{}
	alice, bob, _, _ := threeMembers(t, cfg)
	gi, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := NewPublicGroup(gi, nil)
	if err != nil {
		t.Fatal(err)
	}
	prop, _ := bob.Propose(ProposalSpec{Type: ProposalUpdate})
	if _, err := pg.Process(prop); err != nil {
		t.Fatal(err)
	}
	saved, _ := pg.MarshalBinary()
	pg2, err := UnmarshalPublicGroup(saved)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := pg2.MarshalBinary(); !bytes.Equal(again, saved) {
		t.Fatal("restore then save changed the encoding")
	}
	alice.ReceiveProposal(prop)
	res, err := alice.Commit(CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice.MergePendingCommit()
	r, err := pg2.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	pg2.Merge(r.Staged)
	if !bytes.Equal(pg2.ctxBytes, alice.ctxBytes) {
		t.Fatal("restored server view diverged")
	}
	for i := range saved {
		if _, err := UnmarshalPublicGroup(saved[:i]); err == nil {
			t.Fatalf("truncated state (%d bytes) restored", i)
		}
	}
}

// TestPublicGroupEpochView checks what a verifier of an epoch's messages needs
// from the server's view: the same serialized GroupContext the members sign
// against, the cipher suite and the leaf count.
func TestPublicGroupEpochView(t *testing.T) {
	cfg := Config{}
	alice, _ := Create(cfg, suite.X25519ChaCha20Poly1305SHA256Ed25519, []byte("view"), []byte("alice"))
	gi, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := NewPublicGroup(gi, nil)
	if err != nil {
		t.Fatal(err)
	}
	bobKP, _ := NewKeyPackage(cfg, suite.X25519ChaCha20Poly1305SHA256Ed25519, []byte("bob"))
	res, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: bobKP.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	r, err := pg.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Merge(r.Staged); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pg.GroupContext(), alice.ctxBytes) {
		t.Fatal("server's GroupContext differs from the member's")
	}
	if pg.CipherSuite() != suite.X25519ChaCha20Poly1305SHA256Ed25519 || pg.LeafCount() != 2 {
		t.Fatalf("suite %v, %d leaves", pg.CipherSuite(), pg.LeafCount())
	}
}
