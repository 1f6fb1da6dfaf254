package client_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/client/localstore"
)

// TestAttackA10_GroupPolicyNotAccepted: a group's access policy travels in
// its GroupContext (A10). carol's client offers no escrow and creates a group
// with alice, whose client accepts only the deployment's signed policy: alice
// joins through real HTTP, is shown a warning, her group info names the
// group's policy ("none") as not accepted, and she cannot send in it; carol's
// view shows the policy she accepts. In the group alice's policy governs
// (escrowWorld, created by a member claiming it), both see its id.
func TestAttackA10_GroupPolicyNotAccepted(t *testing.T) {
	w := newEscrowWorld(t)
	key := make([]byte, 32)
	rand.Read(key)
	carol, err := client.Open(client.Config{Home: filepath.Join(t.TempDir(), "carol"), Key: localstore.Key{Raw: key}, ServerURL: w.serverURL, KeyPackages: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Register(w.ctx, "carol", "phone"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.AddContact(w.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.AddContact(w.ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	res, err := carol.CreateGroup(w.ctx, "no-escrow", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := w.alice.Sync(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, m := range msgs {
		warned = warned || strings.Contains(m.Text, "WARNING") && strings.Contains(m.Text, "access policy")
	}
	if !warned {
		t.Fatalf("alice was not warned about the group's policy: %+v", msgs)
	}
	gi, err := w.alice.Group(res.Group.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gi.Policy != "none" || gi.PolicyAccepted {
		t.Fatalf("alice's view of carol's group: policy %q accepted %v", gi.Policy, gi.PolicyAccepted)
	}
	if _, err := w.alice.SendText(w.ctx, res.Group.ID, "hello"); !errors.Is(err, client.ErrGroupPolicy) {
		t.Fatalf("alice sent into a group whose policy she does not accept: %v", err)
	}
	if ci, err := carol.Group(res.Group.ID); err != nil || ci.Policy != "none" || !ci.PolicyAccepted {
		t.Fatalf("carol's own view: %+v %v", ci, err)
	}
	// The escrow world's group carries alice's policy id.
	gi, err = w.alice.Group(w.group)
	if err != nil {
		t.Fatal(err)
	}
	if gi.Policy != hex.EncodeToString(w.pol.Verified.ID[:]) || !gi.PolicyAccepted {
		t.Fatalf("the policy group: %q accepted %v", gi.Policy, gi.PolicyAccepted)
	}
}
