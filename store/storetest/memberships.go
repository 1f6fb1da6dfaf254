package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

// testAccountGroups checks the memberships the server can state in a
// non-content answer: every group any device of the account is or was in,
// once each, current or ended, and nothing of other accounts' groups.
func testAccountGroups(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, _ := e.user(t, "bob")
	carol, _ := e.user(t, "carol")
	bobPhone, _ := e.link(t, bob, "bob-phone")
	g1, epoch1 := e.group(t, alice, bob, carol)
	g2, _ := e.group(t, bob, bobPhone)
	e.group(t, alice, carol) // bob never in it
	// bob leaves g1 (alice removes him): an ended membership.
	_, err := e.svc.Send(e.ctx, ap, dstest.Commit(g1, epoch1, alice, nil, bob.Member()), nil)
	must(t, "remove bob", err)

	got, err := e.svc.AccountGroups(e.ctx, "bob")
	must(t, "AccountGroups", err)
	want := map[string]bool{string(g1): false, string(g2): true}
	if len(got) != len(want) {
		t.Fatalf("bob's groups: %d, want %d (%v)", len(got), len(want), got)
	}
	for _, m := range got {
		cur, ok := want[string(m.GroupID)]
		if !ok {
			t.Fatalf("bob's groups list %x, which he was never in", m.GroupID)
		}
		if m.Current != cur {
			t.Errorf("group %x: current %v, want %v", m.GroupID, m.Current, cur)
		}
	}
	if none, err := e.svc.AccountGroups(e.ctx, "dave"); len(none) != 0 || err != nil && !errors.Is(err, ds.ErrNotFound) {
		t.Fatalf("an unknown account: %v, %v", none, err)
	}
	// The store's own answer for one device, ordered by group id.
	ms, ok := e.st.(ds.MembershipStore)
	if !ok {
		t.Fatal("the store does not implement ds.MembershipStore")
	}
	dg, err := ms.DeviceGroups(e.ctx, bobPhone.Device)
	must(t, "DeviceGroups", err)
	if len(dg) != 1 || !bytes.Equal(dg[0].GroupID, g2) || !dg[0].Current {
		t.Fatalf("bob's phone: %v", dg)
	}
}
