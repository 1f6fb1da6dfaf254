package moderation_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/moderation"
)

type noDS struct{}

func (noDS) Authorize(context.Context, string) (ds.Principal, error) {
	return ds.Principal{}, ds.ErrUnauthenticated
}
func (noDS) Device(context.Context, ds.DeviceID) (ds.Device, error) {
	return ds.Device{}, ds.ErrNotFound
}
func (noDS) RevokeDevice(context.Context, ds.Principal, ds.DeviceID) error {
	return ds.ErrForbidden
}

// FuzzSubmit: whatever bytes a reporter sends as the reported message, the
// intake never panics, queues a report only if the provider's
// franking.Stamper.VerifyReport accepts them, and otherwise refuses with
// ErrInvalidInput or ErrNotVerified. Seeded with a genuine report and
// corruptions of it.
func FuzzSubmit(f *testing.F) {
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	stamper, _ := franking.NewStamper(key)
	sender := franking.Sender{Account: "mallory", Device: "1"}
	content, c, _ := franking.Protect(rand.Reader, []byte("g"), sender, []byte("a threat"))
	pt, kf, _ := franking.ParseContent(content)
	st, _ := stamper.Stamp(c, sender, []byte("g"), 1700000000000)
	good, _ := (&franking.Report{Plaintext: pt, Key: kf, Stamp: *st}).Marshal()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte{}, good...), 0))
	f.Add([]byte{})
	_, exportKey, _ := ed25519.GenerateKey(rand.Reader)
	f.Fuzz(func(t *testing.T, b []byte) {
		store := moderation.NewMemStore()
		svc, err := moderation.New(moderation.Config{DS: noDS{}, Stamper: stamper, Store: store, ExportKey: exportKey})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.Submit(context.Background(), ds.Principal{Username: "bob", Device: 2}, moderation.Submission{Message: b, Reason: "threat"})
		r, perr := franking.ParseReport(b)
		verifies := perr == nil
		if verifies {
			_, verr := stamper.VerifyReport(r)
			verifies = verr == nil
		}
		queued, _ := store.Reports(context.Background(), 0, 10)
		switch {
		case err == nil && (!verifies || len(queued) != 1):
			t.Fatalf("accepted a report that does not verify (%d queued)", len(queued))
		case err != nil && verifies:
			t.Fatalf("refused a verifying report: %v", err)
		case err != nil && !errors.Is(err, moderation.ErrInvalidInput) && !errors.Is(err, moderation.ErrNotVerified):
			t.Fatalf("refusal without a clear reason: %v", err)
		case err != nil && len(queued) != 0:
			t.Fatal("a refused report was queued")
		}
	})
}
