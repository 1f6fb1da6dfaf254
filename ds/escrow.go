package ds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/daylight-im/daylight/escrow"
)

// Escrow record candidates (docs/lawful-access.md, "Upload"; A8, T8, T9).
//
// Before the first application message it sends in an epoch, a compliant
// client makes sure a correct escrow record for that epoch is on the DS; a
// client receiving in an epoch whose record it has not seen verified uploads
// the correct one itself. The DS cannot tell a correct record from garbage (it
// does not know P), so it keeps every distinct candidate, each marked by the
// devices that uploaded it: identical bytes are stored once, and each member
// device has at most one candidate per (group, epoch), which it cannot change.
// An honest member that finds no candidate it can verify uploads its own, so a
// group with one compliant member always has a correct record on file, and the
// uploader marks say who uploaded a garbage one.

// EscrowCandidate is one distinct escrow record held for a (group, epoch).
type EscrowCandidate struct {
	ID        [32]byte   // escrow.RecordID of Record
	Record    []byte     // the encoded record, as uploaded
	Uploaders []DeviceID // devices that uploaded these bytes, ascending
	First     time.Time  // when the first of them uploaded it
}

// EscrowUpload is one device's upload of a record, after the Service checked it.
type EscrowUpload struct {
	GroupID  []byte
	Epoch    uint64
	Uploader DeviceID
	ID       [32]byte
	Record   []byte
	At       time.Time
}

// EscrowStore holds escrow record candidates. store/sqlite and store/postgres
// implement it; the Service finds it on its Store with a type assertion, so a
// Store without it answers ErrNotFound on the escrow methods.
type EscrowStore interface {
	// PutEscrowRecord stores u as u.Uploader's candidate for (u.GroupID,
	// u.Epoch) in one transaction. Bytes already held for that (group, epoch)
	// are not stored twice: the uploader is added to the candidate. Uploading
	// the same record again is a no-op (created false). A device that already
	// has a different candidate for that (group, epoch) gets ErrConflict and
	// nothing changes. created reports whether the bytes were new.
	PutEscrowRecord(ctx context.Context, u EscrowUpload) (created bool, err error)
	// EscrowRecords lists the distinct candidates of (group, epoch) by first
	// upload time, then ID; none is an empty list, not an error.
	EscrowRecords(ctx context.Context, groupID []byte, epoch uint64) ([]EscrowCandidate, error)
}

// EscrowReceipt answers an upload.
type EscrowReceipt struct {
	ID      [32]byte
	Epoch   uint64
	Created bool // the bytes were new for this (group, epoch)
}

func (s *Service) escrowStore() (EscrowStore, error) {
	es, ok := s.cfg.Store.(EscrowStore)
	if !ok {
		return nil, fmt.Errorf("ds: escrow records: the store keeps none: %w", ErrNotFound)
	}
	return es, nil
}

// escrowGroup checks that p is an active device with an open membership of
// group (ErrForbidden otherwise, so group ids reveal nothing) and returns the
// group.
func (s *Service) escrowGroup(ctx context.Context, p Principal, groupID []byte) (Group, error) {
	if _, err := s.activeDevice(ctx, p); err != nil {
		return Group{}, err
	}
	g, err := s.store.Group(ctx, groupID)
	if errors.Is(err, ErrNotFound) {
		return Group{}, fmt.Errorf("ds: escrow: group: %w", ErrForbidden)
	}
	if err != nil {
		return Group{}, err
	}
	members, err := s.store.GroupMembers(ctx, groupID)
	if err != nil {
		return Group{}, err
	}
	if !slices.Contains(members, p.Device) {
		return Group{}, fmt.Errorf("ds: escrow: %w", ErrForbidden)
	}
	return g, nil
}

// PutEscrowRecord accepts an escrow record from a member device of its group.
// The record is parsed strictly (escrow.Parse); its context names the group
// and epoch, which must be an epoch the group has reached (not a future one).
// The DS deduplicates identical records and keeps at most one candidate per
// device and (group, epoch): a device that uploads a second, different record
// for the same epoch gets ErrConflict. Returns after the record is durable.
func (s *Service) PutEscrowRecord(ctx context.Context, p Principal, record []byte) (EscrowReceipt, error) {
	es, err := s.escrowStore()
	if err != nil {
		return EscrowReceipt{}, err
	}
	if len(record) > s.cfg.MaxMessageBytes {
		return EscrowReceipt{}, fmt.Errorf("ds: escrow record: %w", ErrTooLarge)
	}
	rec, err := escrow.Parse(record)
	if err != nil {
		return EscrowReceipt{}, fmt.Errorf("ds: escrow record: %v: %w", err, ErrInvalidInput)
	}
	c := rec.Context
	g, err := s.escrowGroup(ctx, p, c.GroupID)
	if err != nil {
		return EscrowReceipt{}, err
	}
	if !bytes.Equal(g.ID, c.GroupID) {
		return EscrowReceipt{}, fmt.Errorf("ds: escrow record: group id: %w", ErrInvalidInput)
	}
	if c.Epoch > g.Epoch {
		return EscrowReceipt{}, fmt.Errorf("ds: escrow record: epoch %d is ahead of the group's epoch %d: %w", c.Epoch, g.Epoch, ErrInvalidInput)
	}
	id := rec.ID()
	created, err := es.PutEscrowRecord(ctx, EscrowUpload{
		GroupID: bytes.Clone(c.GroupID), Epoch: c.Epoch, Uploader: p.Device,
		ID: id, Record: rec.Bytes(), At: s.now(),
	})
	if err != nil {
		return EscrowReceipt{}, err
	}
	return EscrowReceipt{ID: id, Epoch: c.Epoch, Created: created}, nil
}

// EscrowRecords lists the candidates for (group, epoch) to a member device of
// the group, for it to verify (escrow.Verify) and, if none is correct, upload
// its own.
func (s *Service) EscrowRecords(ctx context.Context, p Principal, groupID []byte, epoch uint64) ([]EscrowCandidate, error) {
	es, err := s.escrowStore()
	if err != nil {
		return nil, err
	}
	if err := s.escrowMember(ctx, p, groupID); err != nil {
		return nil, err
	}
	return es.EscrowRecords(ctx, groupID, epoch)
}

// escrowMember is escrowGroup for callers that need only the membership
// check: it reads the group's open memberships, not its stored public state
// (which grows with the group's handshake history).
func (s *Service) escrowMember(ctx context.Context, p Principal, groupID []byte) error {
	if _, err := s.activeDevice(ctx, p); err != nil {
		return err
	}
	members, err := s.store.GroupMembers(ctx, groupID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("ds: escrow: group: %w", ErrForbidden)
	}
	if err != nil {
		return err
	}
	if !slices.Contains(members, p.Device) {
		return fmt.Errorf("ds: escrow: %w", ErrForbidden)
	}
	return nil
}

// EpochPublicState is the public state of one past or current epoch of a
// group, as the group's member-signed handshake messages determine it: what
// an authority needs, besides the epoch's recovered escrow secrets, to
// decrypt the epoch's PrivateMessages and check their signatures (the cipher
// suite, the ratchet tree's leaf count that shapes the secret tree, the
// serialized GroupContext senders sign, and the members by leaf with their
// signature keys).
type EpochPublicState struct {
	GroupID      []byte
	Epoch        uint64
	Suite        uint16
	LeafCount    uint32
	GroupContext []byte // GroupContext encoding (RFC 9420, Section 8.1)
	Members      []Member
}

// EpochStateReader is implemented by a GroupValidator that can rebuild the
// public state of past epochs from a stored state (ds/mlsvalidator replays
// its log of accepted handshake messages). The Service finds it on its
// Validator with a type assertion.
type EpochStateReader interface {
	// EpochStates returns the state of each of epochs that the stored state
	// passed through, in ascending epoch order; epochs it never reached are
	// left out.
	EpochStates(state []byte, epochs []uint64) ([]EpochPublicState, error)
}

// ScopedEpochStates returns the public state of every epoch in a warrant's
// scope: the epochs ScopedRecords selects (a member-signed statement names
// one of targets and the epoch's span overlaps [from, to)), rebuilt from the
// group's stored public state. Like ScopedRecords, the caller must have
// verified the warrant and its presence in the access log
// (server.WarrantStatesHandler). The states are public data the members
// signed (the GroupContext's tree hash commits to the leaves); an authority
// uses them only for epochs whose records the trustees released.
func (s *Service) ScopedEpochStates(ctx context.Context, targets []string, from, to uint64) ([]EpochPublicState, error) {
	er, ok := s.val.(EpochStateReader)
	if !ok {
		return nil, fmt.Errorf("ds: epoch states: the validator cannot rebuild past epochs: %w", ErrNotFound)
	}
	es, err := s.statementStore()
	if err != nil {
		return nil, err
	}
	byGroup := map[string][]uint64{}
	var order []string
	seen := map[string]bool{}
	for _, target := range targets {
		refs, err := es.MemberEpochs(ctx, target)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			key := fmt.Sprintf("%x/%d", ref.GroupID, ref.Epoch)
			if seen[key] {
				continue
			}
			seen[key] = true
			ev, err := epochEvidence(ctx, es, ref.GroupID, ref.Epoch)
			if err != nil {
				return nil, err
			}
			span, err := statementSpan(ev)
			if err != nil {
				return nil, err
			}
			if !span.Overlaps(from, to) {
				continue
			}
			g := string(ref.GroupID)
			if _, ok := byGroup[g]; !ok {
				order = append(order, g)
			}
			byGroup[g] = append(byGroup[g], ref.Epoch)
		}
	}
	var out []EpochPublicState
	for _, g := range order {
		grp, err := s.store.Group(ctx, []byte(g))
		if err != nil {
			return nil, err
		}
		epochs := byGroup[g]
		slices.Sort(epochs)
		sts, err := er.EpochStates(grp.State, epochs)
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	return out, nil
}
