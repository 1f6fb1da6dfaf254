// Package dsholdings adapts the delivery service's view of accounts to
// intake.Holdings: what the server holds about an account for non-content
// answers (creation time, device list, group memberships it can see).
package dsholdings

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/intake"
)

// Devices is the part of *ds.Service the adapter reads.
type Devices interface {
	Devices(ctx context.Context, username string) ([]ds.Device, error)
}

// Holdings implements intake.Holdings over the delivery service.
type Holdings struct {
	DS Devices
	// Groups, if set, lists the hex ids of the groups the server sees the
	// account's devices in (the DS's public group state). Nil: none reported.
	Groups func(ctx context.Context, username string) ([]string, error)
}

// Account returns what the server holds about username. An unknown account
// is answered with Exists false (that is itself the answer).
func (h Holdings) Account(ctx context.Context, username string) (intake.AccountData, error) {
	devs, err := h.DS.Devices(ctx, username)
	if errors.Is(err, ds.ErrNotFound) {
		return intake.AccountData{Account: username}, nil
	}
	if err != nil {
		return intake.AccountData{}, err
	}
	a := intake.AccountData{Account: username, Exists: true}
	for _, d := range devs {
		c := uint64(d.Created.Unix())
		if a.Created == 0 || c < a.Created {
			a.Created = c
		}
		a.Devices = append(a.Devices, intake.DeviceData{ID: strconv.FormatInt(int64(d.ID), 10), Name: d.Name, Created: c, Revoked: !d.Revoked.IsZero()})
	}
	if len(devs) == 0 {
		a.Exists = false
	}
	if h.Groups != nil {
		if a.Groups, err = h.Groups(ctx, username); err != nil {
			return intake.AccountData{}, err
		}
	}
	return a, nil
}

// GroupLister is the part of *ds.Service AccountGroups reads.
type GroupLister interface {
	AccountGroups(ctx context.Context, username string) ([]ds.GroupMembership, error)
}

// AccountGroups returns a Holdings.Groups that lists, as hex ids, every group
// the delivery service has seen any of the account's devices in, current or
// ended (its public group state; no names, no content). A store that keeps no
// memberships answers none.
func AccountGroups(g GroupLister) func(ctx context.Context, username string) ([]string, error) {
	return func(ctx context.Context, username string) ([]string, error) {
		ms, err := g.AccountGroups(ctx, username)
		if errors.Is(err, ds.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = hex.EncodeToString(m.GroupID)
		}
		return out, nil
	}
}
