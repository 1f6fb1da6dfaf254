package dstest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

func signer(t *testing.T, name string, id ds.DeviceID) dstest.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return dstest.Signer{Username: name, Device: id, Key: priv}
}

// TestFake checks the fake validator rejects what the DS relies on a
// validator to reject, with the sentinels ds expects.
func TestFake(t *testing.T) {
	v := dstest.Fake{}
	alice, bob, carol := signer(t, "alice", 1), signer(t, "bob", 2), signer(t, "carol", 3)
	gid := []byte("g")
	st, err := v.NewGroup(dstest.GroupInfo(gid, alice))
	if err != nil || st.Epoch != 0 || len(st.Members) != 1 {
		t.Fatalf("NewGroup: %+v %v", st, err)
	}
	vd, err := v.Apply(st.Opaque, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}))
	if err != nil || !vd.Commit || vd.NewState.Epoch != 1 || len(vd.NewState.Members) != 2 {
		t.Fatalf("add: %+v %v", vd, err)
	}
	s1 := vd.NewState.Opaque
	forged, _ := dstest.Forge(dstest.Commit(gid, 1, bob, nil), carol.Key)
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"stale epoch", dstest.Commit(gid, 0, alice, nil), ds.ErrStaleEpoch},
		{"non-member", dstest.Commit(gid, 1, carol, nil), ds.ErrNotMember},
		{"forged", forged, ds.ErrBadSignature},
		{"junk", []byte("junk"), ds.ErrInvalidMessage},
		{"application", dstest.Application(gid, 1, []byte("x")), ds.ErrInvalidMessage},
		{"other group", dstest.Commit([]byte("h"), 1, alice, nil), ds.ErrInvalidMessage},
	} {
		if _, err := v.Apply(s1, tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	vd, err = v.Apply(s1, dstest.Proposal(gid, 1, bob, []byte("n")))
	if err != nil || vd.Commit || vd.NewState.Epoch != 1 {
		t.Fatalf("proposal: %+v %v", vd, err)
	}
	vd, err = v.Apply(s1, dstest.Commit(gid, 1, alice, nil, bob.Member()))
	if err != nil || len(vd.NewState.Members) != 1 {
		t.Fatalf("remove: %+v %v", vd, err)
	}
	if _, err := v.Apply(vd.NewState.Opaque, dstest.Commit(gid, 2, bob, nil)); !errors.Is(err, ds.ErrNotMember) {
		t.Fatalf("removed member's commit: %v", err)
	}
	info, err := v.VerifyKeyPackage(dstest.KeyPackage(alice, time.Unix(2000000000, 0), true, nil))
	if err != nil || !info.LastResort || info.NotAfter != 2000000000 || string(info.Identity) != "daylight:alice/1" {
		t.Fatalf("VerifyKeyPackage: %+v %v", info, err)
	}
	env, err := v.Inspect(dstest.Application(gid, 7, nil))
	if err != nil || env.WireFormat != ds.WirePrivateMessage || env.Epoch != 7 || env.ContentType != ds.ContentApplication {
		t.Fatalf("Inspect: %+v %v", env, err)
	}
}
