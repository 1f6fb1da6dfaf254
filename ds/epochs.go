package ds

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/daylight-im/daylight/trustee"
)

// Epoch statements (docs/lawful-access.md, "Epoch lifetime"; A4, T11).
//
// Trustees take an epoch's times and members from member-signed data, never
// from the provider's word. mls/group does not let the committer put its
// signed timestamp in the commit's authenticated_data, so the committer signs
// a trustee.CommitStatement (group, epoch, its clock's time, the group's
// accounts, itself) with its device key, which is also its MLS leaf signature
// key, and uploads it right after its commit is accepted. The DS keeps one
// statement per (group, epoch): the first that passes the checks below. The
// statements of epoch e and e+1 are the evidence of epoch e that
// trustee.CommitChain (or any EpochVerifier with the same trust model)
// verifies against the key directory's keys.

// MaxStatementSkew bounds how far a statement's time may be from the DS's
// clock when it is uploaded.
const MaxStatementSkew = 10 * time.Minute

// EpochStatement is a stored, checked statement.
type EpochStatement struct {
	GroupID   []byte
	Epoch     uint64
	Uploader  DeviceID
	Statement []byte // trustee.CommitStatement encoding
	Received  time.Time
	Members   []string // the statement's accounts (indexed for warrant scoping)
}

// EpochRef names one epoch of one group.
type EpochRef struct {
	GroupID []byte
	Epoch   uint64
}

// EpochStatementStore holds epoch statements. store/sqlite and
// store/postgres implement it; the Service finds it on its Store with a type
// assertion.
type EpochStatementStore interface {
	// PutEpochStatement stores s as the statement of (s.GroupID, s.Epoch).
	// The same bytes again are a no-op; different bytes for a (group, epoch)
	// that has a statement are ErrConflict and change nothing.
	PutEpochStatement(ctx context.Context, s EpochStatement) error
	// EpochStatement returns the statement of (group, epoch) (ErrNotFound).
	EpochStatement(ctx context.Context, groupID []byte, epoch uint64) (EpochStatement, error)
	// MemberEpochs lists the epochs whose statement names account as a
	// member, by group id then epoch.
	MemberEpochs(ctx context.Context, account string) ([]EpochRef, error)
}

func (s *Service) statementStore() (EpochStatementStore, error) {
	es, ok := s.cfg.Store.(EpochStatementStore)
	if !ok {
		return nil, fmt.Errorf("ds: epoch statements: the store keeps none: %w", ErrNotFound)
	}
	return es, nil
}

// PutEpochStatement accepts the signed statement of the group's current
// epoch from a member device. The statement must parse strictly, name the
// group's current epoch, be signed by the uploading device's registered key
// as its account (Committer), list exactly the accounts holding a leaf in the
// group, and carry a time within MaxStatementSkew of the DS's clock.
func (s *Service) PutEpochStatement(ctx context.Context, p Principal, stmt []byte) error {
	es, err := s.statementStore()
	if err != nil {
		return err
	}
	if len(stmt) > s.cfg.MaxMessageBytes {
		return fmt.Errorf("ds: epoch statement: %w", ErrTooLarge)
	}
	cs, err := trustee.ParseCommitStatement(stmt)
	if err != nil {
		return fmt.Errorf("ds: epoch statement: %v: %w", err, ErrInvalidInput)
	}
	dev, err := s.activeDevice(ctx, p)
	if err != nil {
		return err
	}
	g, err := s.escrowGroup(ctx, p, cs.GroupID)
	if err != nil {
		return err
	}
	if cs.Epoch != g.Epoch {
		return fmt.Errorf("ds: epoch statement: epoch %d, the group is at %d: %w", cs.Epoch, g.Epoch, ErrStaleEpoch)
	}
	if cs.Committer != p.Username {
		return fmt.Errorf("ds: epoch statement: committer %q is not the uploader: %w", cs.Committer, ErrForbidden)
	}
	tbs := stmt[:len(stmt)-ed25519.SignatureSize]
	if !ed25519.Verify(dev.SigningKey, tbs, cs.Signature) {
		return fmt.Errorf("ds: epoch statement: %w", ErrBadSignature)
	}
	var accounts []string
	for _, id := range g.Leaves {
		d, err := s.store.Device(ctx, id)
		if err != nil {
			return err
		}
		accounts = append(accounts, d.Username)
	}
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	if !slices.Equal(accounts, cs.Members) {
		return fmt.Errorf("ds: epoch statement: members %v, the group's accounts are %v: %w", cs.Members, accounts, ErrInvalidInput)
	}
	now := s.now()
	t := time.Unix(int64(cs.Time), 0)
	if d := t.Sub(now); d > MaxStatementSkew || d < -MaxStatementSkew {
		return fmt.Errorf("ds: epoch statement: time %s is %s from the server's clock: %w", t.UTC().Format(time.RFC3339), d, ErrInvalidInput)
	}
	return es.PutEpochStatement(ctx, EpochStatement{GroupID: bytes.Clone(cs.GroupID), Epoch: cs.Epoch, Uploader: p.Device, Statement: bytes.Clone(stmt), Received: now, Members: cs.Members})
}

// EpochEvidence returns, to a member device of the group, the evidence of
// an epoch in trustee.EncodeEpochEvidence form: the statement of the epoch
// and, if the group has moved on and the next statement is on file, that of
// epoch+1. ErrNotFound if the epoch's own statement is missing.
func (s *Service) EpochEvidence(ctx context.Context, p Principal, groupID []byte, epoch uint64) ([]byte, error) {
	es, err := s.statementStore()
	if err != nil {
		return nil, err
	}
	if err := s.escrowMember(ctx, p, groupID); err != nil {
		return nil, err
	}
	return epochEvidence(ctx, es, groupID, epoch)
}

func epochEvidence(ctx context.Context, es EpochStatementStore, groupID []byte, epoch uint64) ([]byte, error) {
	start, err := es.EpochStatement(ctx, groupID, epoch)
	if err != nil {
		return nil, err
	}
	sc, err := trustee.ParseCommitStatement(start.Statement)
	if err != nil {
		return nil, fmt.Errorf("ds: stored epoch statement: %w", err)
	}
	var ec *trustee.CommitStatement
	end, err := es.EpochStatement(ctx, groupID, epoch+1)
	switch {
	case err == nil:
		if ec, err = trustee.ParseCommitStatement(end.Statement); err != nil {
			return nil, fmt.Errorf("ds: stored epoch statement: %w", err)
		}
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return trustee.EncodeEpochEvidence(sc, ec), nil
}

// ScopedRecord is one escrow record candidate in a warrant's scope, with the
// member-signed evidence of its epoch (the records.json entry of the
// authority's case file).
type ScopedRecord struct {
	GroupID       []byte
	Epoch         uint64
	Record        []byte
	EpochEvidence []byte // trustee.EncodeEpochEvidence form
	Uploaders     []DeviceID
}

// ScopedRecords returns the escrow record candidates of every epoch whose
// member-signed statement names one of targets as a member and whose span
// (its statement's time to the next statement's, open while there is none)
// overlaps the window [from, to). The caller must have verified the warrant
// that names targets and window and its presence in the access log
// (server.WarrantRecordsHandler); trustees re-check each record's scope from
// the evidence with directory keys (A4, T6, T11), so the DS's selection only
// bounds what it hands out. Epochs without a statement are not found.
func (s *Service) ScopedRecords(ctx context.Context, targets []string, from, to uint64) ([]ScopedRecord, error) {
	es, err := s.statementStore()
	if err != nil {
		return nil, err
	}
	ers, err := s.escrowStore()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []ScopedRecord
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
			cands, err := ers.EscrowRecords(ctx, ref.GroupID, ref.Epoch)
			if err != nil {
				return nil, err
			}
			for _, c := range cands {
				out = append(out, ScopedRecord{GroupID: ref.GroupID, Epoch: ref.Epoch, Record: c.Record, EpochEvidence: ev, Uploaders: c.Uploaders})
			}
		}
	}
	return out, nil
}

// statementSpan reads the span of stored evidence (already checked at upload).
func statementSpan(ev []byte) (trustee.EpochSpan, error) {
	var span trustee.EpochSpan
	s := ev
	for i := 0; len(s) >= 2; i++ {
		n := int(s[0])<<8 | int(s[1])
		if len(s) < 2+n {
			break
		}
		c, err := trustee.ParseCommitStatement(s[2 : 2+n])
		if err != nil {
			return span, err
		}
		if i == 0 {
			span.GroupID, span.Epoch, span.Start, span.Members = c.GroupID, c.Epoch, c.Time, c.Members
		} else {
			span.End = c.Time
		}
		s = s[2+n:]
	}
	if span.GroupID == nil || len(s) != 0 {
		return span, fmt.Errorf("ds: stored epoch evidence malformed")
	}
	return span, nil
}
