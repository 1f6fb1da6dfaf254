package trustee_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/trusteetest"
)

func TestMemStoreConformance(t *testing.T) {
	trusteetest.RunStoreTests(t, func(t *testing.T) (trustee.Store, func() []byte) {
		s := trustee.NewMemStore()
		return s, s.Raw
	})
}

func TestRotateAndPublishKey(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	pub, err := trustee.RotateKey(ctx, w.stores[0], 7, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trustee.RotateKey(ctx, w.stores[0], 7, rand.Reader); !errors.Is(err, trustee.ErrKeyExists) {
		t.Fatalf("second rotation of a period: %v", err)
	}
	e, err := w.trustees[0].KeyEntry(7, pub, now)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := e.SignedMessage()
	if !ed25519.Verify(w.pol.Trustees[0].SigningKey, msg, e.Signature) {
		t.Fatal("key entry signature does not verify")
	}
	if e.DestroyBy != e.NotAfter+w.pol.Budgets.Lookback || e.NotAfter-e.NotBefore != w.pol.Periods.Length {
		t.Fatalf("key entry dates %+v", e)
	}
	if _, err := accesslog.Marshal(e); err != nil {
		t.Fatal(err)
	}
}
