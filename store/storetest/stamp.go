package storetest

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/ds"
)

// testStampDelivered: an application message's franking stamp (ds.Append.Stamp)
// is returned with every Delivery of it; a message without one has none.
func testStampDelivered(t *testing.T, e *env) {
	alice, _ := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	stamp := bytes.Repeat([]byte{0x5a}, 140)
	m1, m2 := app(gid, epoch, 1), app(gid, epoch, 2)
	res, err := e.st.AppendBatch(e.ctx, []ds.Append{
		{GroupID: gid, Kind: ds.KindApplication, Sender: alice.Device, Epoch: epoch, Data: m1, Digest: digest(m1), SenderMustBeMember: true, Received: e.clock.Now(), Stamp: stamp},
		{GroupID: gid, Kind: ds.KindApplication, Sender: alice.Device, Epoch: epoch, Data: m2, Digest: digest(m2), SenderMustBeMember: true, Received: e.clock.Now()},
	})
	must(t, "AppendBatch", err)
	for _, r := range res {
		must(t, "AppendBatch item", r.Err)
	}
	var got [][]byte
	for _, d := range e.drain(t, bp, 10) {
		if d.Kind == ds.KindApplication {
			got = append(got, d.Stamp)
		}
	}
	if len(got) != 2 || !bytes.Equal(got[0], stamp) || len(got[1]) != 0 {
		t.Fatalf("stamps delivered %x, want [%x, none]", got, stamp)
	}
}
