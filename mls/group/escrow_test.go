package group_test

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
)

// TestEscrowSecretsOpenTheEpoch checks the lawful-access hook: with
// KeepEscrowSecrets every member reports the same (encryption_secret,
// sender_data_secret) for an epoch, they survive MarshalBinary, they change
// with the epoch, and they are enough to read the epoch's PrivateMessages;
// without the option nothing is kept (RFC 9420, Section 9.2 deletion).
func TestEscrowSecretsOpenTheEpoch(t *testing.T) {
	cfg := group.Config{KeepEscrowSecrets: true}
	cs := suite.X25519AES128GCMSHA256Ed25519
	s, _ := suite.Lookup(cs)
	alice, err := group.Create(cfg, cs, []byte("escrow"), []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	bobKP, _ := group.NewKeyPackage(cfg, cs, []byte("bob"))
	res, err := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: bobKP.Message}},
		AuthenticatedData: []byte("committed at 12:00")})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	bob, err := group.Join(cfg, bobKP, res.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	ae, as, ok1 := alice.EscrowSecrets()
	be, bs, ok2 := bob.EscrowSecrets()
	if !ok1 || !ok2 || !bytes.Equal(ae, be) || !bytes.Equal(as, bs) || len(ae) != s.Nh() {
		t.Fatalf("members disagree on the epoch's escrow secrets (ok %v %v)", ok1, ok2)
	}
	state, err := bob.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := group.UnmarshalGroup(cfg, state)
	if err != nil {
		t.Fatal(err)
	}
	if re, _, ok := restored.EscrowSecrets(); !ok || !bytes.Equal(re, ae) {
		t.Fatal("escrow secrets lost by MarshalBinary")
	}

	// The escrowed pair reads bob's message without any of bob's or alice's state.
	ct, err := bob.Protect(nil, []byte("in scope"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := framing.ParsePrivateMessage(ct[4:])
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := keyschedule.NewEncryptionSecret(s, ae)
	tree, err := secrettree.New(s, enc, 2, secrettree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := keyschedule.NewSenderDataSecret(s, as)
	ac, err := framing.UnprotectPrivate(s, pm, tree, sd, framing.UnprotectOptions{})
	if err != nil {
		t.Fatalf("escrowed secrets do not open the epoch's message: %v", err)
	}
	if string(ac.Content.Body) != "in scope" {
		t.Fatalf("opened %q", ac.Content.Body)
	}

	// A new epoch has new secrets; the commit carries its authenticated data.
	res, err = bob.Commit(group.CommitOptions{ForcePath: true, AuthenticatedData: []byte("t=1")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := alice.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.AuthenticatedData) != "t=1" {
		t.Fatalf("commit authenticated_data %q", r.AuthenticatedData)
	}
	if err := alice.Merge(r.Staged); err != nil {
		t.Fatal(err)
	}
	if ne, _, ok := alice.EscrowSecrets(); !ok || bytes.Equal(ne, ae) {
		t.Fatal("escrow secrets did not change with the epoch")
	}

	plain, _ := group.Create(group.Config{}, cs, []byte("no escrow"), []byte("carol"))
	if _, _, ok := plain.EscrowSecrets(); ok {
		t.Fatal("encryption_secret kept without KeepEscrowSecrets")
	}
	if len(plain.Extensions()) != len(alice.Extensions()) {
		t.Fatal("Extensions differ for groups created alike")
	}
}
