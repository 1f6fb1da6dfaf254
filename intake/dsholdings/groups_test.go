package dsholdings_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/intake/dsholdings"
	"github.com/daylight-im/daylight/store/sqlite"
)

// TestAccountGroupsOnSQLite answers a non-content request from a real
// delivery service on SQLite: the groups the server saw bob's device in,
// including one he was removed from, and not the group he was never in.
func TestAccountGroupsOnSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	user := func(name string) dstest.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
			Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "phone", pub))})
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}
	}
	p := func(s dstest.Signer) ds.Principal { return ds.Principal{Username: s.Username, Device: s.Device} }
	group := func(id string, creator dstest.Signer, others ...dstest.Signer) []byte {
		gid := []byte(id)
		if _, err := svc.CreateGroup(ctx, p(creator), dstest.GroupInfo(gid, creator)); err != nil {
			t.Fatal(err)
		}
		var add []dstest.FakeMember
		for _, o := range others {
			add = append(add, o.Member())
		}
		if _, err := svc.Send(ctx, p(creator), dstest.Commit(gid, 0, creator, add), dstest.Welcome([]byte("w"))); err != nil {
			t.Fatal(err)
		}
		return gid
	}
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	club := group("club-0001", alice, bob, carol)
	pair := group("pair-0002", bob, carol)
	group("other-0003", alice, carol)
	if _, err := svc.Send(ctx, p(alice), dstest.Commit(club, 1, alice, nil, bob.Member()), nil); err != nil {
		t.Fatal(err)
	}

	h := dsholdings.Holdings{DS: svc, Groups: dsholdings.AccountGroups(svc)}
	a, err := h.Account(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{hex.EncodeToString(club), hex.EncodeToString(pair)}
	slices.Sort(want)
	if !slices.Equal(a.Groups, want) {
		t.Fatalf("bob's groups %v, want %v (the club he left and the pair; not alice and carol's group)", a.Groups, want)
	}
	if a, err := h.Account(ctx, "nobody"); err != nil || a.Exists || len(a.Groups) != 0 {
		t.Fatalf("unknown account: %v %+v", err, a)
	}
}
