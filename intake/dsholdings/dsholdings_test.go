package dsholdings

import (
	"context"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
)

type fakeDS map[string][]ds.Device

func (f fakeDS) Devices(_ context.Context, u string) ([]ds.Device, error) {
	d, ok := f[u]
	if !ok {
		return nil, ds.ErrNotFound
	}
	return d, nil
}

func TestAccount(t *testing.T) {
	t0 := time.Unix(1767225600, 0)
	h := Holdings{DS: fakeDS{"bob": {{ID: 2, Name: "laptop", Created: t0.Add(time.Hour)}, {ID: 1, Name: "phone", Created: t0, Revoked: t0.Add(2 * time.Hour)}}},
		Groups: func(context.Context, string) ([]string, error) { return []string{"aa"}, nil }}
	a, err := h.Account(context.Background(), "bob")
	if err != nil || !a.Exists || a.Created != uint64(t0.Unix()) || len(a.Devices) != 2 || a.Devices[0].ID != "2" || !a.Devices[1].Revoked || len(a.Groups) != 1 {
		t.Fatalf("%v %+v", err, a)
	}
	a, err = h.Account(context.Background(), "nobody")
	if err != nil || a.Exists || a.Account != "nobody" {
		t.Fatalf("%v %+v", err, a)
	}
}
