package keydir_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/keydirtest"
)

// Example runs the directory end to end: a device registers its account, the
// directory publishes an epoch to a witnessed log, and a contact verifies the
// lookup and gets the devices to encrypt to.
func Example() {
	ctx := context.Background()
	log, _ := keydirtest.NewLog("example.test/log", 2)
	_, dirKey, _ := ed25519.GenerateKey(rand.Reader)
	dir, err := keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: log, SigningKey: dirKey, VRFKey: keydir.NewVRFKey()})
	if err != nil {
		panic(err)
	}

	// Alice's phone registers her account, signing version 0 itself.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	phone := account.Device{ID: account.DeviceID{1}, SignatureKey: pub, Credential: []byte("alice"), KeyPackageKey: pub}
	rec, _ := account.NewRegistration("alice", phone, priv, 1_800_000_000)
	enc, _ := rec.Marshal()
	if err := dir.Register(ctx, enc); err != nil {
		panic(err)
	}
	dir.Publish(ctx) // one epoch: its signed root goes to the log

	// Bob's client, which pins the directory's keys and the witness policy.
	logKey, witnesses := log.Verifiers()
	bob := kdclient.NewClient(kdclient.Config{
		DirectoryKey: dirKey.Public().(ed25519.PublicKey),
		VRFKey:       dir.VRFPublicKey(),
		Checkpoints:  &kdclient.WitnessPolicy{Origin: "example.test/log", Log: logKey, Witnesses: witnesses, Threshold: 2},
	})
	resp, _ := dir.Lookup(ctx, "alice")
	contact, err := bob.Lookup(resp)
	if err != nil {
		panic(err)
	}
	devices, _ := contact.EncryptionDevices()
	fmt.Println(contact.Change, len(devices), devices[0].ID == phone.ID)
	// Output: first seen 1 true
}
