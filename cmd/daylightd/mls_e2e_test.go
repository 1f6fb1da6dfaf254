package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

type mlsUser struct {
	c   *transport.Client
	key ed25519.PrivateKey
	id  []byte
}

// cfg makes the device key the MLS signature key (mls/group draws the
// signature seed first from Config.Rand).
func (u mlsUser) cfg() group.Config {
	return group.Config{Rand: io.MultiReader(bytes.NewReader(u.key.Seed()), rand.Reader)}
}

// TestRealMLSBadInput runs daylightd with its real validator and checks, with
// real MLS messages, that a stale-epoch commit, a tampered commit and garbage
// get specific 4xx answers and change nothing, while good ones go through.
func TestRealMLSBadInput(t *testing.T) {
	url := startInProcess(t, "--addr", "127.0.0.1:0", "--insecure-http", "--data", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := func(name string) mlsUser {
		c, _ := transport.New(transport.Config{BaseURL: url})
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		d, err := c.Register(ctx, name, "d", k)
		if err != nil {
			t.Fatal(err)
		}
		return mlsUser{c, k, ds.Identity(name, ds.DeviceID(d.ID))}
	}
	alice, bob := reg("alice"), reg("bob")
	cs := suite.X25519AES128GCMSHA256Ed25519
	ga, err := group.Create(alice.cfg(), cs, []byte("real-group"), alice.id)
	if err != nil {
		t.Fatal(err)
	}
	gi, _, _ := ga.GroupInfo(false)
	if _, err := alice.c.CreateGroup(ctx, gi); err != nil {
		t.Fatalf("create group: %v", err)
	}
	kp, err := group.NewKeyPackage(bob.cfg(), cs, bob.id)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.c.UploadKeyPackages(ctx, [][]byte{kp.Message}); err != nil {
		t.Fatalf("upload KeyPackage: %v", err)
	}
	claimed, err := alice.c.ClaimKeyPackages(ctx, "bob")
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v", err)
	}
	res, err := ga.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: claimed[0].Data}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.SendCommit(ctx, res.Commit, res.Welcome); err != nil {
		t.Fatalf("add bob: %v", err)
	}
	ga.MergePendingCommit()
	gb, err := group.Join(bob.cfg(), kp, res.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Both commit in epoch 1: bob's lands first; alice's is stale.
	rb, err := gb.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := ga.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	// A tampered copy of bob's commit first: refused, nothing changes.
	bad := append([]byte(nil), rb.Commit...)
	bad[len(bad)-100] ^= 1
	if _, err := bob.c.Send(ctx, bad); !api.HasCode(err, api.CodeBadSignature) && !api.HasCode(err, api.CodeInvalidMessage) {
		t.Fatalf("tampered commit: want 400, got %v", err)
	}
	if g, _ := alice.c.Group(ctx, []byte("real-group")); g.Epoch != 1 {
		t.Fatalf("epoch %d after a refused commit", g.Epoch)
	}
	if _, err := bob.c.Send(ctx, rb.Commit); err != nil {
		t.Fatalf("bob's commit: %v", err)
	}
	_, err = alice.c.Send(ctx, ra.Commit)
	if !api.HasCode(err, api.CodeStaleEpoch) {
		t.Fatalf("losing commit: want stale_epoch, got %v", err)
	}
	if g, _ := alice.c.Group(ctx, []byte("real-group")); g.Epoch != 2 || len(g.Members) != 2 {
		t.Fatalf("group after the race: %+v", g)
	}
	if _, err := bob.c.Send(ctx, []byte{0, 1, 0, 2, 0xff}); !api.HasCode(err, api.CodeInvalidMessage) {
		t.Fatalf("garbage: want invalid_message, got %v", err)
	}
	// Bob's epoch-2 application message goes through and is stamped for alice.
	gb.MergePendingCommit()
	app, err := gb.Protect(nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.c.Send(ctx, app); err != nil {
		t.Fatalf("application message: %v", err)
	}
	if _, err := bob.c.Send(ctx, app); !api.HasCode(err, api.CodeReplay) {
		t.Fatalf("replayed application message: want replay, got %v", err)
	}
	p, err := alice.c.Fetch(ctx, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var apps int
	for _, d := range p.Deliveries {
		if d.Kind == api.KindApplication {
			apps++
			if !bytes.Equal(d.Data, app) {
				t.Fatal("application message changed in transit")
			}
		}
	}
	if apps != 1 {
		t.Fatalf("alice got %d application messages, want 1", apps)
	}
}
