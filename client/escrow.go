package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
)

// Escrow upload (docs/lawful-access.md, "Upload"; A8, T8, T9).
//
// A compliant client makes sure that a correct escrow record of its group's
// current epoch is on the DS before it sends its first application message in
// that epoch, and after every sync for each group whose epoch it has not yet
// seen verified (so a receiver supplies the record a non-compliant sender
// omitted). It recomputes the record with escrow.Build from the epoch's
// secrets and the policy, lists the DS's candidates, checks each byte for
// byte (escrow.Verify), and uploads its own when none is correct (a garbage
// candidate is reported in EscrowStatus.Bad, with the devices that uploaded
// it). The verified epoch of each group is remembered in the local store
// ("escrow/<hex id>"), so each epoch costs one list and at most one upload.
//
// The policy is a client-level setting (Config.Escrow); the groups this
// client creates carry its id in their GroupContext and the client refuses to
// send in a group naming another (client/policyctx.go, A10). See
// docs/lawful-access.md, "Escrow upload and epoch statements".

// EscrowPolicy is the access policy this client escrows under.
type EscrowPolicy struct {
	Policy *policy.Verified
}

// EscrowStatus is the outcome of one check of a group's current epoch.
type EscrowStatus struct {
	Epoch    uint64
	Verified bool           // a candidate on the DS equals the recomputed record
	Uploaded bool           // this device uploaded its record
	RecordID [32]byte       // the correct record's id
	Bad      []BadCandidate // candidates that do not verify
}

// BadCandidate is an escrow record on the DS that is not the epoch's record.
type BadCandidate struct {
	ID        [32]byte
	Uploaders []api.DeviceID
	Reason    string
}

// ErrEscrowMismatch reports that the DS holds no correct record even after
// this device uploaded its own (the DS did not keep it).
var ErrEscrowMismatch = errors.New("client: the DS holds no correct escrow record for this epoch")

// errNoEscrowSecrets reports a group that entered its epoch without
// Config.KeepEscrowSecrets (a group restored from an older state): its
// current epoch cannot be escrowed; the next one can.
var errNoEscrowSecrets = errors.New("client: escrow: the epoch's secrets were not kept")

// epochSecrets returns P = (encryption_secret, sender_data_secret) of the
// group's current epoch (RFC 9420, Section 8), kept by mls/group because the
// client sets Config.KeepEscrowSecrets when it escrows.
func epochSecrets(g *group.Group) (escrow.Secrets, error) {
	enc, sd, ok := g.EscrowSecrets()
	if !ok {
		return escrow.Secrets{}, errNoEscrowSecrets
	}
	return escrow.Secrets{EncryptionSecret: enc, SenderDataSecret: sd}, nil
}

type escrowRecord struct {
	Epoch uint64 `json:"epoch"` // last epoch seen with a correct record on the DS
}

func (c *Client) escrowVerified(gs *groupState) (uint64, bool) {
	b, ok := c.st.Get("escrow/" + gs.hexID())
	if !ok {
		return 0, false
	}
	var r escrowRecord
	if json.Unmarshal(b, &r) != nil {
		return 0, false
	}
	return r.Epoch, true
}

// escrowContext returns the record context and params for the group's current
// epoch at this client's clock.
func (c *Client) escrowContext(g *group.Group) (escrow.Context, escrow.Params, error) {
	pol := c.cfg.Escrow.Policy
	period := pol.Period(uint64(c.cfg.Now().Unix()))
	params, err := pol.EscrowParams(period)
	if err != nil {
		return escrow.Context{}, escrow.Params{}, fmt.Errorf("client: escrow: %w", err)
	}
	return escrow.Context{PolicyID: pol.ID, KeyPeriod: period, GroupID: g.GroupID(), Epoch: g.Epoch()}, params, nil
}

// escrowActive reports whether this client escrows at all and gs is a group
// it can escrow for.
func (c *Client) escrowActive(gs *groupState) bool {
	return c.cfg.Escrow != nil && c.cfg.Escrow.Policy != nil && !c.cfg.Escrow.Policy.NoEscrow &&
		!gs.Removed && !gs.Left && gs.m != nil && gs.m.g != nil && !gs.m.g.Removed()
}

// ensureEscrow makes sure a correct record of gs's current epoch is on the
// DS, unless this device already saw one for that epoch.
func (c *Client) ensureEscrow(ctx context.Context, gs *groupState) error {
	if !c.escrowActive(gs) {
		return nil
	}
	if e, ok := c.escrowVerified(gs); ok && e == gs.m.g.Epoch() {
		return nil
	}
	_, err := c.checkEscrow(ctx, gs)
	if errors.Is(err, errNoEscrowSecrets) {
		return nil // nothing this device can escrow for this epoch
	}
	return err
}

// ensureEscrowAll runs ensureEscrow on every group of this device.
func (c *Client) ensureEscrowAll(ctx context.Context) error {
	if c.cfg.Escrow == nil {
		return nil
	}
	if err := c.flushStashedEscrow(ctx); err != nil {
		return err
	}
	for _, k := range c.st.List("group/") {
		gs, err := c.loadGroup(k[len("group/"):])
		if err != nil {
			continue
		}
		if err := c.ensureEscrow(ctx, gs); err != nil {
			return err
		}
	}
	return nil
}

// verifyCandidate checks one candidate against P and this device's view of
// the context. The candidate's key period may differ from the one this
// client's clock gives (an epoch that began near a period boundary); any
// period the policy has keys for is recomputed with.
func (c *Client) verifyCandidate(raw []byte, want escrow.Context, p escrow.Secrets) error {
	rec, err := escrow.Parse(raw)
	if err != nil {
		return err
	}
	ctx := want
	if rec.Context.KeyPeriod != want.KeyPeriod {
		ctx.KeyPeriod = rec.Context.KeyPeriod
	}
	params, err := c.cfg.Escrow.Policy.EscrowParams(ctx.KeyPeriod)
	if err != nil {
		return err
	}
	return escrow.Verify(rec, ctx, p, params)
}

func (c *Client) checkEscrow(ctx context.Context, gs *groupState) (EscrowStatus, error) {
	g := gs.m.g
	st := EscrowStatus{Epoch: g.Epoch()}
	p, err := epochSecrets(g)
	if err != nil {
		return st, fmt.Errorf("client: escrow secrets: %w", err)
	}
	ec, params, err := c.escrowContext(g)
	if err != nil {
		return st, err
	}
	mine, err := escrow.Build(ec, p, params)
	if err != nil {
		return st, fmt.Errorf("client: escrow record: %w", err)
	}
	// Fast path: the DS holds exactly one candidate and it is the record
	// this device computed (records are deterministic: an equal id is a
	// byte-for-byte match), so nothing needs downloading. Any other
	// candidate (another key period, or garbage to report) takes the full
	// path below, which downloads and verifies each one.
	ids, err := c.tr.EscrowRecordIDs(ctx, ec.GroupID, ec.Epoch)
	if err != nil {
		return st, fmt.Errorf("client: escrow candidates: %w", err)
	}
	var cands []api.EscrowCandidate
	if mineID := mine.ID(); len(ids) == 1 && bytes.Equal(ids[0].ID, mineID[:]) {
		st.Verified, st.RecordID = true, mineID
	} else if len(ids) > 0 {
		if cands, err = c.tr.EscrowRecords(ctx, ec.GroupID, ec.Epoch); err != nil {
			return st, fmt.Errorf("client: escrow candidates: %w", err)
		}
	}
	for _, cand := range cands {
		if err := c.verifyCandidate(cand.Record, ec, p); err != nil {
			b := BadCandidate{Uploaders: cand.Uploaders, Reason: err.Error()}
			copy(b.ID[:], cand.ID)
			st.Bad = append(st.Bad, b)
			continue
		}
		st.Verified = true
		st.RecordID = escrow.RecordID(cand.Record)
	}
	if !st.Verified {
		rc, err := c.tr.PutEscrowRecord(ctx, mine.Bytes())
		if err != nil {
			return st, fmt.Errorf("client: escrow upload: %w", err)
		}
		if len(rc.ID) != 32 || [32]byte(rc.ID) != mine.ID() {
			return st, fmt.Errorf("%w: upload answered record id %x", ErrEscrowMismatch, rc.ID)
		}
		st.Verified, st.Uploaded, st.RecordID = true, true, mine.ID()
	}
	b, err := json.Marshal(escrowRecord{Epoch: st.Epoch})
	if err != nil {
		return st, err
	}
	c.st.Put("escrow/"+gs.hexID(), b)
	return st, c.st.Commit()
}

// CheckEscrow checks now, whatever this device saw before, that a correct
// escrow record of the group's current epoch is on the DS, uploading this
// device's own if not, and reports the candidates that are not correct.
func (c *Client) CheckEscrow(ctx context.Context, ref string) (EscrowStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return EscrowStatus{}, err
	}
	if !c.escrowActive(gs) {
		return EscrowStatus{}, errors.New("client: escrow: no escrow policy configured (Config.Escrow)")
	}
	return c.checkEscrow(ctx, gs)
}

// EscrowRecord returns this device's escrow record of the group's current
// epoch (what it uploads), for tools and tests.
func (c *Client) EscrowRecord(ctx context.Context, ref string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !c.escrowActive(gs) {
		return nil, errors.New("client: escrow: no escrow policy configured (Config.Escrow)")
	}
	p, err := epochSecrets(gs.m.g)
	if err != nil {
		return nil, err
	}
	ec, params, err := c.escrowContext(gs.m.g)
	if err != nil {
		return nil, err
	}
	rec, err := escrow.Build(ec, p, params)
	if err != nil {
		return nil, err
	}
	return rec.Bytes(), nil
}

// UploadEscrowRecord uploads raw bytes as this device's escrow candidate for
// the epoch they name, unchecked. The DS accepts any well-formed record from
// a member; a test uses this to play a member that uploads garbage (T8).
func (c *Client) UploadEscrowRecord(ctx context.Context, record []byte) (api.EscrowReceipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return api.EscrowReceipt{}, err
	}
	return c.tr.PutEscrowRecord(ctx, record)
}

// EscrowCandidates lists the escrow record candidates the DS holds for an
// epoch of the group (the current one if epoch is nil), with the devices that
// uploaded each.
func (c *Client) EscrowCandidates(ctx context.Context, ref string, epoch *uint64) ([]api.EscrowCandidate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return nil, err
	}
	e := gs.m.g.Epoch()
	if epoch != nil {
		e = *epoch
	}
	return c.tr.EscrowRecords(ctx, gs.ID, e)
}

// afterOwnCommit runs once this device's commit is accepted and merged: a
// compliant client signs and uploads its statement of the epoch the commit
// started (the committer's signed time, ds/epochs.go: mls/group cannot put it
// in the commit's authenticated_data), then escrows the new epoch. Both are
// best effort here: the commit is already durable, a later send re-checks the
// escrow record (fail closed), and a lost statement race (another commit
// came first) is normal.
func (c *Client) afterOwnCommit(ctx context.Context, gs *groupState) {
	if !c.escrowActive(gs) {
		return
	}
	g := gs.m.g
	var accounts []string
	for _, m := range members(g) {
		accounts = append(accounts, m.Username)
	}
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	st := &trustee.CommitStatement{GroupID: g.GroupID(), Epoch: g.Epoch(), Time: uint64(c.cfg.Now().Unix()),
		Members: accounts, Committer: c.prof.Username}
	st.Sign(c.prof.SigningKey)
	_ = c.tr.PutEpochStatement(ctx, st.Marshal())
	_ = c.ensureEscrow(ctx, gs)
}

// EpochEvidence returns the member-signed evidence of an epoch of the group
// that the DS holds (trustee.EncodeEpochEvidence form), for a member to check
// or hand on.
func (c *Client) EpochEvidence(ctx context.Context, ref string, epoch uint64) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(ctx, ref)
	if err != nil {
		return nil, err
	}
	return c.tr.EpochEvidence(ctx, gs.ID, epoch)
}

// stashEscrow runs before this device processes a commit of gs: if the
// current epoch has no verified record yet, it computes the record now, while
// it still holds the epoch's secrets, and keeps it in the local store
// ("escrowpending/<hex id>/<epoch>") for ensureEscrowAll to upload after the
// page. Without it a receiver that gets a sender's messages and the next
// commit in one sync could never supply the omitted record (T9).
func (c *Client) stashEscrow(gs *groupState) {
	if !c.escrowActive(gs) {
		return
	}
	g := gs.m.g
	if e, ok := c.escrowVerified(gs); ok && e == g.Epoch() {
		return
	}
	p, err := epochSecrets(g)
	if err != nil {
		return
	}
	ec, params, err := c.escrowContext(g)
	if err != nil {
		return
	}
	rec, err := escrow.Build(ec, p, params)
	if err != nil {
		return
	}
	c.st.Put(fmt.Sprintf("escrowpending/%s/%d", gs.hexID(), g.Epoch()), rec.Bytes())
}

// flushStashedEscrow uploads the records stashEscrow kept, unless the DS
// already holds the same bytes (a record is deterministic: a correct
// candidate of that epoch in the same key period is byte-identical).
func (c *Client) flushStashedEscrow(ctx context.Context) error {
	pending := c.st.List("escrowpending/")
	if len(pending) == 0 {
		return nil
	}
	for _, k := range pending {
		raw, ok := c.st.Get(k)
		if !ok {
			continue
		}
		rec, err := escrow.Parse(raw)
		if err != nil {
			c.st.Delete(k)
			continue
		}
		id := rec.ID()
		cands, err := c.tr.EscrowRecords(ctx, rec.Context.GroupID, rec.Context.Epoch)
		if api.HasCode(err, api.CodeForbidden) {
			c.st.Delete(k) // no longer a member: nothing this device can do
			continue
		}
		if err != nil {
			return fmt.Errorf("client: escrow candidates: %w", err)
		}
		held := slices.ContainsFunc(cands, func(ca api.EscrowCandidate) bool { return escrow.RecordID(ca.Record) == id })
		if !held {
			if _, err := c.tr.PutEscrowRecord(ctx, raw); err != nil && !api.HasCode(err, api.CodeForbidden) {
				return fmt.Errorf("client: escrow upload: %w", err)
			}
		}
		c.st.Delete(k)
	}
	return c.st.Commit()
}

// Committer's signed time (docs/lawful-access.md, "Epoch lifetime"; T11).
// A compliant committer puts its clock's time in the commit's
// authenticated_data, which the MLS signature of the commit covers:
// commitTime = version(1) = 1 || unix seconds (u64, big-endian). The same
// time goes into its epoch statement.

// MaxCommitSkew is how far a commit's signed time may be from the time the DS
// says it accepted the commit before a member flags it.
const MaxCommitSkew = 10 * time.Minute

func encodeCommitTime(t time.Time) []byte {
	b := make([]byte, 9)
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:], uint64(t.Unix()))
	return b
}

// parseCommitTime decodes a commit's authenticated_data; ok is false when it
// carries no daylight commit time (a non-compliant committer).
func parseCommitTime(ad []byte) (time.Time, bool) {
	if len(ad) != 9 || ad[0] != 1 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(ad[1:])), 0), true
}

// commitTimeWarning returns the history text for a commit whose signed time
// is missing or far from the DS's acceptance time, "" when it is fine. Only
// a client that escrows checks.
func (c *Client) commitTimeWarning(ad []byte, received time.Time) string {
	if c.cfg.Escrow == nil {
		return ""
	}
	t, ok := parseCommitTime(ad)
	if !ok {
		return "the commit carries no signed time (its epoch's times rest on the provider's word)"
	}
	if d := t.Sub(received); d > MaxCommitSkew || d < -MaxCommitSkew {
		return fmt.Sprintf("the commit's signed time %s is %s from when the server accepted it", t.UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	return ""
}
