package ds

import (
	"context"
	"fmt"
)

// MembershipStore answers which groups a device has held a leaf in, for the
// non-content answers of legal requests (intake: "group memberships the
// server can see"). store/sqlite and store/postgres implement it; the Service
// finds it on its Store with a type assertion.
type MembershipStore interface {
	// DeviceGroups lists the ids of the groups device has had a membership
	// in, current or ended, ordered by group id.
	DeviceGroups(ctx context.Context, device DeviceID) ([]GroupMembership, error)
}

// GroupMembership is one group a device is or was in, as the DS sees it.
type GroupMembership struct {
	GroupID []byte
	Current bool // the membership is open (the device holds a leaf now)
}

// AccountGroups lists the groups any device of username is or was a member
// of, as the server sees them (public group state only: ids, no content, no
// names). Each group appears once; Current if any device's membership is
// open. It is what the server holds, for intake's non-content answers.
func (s *Service) AccountGroups(ctx context.Context, username string) ([]GroupMembership, error) {
	ms, ok := s.cfg.Store.(MembershipStore)
	if !ok {
		return nil, fmt.Errorf("ds: memberships: the store keeps none: %w", ErrNotFound)
	}
	devs, err := s.Devices(ctx, username)
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	var out []GroupMembership
	for _, d := range devs {
		gs, err := ms.DeviceGroups(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			if i, ok := idx[string(g.GroupID)]; ok {
				out[i].Current = out[i].Current || g.Current
				continue
			}
			idx[string(g.GroupID)] = len(out)
			out = append(out, g)
		}
	}
	return out, nil
}
