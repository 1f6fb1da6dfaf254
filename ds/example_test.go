package ds_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/store/sqlite"
)

// Example shows the delivery service end to end: two users register, alice
// creates a group and adds bob, sends a message, and bob fetches and acks it.
// (dstest.Fake stands in for the MLS engine's PublicGroup adapter.)
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ds-example")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "daylight.db")})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}})
	if err != nil {
		panic(err)
	}
	defer svc.Close()

	register := func(name string) (dstest.Signer, ds.Principal) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
			Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "phone", pub))})
		if err != nil {
			panic(err)
		}
		// A device logs in by signing a challenge.
		c, _ := svc.Challenge(ctx, d.ID)
		tok, _ := svc.Authenticate(ctx, d.ID, c.Nonce, ed25519.Sign(priv, ds.AuthStatement(d.ID, c.Nonce)))
		p, _ := svc.Authorize(ctx, tok.Value)
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}, p
	}
	alice, ap := register("alice")
	bob, bp := register("bob")

	gid := []byte("family")
	svc.CreateGroup(ctx, ap, dstest.GroupInfo(gid, alice))
	r, err := svc.Send(ctx, ap, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}), dstest.Welcome([]byte("welcome")))
	fmt.Println("add commit:", r.Seq, r.Epoch, err)
	r, err = svc.Send(ctx, ap, dstest.Application(gid, 1, []byte("hi bob")), nil)
	fmt.Println("message:", r.Seq, r.Epoch, err)

	page, _ := svc.Fetch(ctx, bp, 0, 100)
	for _, d := range page.Deliveries {
		fmt.Println("bob got:", d.Kind, d.Seq)
	}
	fmt.Println("ack:", svc.Ack(ctx, bp, page.Cursor))
	// Output:
	// add commit: 1 1 <nil>
	// message: 2 1 <nil>
	// bob got: welcome 0
	// bob got: application 2
	// ack: <nil>
}
