package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
)

// With --escrow (and --mls) every simulated client is a compliant escrowing
// client (client/escrow.go; docs/lawful-access.md, "Upload"): before its
// first application message in an epoch it lists the DS's escrow candidates
// for that epoch, verifies them byte for byte against the record it
// recomputes (escrow.Verify) and uploads its own (escrow.Build) when none is
// correct; a committer signs its time into the commit's authenticated_data,
// uploads its epoch statement and escrows the new epoch at once. The policy
// is generated for the run: 3 of 5 trustees with X-Wing keys for the current
// key period. --commit-every N makes one member of each group commit (an
// empty commit with an UpdatePath) after every N accepted messages of that
// group, with or without escrow, so that escrow's cost is measured at a
// stated epoch rate.

// loadPolicy returns a freshly keyed, signed and verified 3-of-5 escrow policy
// whose key period covers now.
func loadPolicy(now time.Time) (*policy.Verified, error) {
	const genesis, length = 1767225600, 30 * 86400 // 2026-01-01, 30-day key periods
	period := uint32((uint64(now.Unix()) - genesis) / length)
	provPub, provKey, _ := ed25519.GenerateKey(rand.Reader)
	p := &policy.Policy{Name: "daylight-load policy", Provider: provPub, K: 3, W: 1,
		Periods: policy.KeyPeriods{Genesis: genesis, Length: length},
		Budgets: policy.Budgets{RecordsPerWarrant: 100, RecordsPerJurisdiction30d: 1000, RecordsOverall30d: 5000,
			MaxTargets: 3, MaxWindow: 90 * 86400, MaxEmbargo: 180 * 86400, Lookback: 365 * 86400,
			EpochMaxAge: 86400, RetentionGrace: 7 * 86400}}
	var trusteeKeys []ed25519.PrivateKey
	for i := range 5 {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		trusteeKeys = append(trusteeKeys, priv)
		_, pk, err := xwing.GenerateKeyPairPacked(rand.Reader)
		if err != nil {
			return nil, err
		}
		p.Trustees = append(p.Trustees, policy.Trustee{ID: fmt.Sprintf("trustee-%d", i), Jurisdiction: "L",
			SigningKey: pub, PeriodKeys: []policy.PeriodKey{{Period: period, Key: pk}}})
	}
	cpub, _, _ := ed25519.GenerateKey(rand.Reader)
	p.Courts = []policy.Court{{ID: "court-l", Jurisdiction: "L", Key: cpub}}
	_, logV, err := note.GenerateKey(rand.Reader, "log.load.test")
	if err != nil {
		return nil, err
	}
	_, witV, err := note.GenerateKey(rand.Reader, "witness-0")
	if err != nil {
		return nil, err
	}
	p.Log = policy.LogKey{Origin: "log.load.test", VerifierKey: logV}
	p.Witnesses = []policy.Witness{{Name: "witness-0", VerifierKey: witV}}
	body, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	s := &policy.Signed{Body: body, Signatures: []policy.Signature{policy.Sign(body, policy.ProviderSigner, provKey)}}
	for i, tr := range p.Trustees {
		s.Signatures = append(s.Signatures, policy.Sign(body, tr.ID, trusteeKeys[i]))
	}
	return policy.Verify(s)
}

// escrowContext is the record context and parameters of g's current epoch.
func escrowContext(pol *policy.Verified, g *group.Group, now time.Time) (escrow.Context, escrow.Params, error) {
	period := pol.Period(uint64(now.Unix()))
	params, err := pol.EscrowParams(period)
	if err != nil {
		return escrow.Context{}, escrow.Params{}, err
	}
	return escrow.Context{PolicyID: pol.ID, KeyPeriod: period, GroupID: g.GroupID(), Epoch: g.Epoch()}, params, nil
}

// ensureEscrow is a member's check before sending in its current epoch: list
// the candidates, verify them, upload its own record if none is correct. It
// runs once per member and epoch; the caller holds m.mu.
func (s *sim) ensureEscrow(ctx context.Context, pol *policy.Verified) (uploaded bool, err error) {
	g := s.mls.g
	if s.mls.escrowed && s.mls.escrowEpoch == g.Epoch() {
		return false, nil
	}
	enc, sd, ok := g.EscrowSecrets()
	if !ok {
		return false, fmt.Errorf("escrow: epoch %d secrets not kept", g.Epoch())
	}
	p := escrow.Secrets{EncryptionSecret: enc, SenderDataSecret: sd}
	ec, params, err := escrowContext(pol, g, time.Now())
	if err != nil {
		return false, err
	}
	// As client/escrow.go: one candidate equal to the record this member
	// computes is a byte-for-byte match without downloading it; otherwise
	// every candidate is downloaded and verified.
	mine, err := escrow.Build(ec, p, params)
	if err != nil {
		return false, fmt.Errorf("escrow build: %w", err)
	}
	ids, err := s.c.EscrowRecordIDs(ctx, ec.GroupID, ec.Epoch)
	if err != nil {
		return false, fmt.Errorf("escrow candidates: %w", err)
	}
	var cands []api.EscrowCandidate
	good := false
	if id := mine.ID(); len(ids) == 1 && bytes.Equal(ids[0].ID, id[:]) {
		good = true
	} else if len(ids) > 0 {
		if cands, err = s.c.EscrowRecords(ctx, ec.GroupID, ec.Epoch); err != nil {
			return false, fmt.Errorf("escrow candidates: %w", err)
		}
	}
	for _, c := range cands {
		rec, err := escrow.Parse(c.Record)
		if err == nil && escrow.Verify(rec, ec, p, params) == nil {
			good = true
			break
		}
	}
	if !good {
		if _, err := s.c.PutEscrowRecord(ctx, mine.Bytes()); err != nil {
			return false, fmt.Errorf("escrow upload: %w", err)
		}
		uploaded = true
	}
	s.mls.escrowed, s.mls.escrowEpoch = true, g.Epoch()
	return uploaded, nil
}

// commitTimeAAD is the committer's signed time (client/escrow.go,
// encodeCommitTime): version 1 || unix seconds.
func commitTimeAAD(t time.Time) []byte {
	b := make([]byte, 9)
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:], uint64(t.Unix()))
	return b
}

// commitGroup makes by commit an empty commit with an UpdatePath to gs's
// group; every other member processes it in-process (the load tool's
// receivers do not decrypt). With escrow the committer then uploads its epoch
// statement and the new epoch's record. The caller holds gs.epoch for writing.
func commitGroup(ctx context.Context, gs *groupSim, by *sim, pol *policy.Verified) (uploaded bool, err error) {
	opts := group.CommitOptions{ForcePath: true}
	if pol != nil {
		opts.AuthenticatedData = commitTimeAAD(time.Now())
	}
	by.mls.mu.Lock()
	defer by.mls.mu.Unlock()
	res, err := by.mls.g.Commit(opts)
	if err != nil {
		return false, fmt.Errorf("mls commit: %w", err)
	}
	if _, err := by.c.Send(ctx, res.Commit); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	if err := by.mls.g.MergePendingCommit(); err != nil {
		return false, err
	}
	for _, m := range gs.members {
		if m == by {
			continue
		}
		m.mls.mu.Lock()
		r, err := m.mls.g.Process(res.Commit)
		if err == nil {
			err = m.mls.g.Merge(r.Staged)
		}
		m.mls.mu.Unlock()
		if err != nil {
			return false, fmt.Errorf("mls process commit: %w", err)
		}
	}
	if pol == nil {
		return false, nil
	}
	g := by.mls.g
	var accounts []string
	for _, m := range gs.members {
		accounts = append(accounts, m.sig.Username)
	}
	slices.Sort(accounts)
	st := &trustee.CommitStatement{GroupID: g.GroupID(), Epoch: g.Epoch(), Time: uint64(time.Now().Unix()),
		Members: accounts, Committer: by.sig.Username}
	st.Sign(by.sig.Key)
	if err := by.c.PutEpochStatement(ctx, st.Marshal()); err != nil {
		return false, fmt.Errorf("epoch statement: %w", err)
	}
	return by.ensureEscrow(ctx, pol)
}
