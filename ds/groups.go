package ds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
)

// GroupView is what a member may read about a group.
type GroupView struct {
	ID      []byte
	Epoch   uint64
	State   []byte     // the validator's public state (PublicState.Opaque)
	Members []DeviceID // devices currently receiving the group's messages
	LastSeq uint64
}

// CreateGroup registers a new group from the creator's GroupInfo (with the
// ratchet_tree extension). The validator checks it; every leaf must be an
// active device with its registered key, and the creator must hold a leaf.
// ErrGroupExists if the group_id is taken.
func (s *Service) CreateGroup(ctx context.Context, p Principal, groupInfo []byte) (GroupView, error) {
	if len(groupInfo) > s.cfg.MaxMessageBytes {
		return GroupView{}, fmt.Errorf("ds: GroupInfo: %w", ErrTooLarge)
	}
	if _, err := s.activeDevice(ctx, p); err != nil {
		return GroupView{}, err
	}
	st, err := s.val.NewGroup(groupInfo)
	if err != nil {
		return GroupView{}, fmt.Errorf("ds: create group: %w", err)
	}
	if len(st.GroupID) == 0 || len(st.GroupID) > 255 {
		return GroupView{}, fmt.Errorf("ds: create group: group_id must be 1-255 bytes: %w", ErrInvalidMessage)
	}
	leaves, _, err := s.resolveLeaves(ctx, st.Members, nil)
	if err != nil {
		return GroupView{}, fmt.Errorf("ds: create group: %w", err)
	}
	if !slices.Contains(leaves, p.Device) {
		return GroupView{}, fmt.Errorf("ds: create group: the creating device holds no leaf: %w", ErrForbidden)
	}
	g := Group{ID: st.GroupID, Epoch: st.Epoch, State: st.Opaque, Leaves: leaves, Created: s.now()}
	if err := s.store.CreateGroup(ctx, g, leaves); err != nil {
		return GroupView{}, err
	}
	return GroupView{ID: g.ID, Epoch: g.Epoch, State: g.State, Members: leaves}, nil
}

// Group returns a group's public state to one of its members (ErrForbidden
// for anyone else, so group ids reveal nothing).
func (s *Service) Group(ctx context.Context, p Principal, id []byte) (GroupView, error) {
	g, err := s.store.Group(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return GroupView{}, fmt.Errorf("ds: group: %w", ErrForbidden)
	}
	if err != nil {
		return GroupView{}, err
	}
	members, err := s.store.GroupMembers(ctx, id)
	if err != nil {
		return GroupView{}, err
	}
	if !slices.Contains(members, p.Device) {
		return GroupView{}, fmt.Errorf("ds: group: %w", ErrForbidden)
	}
	return GroupView{ID: g.ID, Epoch: g.Epoch, State: g.State, Members: members, LastSeq: g.LastSeq}, nil
}

// Send accepts one MLS message into its group and returns after it is durable
// and queued for every member device (the sender's own device excepted).
//
// Application messages must be PrivateMessage in the group's current epoch
// from a current member (ErrStaleEpoch, ErrNotMember). Handshake messages
// (proposals, commits) must be PublicMessage; the validator checks them
// against the group's public state and exactly one commit per epoch is
// accepted: a losing concurrent commit gets ErrStaleEpoch. welcome, if not
// nil, must accompany a commit that adds devices; it is queued to each of them.
// The same bytes sent twice get ErrReplay (which tells a client whose earlier
// attempt timed out that it was accepted). A rejected message changes nothing.
func (s *Service) Send(ctx context.Context, p Principal, msg, welcome []byte) (Receipt, error) {
	if len(msg) > s.cfg.MaxMessageBytes || len(welcome) > s.cfg.MaxMessageBytes {
		return Receipt{}, fmt.Errorf("ds: message larger than %d bytes: %w", s.cfg.MaxMessageBytes, ErrTooLarge)
	}
	env, err := s.val.Inspect(msg)
	if err != nil {
		return Receipt{}, fmt.Errorf("ds: message: %w", err)
	}
	adm, err := s.admit(ctx, p, env, msg)
	if err != nil {
		return Receipt{}, err
	}
	switch {
	case env.WireFormat == WirePrivateMessage && env.ContentType == ContentApplication:
		if welcome != nil {
			return Receipt{}, fmt.Errorf("ds: a Welcome accompanies only a commit: %w", ErrInvalidMessage)
		}
		res, err := s.submit(ctx, Append{
			GroupID: env.GroupID, Kind: KindApplication, Sender: p.Device, Epoch: env.Epoch,
			Data: msg, Digest: sha256.Sum256(msg), Received: adm.at, SenderMustBeMember: true,
			Stamp: adm.stamp,
		})
		if err == nil {
			s.retain(ctx, env.GroupID, env.Epoch, adm.at, msg) // retention.go
		}
		return res.Receipt, err
	case env.WireFormat == WirePublicMessage && (env.ContentType == ContentProposal || env.ContentType == ContentCommit):
		return s.sendHandshake(ctx, p, env, msg, welcome)
	case env.WireFormat == WirePrivateMessage:
		return Receipt{}, fmt.Errorf("ds: handshake messages must be PublicMessage so the DS can validate them: %w", ErrInvalidMessage)
	case env.WireFormat == WirePublicMessage:
		return Receipt{}, fmt.Errorf("ds: application data must be PrivateMessage (RFC 9420, Section 6.2): %w", ErrInvalidMessage)
	default:
		return Receipt{}, fmt.Errorf("ds: wire format %d cannot be sent to a group: %w", env.WireFormat, ErrInvalidMessage)
	}
}

// maxCASAttempts bounds re-validation when a concurrent proposal changed the
// group's state without changing its epoch.
const maxCASAttempts = 4

func (s *Service) sendHandshake(ctx context.Context, p Principal, env Envelope, msg, welcome []byte) (Receipt, error) {
	dev, err := s.activeDevice(ctx, p)
	if err != nil {
		return Receipt{}, err
	}
	if welcome != nil {
		wenv, err := s.val.Inspect(welcome)
		if err != nil {
			return Receipt{}, fmt.Errorf("ds: Welcome: %w", err)
		}
		if wenv.WireFormat != WireWelcome {
			return Receipt{}, fmt.Errorf("ds: Welcome: wire format %d: %w", wenv.WireFormat, ErrInvalidMessage)
		}
	}
	for attempt := 0; ; attempt++ {
		g, err := s.store.Group(ctx, env.GroupID)
		if err != nil {
			return Receipt{}, fmt.Errorf("ds: group: %w", err)
		}
		if env.Epoch < g.Epoch {
			// A client whose answer was lost resends the same bytes after its
			// commit moved the epoch on: tell it the message was accepted.
			if ok, err := s.store.Accepted(ctx, env.GroupID, sha256.Sum256(msg)); err != nil {
				return Receipt{}, fmt.Errorf("ds: replay check: %w", err)
			} else if ok {
				return Receipt{}, fmt.Errorf("ds: handshake message already accepted: %w", ErrReplay)
			}
			return Receipt{}, fmt.Errorf("ds: message for epoch %d, group is at epoch %d: %w", env.Epoch, g.Epoch, ErrStaleEpoch)
		}
		if env.Epoch > g.Epoch {
			return Receipt{}, fmt.Errorf("ds: message for future epoch %d, group is at epoch %d: %w", env.Epoch, g.Epoch, ErrInvalidMessage)
		}
		v, err := s.val.Apply(g.State, msg)
		if err != nil {
			return Receipt{}, fmt.Errorf("ds: %s: %w", map[bool]string{true: "commit", false: "proposal"}[env.ContentType == ContentCommit], err)
		}
		user, sender, err := ParseIdentity(v.Sender.Identity)
		if err != nil {
			return Receipt{}, fmt.Errorf("ds: sender: %w", err)
		}
		if user != p.Username || sender != p.Device || !bytes.Equal(v.Sender.SignatureKey, dev.SigningKey) {
			return Receipt{}, fmt.Errorf("ds: message signed by a leaf that is not the sending device: %w", ErrForbidden)
		}
		wasMember := slices.Contains(g.Leaves, p.Device)
		if !wasMember && !v.Commit {
			return Receipt{}, fmt.Errorf("ds: proposal from device %d: %w", p.Device, ErrNotMember)
		}
		newLeaves, added, err := s.resolveLeaves(ctx, v.NewState.Members, g.Leaves)
		if err != nil {
			return Receipt{}, err
		}
		var removed []DeviceID
		for _, d := range g.Leaves {
			if !slices.Contains(newLeaves, d) {
				removed = append(removed, d)
			}
		}
		switch {
		case v.Commit && v.NewState.Epoch != g.Epoch+1:
			return Receipt{}, fmt.Errorf("ds: commit leads to epoch %d from %d: %w", v.NewState.Epoch, g.Epoch, ErrInvalidMessage)
		case !v.Commit && (v.NewState.Epoch != g.Epoch || len(added) > 0 || len(removed) > 0):
			return Receipt{}, fmt.Errorf("ds: proposal changed the epoch or membership: %w", ErrInvalidMessage)
		case !wasMember && !slices.Contains(newLeaves, p.Device):
			return Receipt{}, fmt.Errorf("ds: external commit does not add its sender: %w", ErrInvalidMessage)
		case welcome != nil && len(added) == 0:
			return Receipt{}, fmt.Errorf("ds: a Welcome accompanies only a commit that adds members: %w", ErrInvalidMessage)
		}
		kind := KindProposal
		if v.Commit {
			kind = KindCommit
		}
		res, err := s.submit(ctx, Append{
			GroupID: env.GroupID, Kind: kind, Sender: p.Device, Epoch: env.Epoch,
			Data: msg, Digest: sha256.Sum256(msg), Received: s.now(),
			SenderMustBeMember: wasMember,
			ExpectVersion:      g.Version, NewEpoch: v.NewState.Epoch, NewState: v.NewState.Opaque,
			NewLeaves: newLeaves, Add: added, Remove: removed, Welcome: welcome,
		})
		if errors.Is(err, ErrConflict) && attempt+1 < maxCASAttempts {
			continue // a proposal was accepted meanwhile: validate against the new state
		}
		return res.Receipt, err
	}
}

// resolveLeaves maps the leaves of a public state to devices. A leaf that was
// not in old must name an active device by its credential identity and carry
// that device's registered signature key: the DS never lets a commit add a
// key the account did not register (no ghost devices).
func (s *Service) resolveLeaves(ctx context.Context, members []Member, old []DeviceID) (leaves, added []DeviceID, err error) {
	for _, m := range members {
		user, id, err := ParseIdentity(m.Identity)
		if err != nil {
			return nil, nil, fmt.Errorf("ds: leaf %d: %w", m.Leaf, err)
		}
		if slices.Contains(leaves, id) {
			return nil, nil, fmt.Errorf("ds: leaf %d: device %d holds two leaves: %w", m.Leaf, id, ErrInvalidMessage)
		}
		leaves = append(leaves, id)
		if slices.Contains(old, id) {
			continue
		}
		d, err := s.store.Device(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, nil, fmt.Errorf("ds: leaf %d: unknown device %d: %w", m.Leaf, id, ErrInvalidMessage)
		}
		if err != nil {
			return nil, nil, err
		}
		switch {
		case d.Username != user:
			return nil, nil, fmt.Errorf("ds: leaf %d: device %d is not %q's: %w", m.Leaf, id, user, ErrInvalidMessage)
		case !d.Active():
			return nil, nil, fmt.Errorf("ds: leaf %d: device %d: %w", m.Leaf, id, ErrRevoked)
		case !bytes.Equal(m.SignatureKey, d.SigningKey):
			return nil, nil, fmt.Errorf("ds: leaf %d: signature key is not device %d's registered key: %w", m.Leaf, id, ErrInvalidMessage)
		}
		added = append(added, id)
	}
	return leaves, added, nil
}

// Fetch returns up to limit (default 100, at most 1000) entries of the
// principal device's queue after the cursor.
func (s *Service) Fetch(ctx context.Context, p Principal, after uint64, limit int) (Page, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	return s.store.Fetch(ctx, p.Device, after, limit)
}

// Ack records that the principal's device processed its queue up to upTo
// (Page.Cursor or a Delivery.Cursor) and returns once that is durable. Acks
// go through the writer goroutine, so many devices' acks share one
// transaction. Messages every recipient acked are deleted by the next GC.
func (s *Service) Ack(ctx context.Context, p Principal, upTo uint64) error {
	_, err := s.submitReq(ctx, &appendReq{ack: &DeviceAck{Device: p.Device, UpTo: upTo}})
	return err
}

// Subscribe returns a channel woken when the principal's device has new
// entries (see Notifier) and a cancel function.
func (s *Service) Subscribe(p Principal) (<-chan struct{}, func()) {
	return s.notify.Subscribe(p.Device)
}
