package group

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/mls/suite"
)

// TestJoinRejectsForeignTree: a Welcome joined with a ratchet tree that is not the
// group's (tree hash differs from GroupInfo.tree_hash) is rejected (RFC 9420,
// Section 12.4.3.1).
func TestJoinRejectsForeignTree(t *testing.T) {
	cfg := Config{}
	alice, _ := Create(cfg, cs1, []byte("a"), []byte("alice"))
	other, _ := Create(cfg, cs1, []byte("b"), []byte("mallory"))
	bobKP, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	res, err := alice.Commit(CommitOptions{ExternalTree: true, ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: bobKP.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Join(cfg, bobKP, res.Welcome, nil); err == nil {
		t.Fatal("joined without any ratchet tree")
	}
	if _, err := Join(cfg, bobKP, res.Welcome, other.tree.marshal()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("joined with a foreign tree: %v", err)
	}
	// Tamper one byte of the right tree: tree hash or leaf signature must fail.
	tree := res.RatchetTree
	for _, i := range []int{5, len(tree) / 2, len(tree) - 3} {
		bad := append([]byte(nil), tree...)
		bad[i] ^= 1
		if _, err := Join(cfg, bobKP, res.Welcome, bad); err == nil {
			t.Fatalf("joined with a tree tampered at byte %d", i)
		}
	}
	if _, err := Join(cfg, bobKP, res.Welcome, tree); err != nil {
		t.Fatalf("genuine tree: %v", err)
	}
}

// TestWelcomeForOtherKeyPackageRejected: a Welcome that has no secrets for our
// KeyPackage is rejected.
func TestWelcomeForOtherKeyPackageRejected(t *testing.T) {
	cfg := Config{}
	alice, _ := Create(cfg, cs1, []byte("a"), []byte("alice"))
	bobKP, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	eveKP, _ := NewKeyPackage(cfg, cs1, []byte("eve"))
	res, _ := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: bobKP.Message}}})
	if _, err := Join(cfg, eveKP, res.Welcome, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("eve joined with bob's Welcome: %v", err)
	}
}

// TestWrongEpochRejected: a handshake message of a past epoch is rejected with
// ErrWrongEpoch and a replayed application message is rejected.
func TestWrongEpochRejected(t *testing.T) {
	cfg := Config{}
	alice, bob, _, _ := threeMembers(t, cfg)
	old, err := alice.Propose(ProposalSpec{Type: ProposalUpdate})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := bob.Commit(CommitOptions{ForcePath: true})
	bob.MergePendingCommit()
	r, err := alice.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	alice.Merge(r.Staged)
	if _, err := bob.Process(old); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("old-epoch proposal: %v", err)
	}
	if _, err := alice.Process(res.Commit); err == nil {
		t.Fatal("commit replayed into the next epoch accepted")
	}
	ct, _ := alice.Protect(nil, []byte("once"))
	if _, err := bob.Process(ct); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Process(ct); err == nil {
		t.Fatal("replayed application message accepted")
	}
}

// TestRemovedMemberCannotSend: after a commit removing it, a member refuses to
// protect, propose or commit, and the others reject nothing from it.
func TestRemovedMemberCannotSend(t *testing.T) {
	cfg := Config{}
	alice, bob, _, _ := threeMembers(t, cfg)
	res, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalRemove, RemovedIdentity: []byte("bob")}}})
	if err != nil {
		t.Fatal(err)
	}
	alice.MergePendingCommit()
	r, err := bob.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Staged.RemovesSelf() {
		t.Fatal("staged commit does not report bob's removal")
	}
	bob.Merge(r.Staged)
	if _, err := bob.Protect(nil, []byte("x")); err == nil {
		t.Fatal("removed member protected a message")
	}
	if _, err := bob.Commit(CommitOptions{}); err == nil {
		t.Fatal("removed member committed")
	}
	if _, ok := alice.Members()[1]; ok {
		t.Fatal("bob still listed")
	}
}

// TestKeyPackageChecks: KeyPackages with init_key equal to the leaf encryption key,
// a wrong leaf_node_source or another suite are rejected (RFC 9420, Section 10.1).
func TestKeyPackageChecks(t *testing.T) {
	s, _ := suite.Lookup(cs1)
	kp, _ := NewKeyPackage(Config{}, cs1, []byte("x"))
	if err := verifyKeyPackage(s, kp.kp); err != nil {
		t.Fatal(err)
	}
	same := *kp.kp
	same.InitKey = same.LeafNode.EncryptionKey
	if verifyKeyPackage(s, &same) == nil {
		t.Fatal("init_key == encryption_key accepted")
	}
	src := *kp.kp
	src.LeafNode.Source = leafSourceUpdate
	if verifyKeyPackage(s, &src) == nil {
		t.Fatal("leaf_node_source update accepted in a KeyPackage")
	}
	s3, _ := suite.Lookup(suite.X25519ChaCha20Poly1305SHA256Ed25519)
	if verifyKeyPackage(s3, kp.kp) == nil {
		t.Fatal("KeyPackage of another suite accepted")
	}
	if bytes.Equal(kp.InitPriv, kp.EncryptionPriv) {
		t.Fatal("init and encryption keys are the same")
	}
}

// TestPadding: with PadBlock, application ciphertexts of different short lengths
// have the same size, and still decrypt.
func TestPadding(t *testing.T) {
	cfg := Config{PadBlock: 64}
	alice, bob, _, _ := threeMembers(t, cfg)
	a, _ := alice.Protect(nil, []byte("a"))
	b, _ := alice.Protect(nil, []byte("a somewhat longer message"))
	if len(a) != len(b) {
		t.Fatalf("padded sizes differ: %d vs %d", len(a), len(b))
	}
	for _, ct := range [][]byte{a, b} {
		if _, err := bob.Process(ct); err != nil {
			t.Fatal(err)
		}
	}
}
