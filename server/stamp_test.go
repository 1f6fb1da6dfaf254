package server

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
)

// TestPageDeliversCompactStamps: a stored full stamp goes out in its 41-byte
// delivered form, from which the recipient rebuilds the provider's stamp; a
// malformed stored stamp goes out as none, and unstamped deliveries stay so.
func TestPageDeliversCompactStamps(t *testing.T) {
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	st, err := franking.NewStamper(key)
	if err != nil {
		t.Fatal(err)
	}
	var c franking.Commitment
	rand.Read(c[:])
	sender := franking.Sender{Account: "alice", Device: "7"}
	full, err := st.Stamp(c, sender, []byte("g"), 1234)
	if err != nil {
		t.Fatal(err)
	}
	pg := apiPage(ds.Page{Deliveries: []ds.Delivery{
		{GroupID: []byte("g"), Stamp: full.Marshal()},
		{GroupID: []byte("g")},
		{GroupID: []byte("g"), Stamp: []byte{1, 2, 3}},
		{GroupID: []byte("g"), Stamp: full.Marshal()},
	}})
	for _, i := range []int{0, 3} {
		d := pg.Deliveries[i].Stamp
		if len(d) != franking.DeliveredSize {
			t.Fatalf("delivery %d: stamp of %d bytes", i, len(d))
		}
		got, err := franking.Rebuild(d, c, []byte("g"), sender)
		if err != nil || !bytes.Equal(got.Marshal(), full.Marshal()) {
			t.Fatalf("delivery %d: rebuilt stamp differs: %v", i, err)
		}
	}
	if pg.Deliveries[1].Stamp != nil || pg.Deliveries[2].Stamp != nil {
		t.Fatal("unstamped or malformed stamp delivered")
	}
	// Appending to one delivery's stamp must not overwrite the next one's.
	_ = append(pg.Deliveries[0].Stamp, 0xff)
	if got, err := franking.Rebuild(pg.Deliveries[3].Stamp, c, []byte("g"), sender); err != nil || got.Time != 1234 {
		t.Fatalf("stamps share capacity: %v", err)
	}
}
