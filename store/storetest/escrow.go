package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cloudflare/circl/kem/xwing"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/escrow"
)

// escrowRecord builds a real escrow record of (gid, epoch) for 2-of-3
// trustees with fresh keys, from random secrets.
func escrowRecord(t *testing.T, gid []byte, epoch uint64) []byte {
	t.Helper()
	c := escrow.Context{KeyPeriod: 1, GroupID: gid, Epoch: epoch}
	rand.Read(c.PolicyID[:])
	p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(p.EncryptionSecret)
	rand.Read(p.SenderDataSecret)
	params := escrow.Params{K: 2}
	for range 3 {
		_, pk, err := xwing.GenerateKeyPairPacked(rand.Reader)
		must(t, "xwing key", err)
		params.TrusteeKeys = append(params.TrusteeKeys, pk)
	}
	rec, err := escrow.Build(c, p, params)
	must(t, "escrow.Build", err)
	return rec.Bytes()
}

// testEscrowRecords checks the escrow record candidates of ds.EscrowStore
// through ds.Service: strict parsing, membership, known epochs, deduplication
// of identical bytes, one fixed candidate per device, and that a garbage
// candidate never hides the correct one uploaded after it (T8).
func testEscrowRecords(t *testing.T, e *env) {
	if _, ok := e.st.(ds.EscrowStore); !ok {
		t.Fatalf("store %T does not implement ds.EscrowStore", e.st)
	}
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	_, cp := e.user(t, "carol")
	gid, epoch := e.group(t, alice, bob)

	list := func(p ds.Principal, ep uint64) []ds.EscrowCandidate {
		t.Helper()
		cs, err := e.svc.EscrowRecords(e.ctx, p, gid, ep)
		must(t, "EscrowRecords", err)
		return cs
	}
	if cs := list(ap, epoch); len(cs) != 0 {
		t.Fatalf("fresh group holds %d candidates", len(cs))
	}

	garbage := escrowRecord(t, gid, epoch) // well-formed, but not this epoch's P
	correct := escrowRecord(t, gid, epoch)
	r, err := e.svc.PutEscrowRecord(e.ctx, bp, garbage)
	must(t, "PutEscrowRecord(garbage)", err)
	if !r.Created || r.Epoch != epoch || r.ID != escrow.RecordID(garbage) {
		t.Fatalf("receipt %+v", r)
	}
	e.clock.Advance(time.Second)
	// The same bytes again from the same device: accepted, nothing new.
	r, err = e.svc.PutEscrowRecord(e.ctx, bp, garbage)
	must(t, "PutEscrowRecord(again)", err)
	if r.Created {
		t.Fatal("identical re-upload reported as new")
	}
	// Bob cannot swap his candidate for another one.
	if _, err := e.svc.PutEscrowRecord(e.ctx, bp, correct); !errors.Is(err, ds.ErrConflict) {
		t.Fatalf("second distinct candidate from one device: %v, want ErrConflict", err)
	}
	// Alice, finding no record she can verify, uploads the correct one.
	r, err = e.svc.PutEscrowRecord(e.ctx, ap, correct)
	must(t, "PutEscrowRecord(correct)", err)
	if !r.Created {
		t.Fatal("correct record not reported as new")
	}
	cs := list(bp, epoch)
	if len(cs) != 2 {
		t.Fatalf("%d candidates, want 2", len(cs))
	}
	if !bytes.Equal(cs[0].Record, garbage) || !slices.Equal(cs[0].Uploaders, []ds.DeviceID{bob.Device}) ||
		!bytes.Equal(cs[1].Record, correct) || !slices.Equal(cs[1].Uploaders, []ds.DeviceID{alice.Device}) {
		t.Fatalf("candidates %+v", cs)
	}
	if cs[0].ID != escrow.RecordID(garbage) || !cs[1].First.After(cs[0].First) {
		t.Fatalf("candidate ids/times %x %v %v", cs[0].ID, cs[0].First, cs[1].First)
	}

	// Identical bytes from another member are stored once, marked by both.
	b2 := escrowRecord(t, gid, 0)
	if _, err := e.svc.PutEscrowRecord(e.ctx, ap, b2); err != nil {
		t.Fatalf("record of the earlier epoch 0: %v", err)
	}
	r, err = e.svc.PutEscrowRecord(e.ctx, bp, b2)
	must(t, "PutEscrowRecord(dup)", err)
	if r.Created {
		t.Fatal("identical bytes from a second device stored twice")
	}
	cs = list(ap, 0)
	if len(cs) != 1 || !slices.Equal(cs[0].Uploaders, []ds.DeviceID{alice.Device, bob.Device}) {
		t.Fatalf("epoch 0 candidates %+v", cs)
	}

	// Refusals change nothing.
	refuse := []struct {
		name string
		p    ds.Principal
		rec  []byte
		want error
	}{
		{"non-member", cp, escrowRecord(t, gid, epoch), ds.ErrForbidden},
		{"unknown group", ap, escrowRecord(t, randomID(), 0), ds.ErrForbidden},
		{"future epoch", ap, escrowRecord(t, gid, epoch+1), ds.ErrInvalidInput},
		{"trailing byte", cp, append(bytes.Clone(correct), 0), ds.ErrInvalidInput},
		{"truncated", ap, correct[:len(correct)-1], ds.ErrInvalidInput},
		{"empty", ap, nil, ds.ErrInvalidInput},
	}
	for _, tc := range refuse {
		if _, err := e.svc.PutEscrowRecord(e.ctx, tc.p, tc.rec); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := e.svc.EscrowRecords(e.ctx, cp, gid, epoch); !errors.Is(err, ds.ErrForbidden) {
		t.Errorf("non-member listing: %v, want ErrForbidden", err)
	}
	if got := list(ap, epoch); len(got) != 2 {
		t.Fatalf("after refusals %d candidates, want 2", len(got))
	}
	if got := list(ap, epoch+1); len(got) != 0 {
		t.Fatalf("future epoch holds %d candidates", len(got))
	}
}
