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
	if _, err := s.escrowGroup(ctx, p, groupID); err != nil {
		return nil, err
	}
	return es.EscrowRecords(ctx, groupID, epoch)
}
