package group

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/daylight-im/daylight/mls/wire"
)

var errRefused = errors.New("credential refused by test validator")

// denyList is a credential validator refusing the listed identities; the list
// can change while groups run (a revocation).
type denyList struct {
	mu     sync.Mutex
	denied map[string]bool
	calls  int
}

func (d *denyList) validate(cred *wire.Credential, signatureKey []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if len(signatureKey) == 0 {
		return errors.New("no signature key")
	}
	if d.denied[string(cred.Identity)] {
		return errRefused
	}
	return nil
}

func (d *denyList) deny(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.denied[id] = true
}

// refusedUnchanged checks that err carries the validator's refusal and that g's
// saved state equals before.
func refusedUnchanged(t *testing.T, what string, err error, g *Group, before []byte) {
	t.Helper()
	if !errors.Is(err, errRefused) {
		t.Fatalf("%s: got %v, want the validator's refusal", what, err)
	}
	if g != nil && !bytes.Equal(save(t, g), before) {
		t.Fatalf("%s: refused %s changed the state", what, what)
	}
}

// TestCredentialValidatorRefuses attempts to bring a leaf whose credential the
// application's validator refuses (RFC 9420, Section 5.3.1) into a group by
// every route: an Add we commit or propose, a received Add proposal and a
// received commit with an Add, a Welcome whose tree holds the leaf, an Update
// proposal and an UpdatePath after the credential is revoked, an external
// join into a tree holding the leaf and an external commit by the leaf. Each
// fails with the validator's error and leaves the state byte-identical.
func TestCredentialValidatorRefuses(t *testing.T) {
	dl := &denyList{denied: map[string]bool{"mallory": true}}
	strict := Config{CredentialValidator: dl.validate}
	open := Config{}
	alice, bob, charlie, _ := threeMembers(t, strict)
	charlie.cfg = open // charlie's application does not check credentials
	charlie.validateCredential = nil
	mallory, err := NewKeyPackage(open, cs1, []byte("mallory"))
	if err != nil {
		t.Fatal(err)
	}
	addMallory := []ProposalSpec{{Type: ProposalAdd, KeyPackage: mallory.Message}}

	// Our own Add: Commit and Propose refuse the KeyPackage.
	before := save(t, alice)
	_, err = alice.Commit(CommitOptions{ByValue: addMallory})
	refusedUnchanged(t, "own commit with Add", err, alice, before)
	_, err = alice.Propose(addMallory[0])
	refusedUnchanged(t, "own Add proposal", err, alice, before)

	// A received Add proposal and a received commit adding mallory.
	prop, err := charlie.Propose(addMallory[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Process(prop)
	refusedUnchanged(t, "received Add proposal", err, alice, before)
	charlie.proposals = nil
	res, err := charlie.Commit(CommitOptions{ByValue: addMallory})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Process(res.Commit)
	refusedUnchanged(t, "received commit with Add", err, alice, before)

	// A Welcome into a tree holding mallory: the joiner refuses it.
	if err := charlie.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	daveKP, _ := NewKeyPackage(strict, cs1, []byte("dave"))
	res2, err := charlie.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: daveKP.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Join(strict, daveKP, res2.Welcome, nil)
	refusedUnchanged(t, "Welcome tree", err, nil, nil)
	if _, err := Join(open, daveKP, res2.Welcome, nil); err != nil {
		t.Fatalf("the same Welcome without a validator: %v", err)
	}

	// An external join into a tree holding mallory.
	gi, _, err := charlie.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ExternalJoin(strict, gi, ExternalJoinOptions{Identity: []byte("erin")})
	refusedUnchanged(t, "external join tree", err, nil, nil)

	// An external commit by mallory into alice's group.
	gi, _, err = alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	_, extCommit, err := ExternalJoin(open, gi, ExternalJoinOptions{Identity: []byte("mallory")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Process(extCommit)
	refusedUnchanged(t, "external commit", err, alice, before)

	// bob's credential is revoked: his Update proposal and his commit with an
	// UpdatePath are refused.
	dl.deny("bob")
	upd, err := bob.Propose(ProposalSpec{Type: ProposalUpdate})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Process(upd)
	refusedUnchanged(t, "Update proposal", err, alice, before)
	bob.proposals = nil
	res3, err := bob.Commit(CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Process(res3.Commit)
	refusedUnchanged(t, "commit with UpdatePath", err, alice, before)

	// Leaves the validator accepts still go through.
	bob.pending = nil
	erinKP, _ := NewKeyPackage(strict, cs1, []byte("erin"))
	res4, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: erinKP.Message}}, ForcePath: true})
	if err != nil {
		t.Fatalf("accepted credential: %v", err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Join(open, erinKP, res4.Welcome, nil); err != nil {
		t.Fatal(err)
	}
	if dl.calls == 0 {
		t.Fatal("validator never called")
	}
}

// TestPublicGroupCredentialValidator gives the delivery server's view the same
// credential check as the members: a GroupInfo whose tree holds a refused
// leaf is refused, and so is a commit adding one, while the view stays at its
// epoch with its members.
func TestPublicGroupCredentialValidator(t *testing.T) {
	dl := &denyList{denied: map[string]bool{"mallory": true}}
	alice, _, _, _ := threeMembers(t, Config{})
	gi, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := NewPublicGroupWithConfig(PublicConfig{CredentialValidator: dl.validate}, gi, nil)
	if err != nil {
		t.Fatalf("view of a group without refused leaves: %v", err)
	}
	mallory, err := NewKeyPackage(Config{}, cs1, []byte("mallory"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: mallory.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	epoch, members := pg.Epoch(), len(pg.Members())
	if _, err := pg.Process(res.Commit); !errors.Is(err, errRefused) {
		t.Fatalf("commit adding a refused credential: got %v, want the validator's refusal", err)
	}
	if pg.Epoch() != epoch || len(pg.Members()) != members {
		t.Fatalf("refused commit changed the view: epoch %d members %d", pg.Epoch(), len(pg.Members()))
	}
	// Without a validator the same commit is accepted (the check is the validator's).
	open, err := NewPublicGroup(gi, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.Process(res.Commit); err != nil {
		t.Fatalf("the same commit without a validator: %v", err)
	}
	// A view built from a GroupInfo whose tree holds mallory is refused.
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	gi2, _, err := alice.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPublicGroupWithConfig(PublicConfig{CredentialValidator: dl.validate}, gi2, nil); !errors.Is(err, errRefused) {
		t.Fatalf("GroupInfo tree holding a refused leaf: got %v, want the validator's refusal", err)
	}
}
