// Package trustee is the decision logic of a lawful-access trustee
// (docs/lawful-access.md, "Release"): given the policy, a court-signed warrant
// with its salt, proof that the warrant's commitment is in the access log
// under a checkpoint cosigned by at least w of the policy's witnesses, the
// escrow records requested with member-signed evidence of their epochs, and
// the releases already in the log, it releases or refuses with a specific
// reason. Releasing is two steps (A3): Decide produces the signed Release
// entry to append to the log; Shares hands out the shares only once that
// entry is itself proved included under a witnessed checkpoint.
//
// Transport and persistence are elsewhere: this package declares the Store it
// needs and takes everything else as values.
package trustee

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/warrant"
)

// Refusal reasons. Decide and Shares wrap exactly one of them (or an error of
// the warrant package for a bad warrant: warrant.ErrUnknownCourt, ...).
var (
	ErrNotTrustee   = errors.New("trustee: not a trustee of this policy")
	ErrNotLogged    = errors.New("trustee: entry not proved in the log under a witnessed checkpoint")
	ErrLogMismatch  = errors.New("trustee: logged warrant metadata does not match the warrant")
	ErrOutOfScope   = errors.New("trustee: record out of scope")
	ErrBudget       = errors.New("trustee: budget exceeded")
	ErrBadRecord    = errors.New("trustee: malformed or foreign escrow record")
	ErrBeyondWindow = errors.New("trustee: record older than the lookback")
	ErrBadRequest   = errors.New("trustee: bad request")
)

// Config is a trustee's identity and dependencies.
type Config struct {
	ID         string
	SigningKey ed25519.PrivateKey
	Policy     *policy.Verified
	Store      Store
	Epochs     EpochVerifier
	// Consistency returns an RFC 6962 consistency proof between two sizes of
	// the access log (the service wires it to the log's tile client). The
	// trustee keeps the largest checkpoint it accepted and requires every
	// later one to be consistent with it, so a fork shown to it at different
	// times is refused even if w witnesses cosigned both branches.
	Consistency func(ctx context.Context, from, to uint64) ([][]byte, error)
}

// Trustee makes release decisions for one trustee of one policy.
type Trustee struct {
	cfg   Config
	index int
	cp    *accesslog.CheckpointPolicy
}

// New checks that cfg names a trustee of the policy whose signing key matches.
func New(cfg Config) (*Trustee, error) {
	idx, ok := cfg.Policy.TrusteeIndex(cfg.ID)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotTrustee, cfg.ID)
	}
	if !bytes.Equal(cfg.Policy.Trustees[idx].SigningKey, cfg.SigningKey.Public().(ed25519.PublicKey)) {
		return nil, fmt.Errorf("%w: signing key of %q differs from the policy's", ErrNotTrustee, cfg.ID)
	}
	if cfg.Store == nil || cfg.Epochs == nil || cfg.Consistency == nil {
		return nil, fmt.Errorf("trustee: config needs a Store, an EpochVerifier and a Consistency prover")
	}
	cp, err := cfg.Policy.CheckpointPolicy()
	if err != nil {
		return nil, err
	}
	return &Trustee{cfg: cfg, index: idx, cp: cp}, nil
}

// Inclusion is an access-log entry with the proof that it is in the log: a
// checkpoint (signed note with witness cosignatures) and an RFC 6962
// inclusion proof of the entry at Index.
type Inclusion struct {
	Checkpoint []byte
	Index      uint64
	Entry      []byte
	Proof      [][]byte
}

// verifyIncluded checks the checkpoint against the policy's log key and w
// witnesses, and the entry's inclusion under it; it returns the parsed entry.
func (t *Trustee) verifyIncluded(ctx context.Context, in Inclusion) (accesslog.Entry, error) {
	cp, err := t.cp.Verify(in.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotLogged, err)
	}
	if err := t.checkConsistent(ctx, cp); err != nil {
		return nil, err
	}
	if in.Index >= cp.Size {
		return nil, fmt.Errorf("%w: index %d beyond checkpoint size %d", ErrNotLogged, in.Index, cp.Size)
	}
	if err := accesslog.VerifyInclusion(cp, in.Index, in.Entry, in.Proof); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotLogged, err)
	}
	e, err := accesslog.Parse(in.Entry)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotLogged, err)
	}
	return e, nil
}

// checkConsistent checks cp against the largest checkpoint the trustee has
// accepted and records cp if it is larger.
func (t *Trustee) checkConsistent(ctx context.Context, cp *accesslog.Checkpoint) error {
	prevRaw, err := t.cfg.Store.LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	if prevRaw != nil {
		prev, err := t.cp.Verify(prevRaw)
		if err != nil {
			return fmt.Errorf("trustee: stored checkpoint no longer verifies: %w", err)
		}
		older, newer := prev, cp
		if cp.Size < prev.Size {
			older, newer = cp, prev
		}
		var proof [][]byte
		if older.Size != newer.Size && older.Size > 0 {
			if proof, err = t.cfg.Consistency(ctx, older.Size, newer.Size); err != nil {
				return fmt.Errorf("%w: consistency proof %d..%d: %w", ErrNotLogged, older.Size, newer.Size, err)
			}
		}
		if err := accesslog.VerifyConsistency(older, newer, proof); err != nil {
			return fmt.Errorf("%w: checkpoint inconsistent with one this trustee accepted before (fork): %w", ErrNotLogged, err)
		}
		if cp.Size <= prev.Size {
			return nil
		}
	}
	return t.cfg.Store.SetLatestCheckpoint(ctx, cp.Raw)
}

// RecordRequest is one escrow record asked for, with the member-signed
// evidence of its epoch for the EpochVerifier.
type RecordRequest struct {
	Record        []byte
	EpochEvidence []byte
}

// Request is what the requesting authority presents.
type Request struct {
	Warrant      *warrant.Signed
	Salt         [32]byte
	WarrantEntry Inclusion // the WarrantCommitment entry, proved in the log
	Records      []RecordRequest
}

// Ledger is what the log says was released so far: every WarrantCommitment
// and Release entry (from a log the caller has verified up to a witnessed
// checkpoint). Budgets are counted from it, so anyone can recount them (A5).
type Ledger struct {
	Warrants []*accesslog.WarrantCommitment
	Releases []*accesslog.Release
}

// Usage is the budget use relevant to one decision, counted in records
// released by this trustee (every record opened needs k releases, so one
// trustee's count is the number of records opened with its help).
type Usage struct {
	ForWarrant        uint64
	ForJurisdiction30 uint64
	Overall30         uint64
}

const days30 = 30 * 86400

// Usage counts this trustee's logged releases for the warrant, for the
// jurisdiction in the 30 days before now, and overall in those 30 days.
func (l *Ledger) Usage(trusteeID string, commitment [32]byte, jurisdiction string, now uint64) Usage {
	juris := map[[32]byte]string{}
	for _, w := range l.Warrants {
		juris[w.Commitment] = w.Jurisdiction
	}
	var u Usage
	for _, r := range l.Releases {
		if r.Trustee != trusteeID {
			continue
		}
		if r.WarrantCommitment == commitment {
			u.ForWarrant += uint64(r.Count)
		}
		if r.Time+days30 > now && r.Time <= now {
			u.Overall30 += uint64(r.Count)
			if juris[r.WarrantCommitment] == jurisdiction {
				u.ForJurisdiction30 += uint64(r.Count)
			}
		}
	}
	return u
}

// Approval is a positive decision: the signed Release entry to append to the
// log, and what Shares needs once it is in.
type Approval struct {
	Release *accesslog.Release
	Entry   []byte // accesslog encoding of Release
	request *Request
}

// Decide checks a request and either refuses it (the error wraps a specific
// reason) or returns an Approval whose Release entry the trustee appends to
// the access log. now is the trustee's clock, unix seconds.
func (t *Trustee) Decide(ctx context.Context, req *Request, ledger *Ledger, now uint64) (*Approval, error) {
	pol := t.cfg.Policy
	if pol.NoEscrow {
		return nil, fmt.Errorf("%w: the policy has no escrow", ErrBadRequest)
	}
	// 1. The warrant: court in the policy, signature, validity, bounds (T5).
	if req.Warrant == nil {
		return nil, fmt.Errorf("%w: no warrant", ErrBadRequest)
	}
	w, err := warrant.Verify(req.Warrant, pol, now)
	if err != nil {
		return nil, err
	}
	// 2. Its commitment is in the log under a witnessed checkpoint (T3, T4).
	e, err := t.verifyIncluded(ctx, req.WarrantEntry)
	if err != nil {
		return nil, err
	}
	wc, ok := e.(*accesslog.WarrantCommitment)
	if !ok {
		return nil, fmt.Errorf("%w: the proved entry is a %T, not a warrant commitment", ErrNotLogged, e)
	}
	if err := w.Matches(warrant.Metadata(*wc), req.Salt); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogMismatch, err)
	}
	commitment := wc.Commitment
	// 3. Every record in scope (A4, T6, T11) and openable (A6, T12).
	if len(req.Records) == 0 {
		return nil, fmt.Errorf("%w: no records", ErrBadRequest)
	}
	seen := map[[32]byte]bool{}
	var ids [][32]byte
	for i, rr := range req.Records {
		rec, err := escrow.Parse(rr.Record)
		if err != nil {
			return nil, fmt.Errorf("%w: records[%d]: %w", ErrBadRecord, i, err)
		}
		id := rec.ID()
		if seen[id] {
			return nil, fmt.Errorf("%w: records[%d]: listed twice", ErrBadRequest, i)
		}
		seen[id] = true
		if err := t.checkRecord(ctx, w, rec, rr.EpochEvidence, now); err != nil {
			return nil, fmt.Errorf("records[%d] (group %x epoch %d): %w", i, rec.Context.GroupID, rec.Context.Epoch, err)
		}
		ids = append(ids, id)
	}
	// 4. Budgets, from the log (A5, T7).
	u := ledger.Usage(t.cfg.ID, commitment, w.Jurisdiction, now)
	n := uint64(len(ids))
	bu := pol.Budgets
	switch {
	case u.ForWarrant+n > uint64(bu.RecordsPerWarrant):
		return nil, fmt.Errorf("%w: %d records for this warrant after %d already released, at most %d", ErrBudget, n, u.ForWarrant, bu.RecordsPerWarrant)
	case u.ForJurisdiction30+n > uint64(bu.RecordsPerJurisdiction30d):
		return nil, fmt.Errorf("%w: %d records for jurisdiction %q after %d in 30 days, at most %d", ErrBudget, n, w.Jurisdiction, u.ForJurisdiction30, bu.RecordsPerJurisdiction30d)
	case u.Overall30+n > uint64(bu.RecordsOverall30d):
		return nil, fmt.Errorf("%w: %d records after %d in 30 days overall, at most %d", ErrBudget, n, u.Overall30, bu.RecordsOverall30d)
	}
	rel := &accesslog.Release{WarrantCommitment: commitment, Trustee: t.cfg.ID, Count: uint32(n), RecordsHash: escrow.RecordsHash(ids), Time: now}
	msg, err := rel.SignedMessage()
	if err != nil {
		return nil, err
	}
	rel.Signature = ed25519.Sign(t.cfg.SigningKey, msg)
	entry, err := accesslog.Marshal(rel)
	if err != nil {
		return nil, err
	}
	return &Approval{Release: rel, Entry: entry, request: req}, nil
}

func (t *Trustee) checkRecord(ctx context.Context, w *warrant.Verified, rec *escrow.Record, evidence []byte, now uint64) error {
	pol := t.cfg.Policy
	if rec.Context.PolicyID != pol.ID {
		return fmt.Errorf("%w: record is under policy %x", ErrBadRecord, rec.Context.PolicyID[:6])
	}
	if rec.N != len(pol.Trustees) || rec.K != int(pol.K) {
		return fmt.Errorf("%w: record is %d-of-%d, the policy %d-of-%d", ErrBadRecord, rec.K, rec.N, pol.K, len(pol.Trustees))
	}
	if t.expired(rec.Context.KeyPeriod, now) {
		return fmt.Errorf("%w: key period %d", ErrBeyondWindow, rec.Context.KeyPeriod)
	}
	if gone, err := t.cfg.Store.Destroyed(ctx, rec.Context.KeyPeriod); err != nil {
		return err
	} else if gone {
		return fmt.Errorf("%w: period %d", ErrKeyDestroyed, rec.Context.KeyPeriod)
	}
	span, err := t.cfg.Epochs.VerifyEpoch(rec.Context.GroupID, rec.Context.Epoch, evidence)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOutOfScope, err)
	}
	if !bytes.Equal(span.GroupID, rec.Context.GroupID) || span.Epoch != rec.Context.Epoch {
		return fmt.Errorf("%w: epoch evidence is for another group or epoch", ErrOutOfScope)
	}
	if span.End == 0 {
		// No member-signed end: the epoch is current, or the provider hid the
		// commit that ended it. Compliant members do not send in an epoch
		// older than the policy's maximum age, so the epoch's messages lie in
		// [Start, Start+EpochMaxAge) at most (T11).
		span.End = now
		if age := pol.Budgets.EpochMaxAge; age > 0 && span.Start+age < now {
			span.End = span.Start + age
		}
	}
	if !span.Overlaps(w.WindowStart, w.WindowEnd) {
		return fmt.Errorf("%w: epoch [%d, %d) does not overlap the window [%d, %d)", ErrOutOfScope, span.Start, span.End, w.WindowStart, w.WindowEnd)
	}
	if !slices.ContainsFunc(span.Members, w.HasTarget) {
		return fmt.Errorf("%w: no target was a member of the group in this epoch", ErrOutOfScope)
	}
	// An epoch started in period p is escrowed under p (or p+1 when it
	// straddles a period boundary): a record under another period is not the
	// record of this epoch.
	if p := pol.Period(span.Start); rec.Context.KeyPeriod != p && rec.Context.KeyPeriod != p+1 {
		return fmt.Errorf("%w: record under key period %d, epoch started in %d", ErrBadRecord, rec.Context.KeyPeriod, p)
	}
	return nil
}

// SealedShare is one released share, encrypted to the requesting authority
// and signed by the trustee (A12).
type SealedShare struct {
	RecordID  [32]byte
	Trustee   string
	Sealed    []byte // HPKE X-Wing to the authority of escrow.ReleasedShare
	Signature []byte // trustee signature over shareTBS
}

func shareTBS(s *SealedShare) []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte("daylight released share v1\x00"))
	b.AddBytes(s.RecordID[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s.Trustee)) })
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Sealed) })
	return b.BytesOrPanic()
}

const shareInfo = "daylight released share v1"

// Shares releases this trustee's shares of an approved request, once the
// approval's Release entry is proved in the log under a witnessed checkpoint
// (A3). See SharesFor.
func (t *Trustee) Shares(ctx context.Context, a *Approval, releaseEntry Inclusion) ([]SealedShare, error) {
	if !bytes.Equal(releaseEntry.Entry, a.Entry) {
		return nil, fmt.Errorf("%w: the proved entry is not this approval's release", ErrNotLogged)
	}
	return t.SharesFor(ctx, a.request, releaseEntry)
}

// SharesFor releases this trustee's shares for req given the inclusion of a
// Release entry this trustee signed for exactly req's warrant and records,
// under a checkpoint with w witness cosignatures (A3). It needs no state from
// Decide, so a trustee service can persist the request, append the entry,
// and hand out the shares after a restart. Each share is encrypted to the
// X-Wing key of the authority the court named in the warrant (nobody else who
// learns the warrant can collect shares) and signed. A destroyed period key
// makes its records unopenable (T12).
func (t *Trustee) SharesFor(ctx context.Context, req *Request, releaseEntry Inclusion) ([]SealedShare, error) {
	e, err := t.verifyIncluded(ctx, releaseEntry)
	if err != nil {
		return nil, err
	}
	rel, ok := e.(*accesslog.Release)
	if !ok || rel.Trustee != t.cfg.ID {
		return nil, fmt.Errorf("%w: the proved entry is not a release by %q", ErrNotLogged, t.cfg.ID)
	}
	msg, err := rel.SignedMessage()
	if err != nil || !ed25519.Verify(t.cfg.SigningKey.Public().(ed25519.PublicKey), msg, rel.Signature) {
		return nil, fmt.Errorf("%w: the proved release is not signed by this trustee", ErrNotLogged)
	}
	if req == nil || req.Warrant == nil {
		return nil, fmt.Errorf("%w: no warrant", ErrBadRequest)
	}
	// The warrant was valid when the trustee decided (the release time).
	w, err := warrant.Verify(req.Warrant, t.cfg.Policy, rel.Time)
	if err != nil {
		return nil, err
	}
	if warrant.Commitment(req.Warrant, req.Salt) != rel.WarrantCommitment {
		return nil, fmt.Errorf("%w: the release is for another warrant", ErrNotLogged)
	}
	var recs []*escrow.Record
	var ids [][32]byte
	for i, rr := range req.Records {
		rec, err := escrow.Parse(rr.Record)
		if err != nil {
			return nil, fmt.Errorf("%w: records[%d]: %w", ErrBadRecord, i, err)
		}
		recs = append(recs, rec)
		ids = append(ids, rec.ID())
	}
	if escrow.RecordsHash(ids) != rel.RecordsHash || int(rel.Count) != len(ids) {
		return nil, fmt.Errorf("%w: the release covers other records", ErrNotLogged)
	}
	kem, kdf, aead := hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	pk, err := kem.NewPublicKey(w.AuthorityKEMKey)
	if err != nil {
		return nil, fmt.Errorf("%w: authority key: %w", ErrBadRequest, err)
	}
	var out []SealedShare
	for _, rec := range recs {
		priv, err := t.cfg.Store.PeriodKey(ctx, rec.Context.KeyPeriod)
		if err != nil {
			return nil, err
		}
		rs, err := escrow.DecryptShare(rec, t.index, priv)
		clear(priv)
		if err != nil {
			return nil, err
		}
		sealed, err := hpke.Seal(pk, kdf, aead, []byte(shareInfo), rs.Marshal())
		if err != nil {
			return nil, err
		}
		s := SealedShare{RecordID: rs.RecordID, Trustee: t.cfg.ID, Sealed: sealed}
		s.Signature = ed25519.Sign(t.cfg.SigningKey, shareTBS(&s))
		out = append(out, s)
	}
	return out, nil
}

// OpenShare is the authority's side: it checks the trustee's signature with
// the policy's key for that trustee, decrypts the share, and checks that it
// is the share of the named record by the named trustee.
func OpenShare(pol *policy.Verified, authorityPriv []byte, s *SealedShare) (*escrow.ReleasedShare, error) {
	idx, ok := pol.TrusteeIndex(s.Trustee)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotTrustee, s.Trustee)
	}
	if !ed25519.Verify(pol.Trustees[idx].SigningKey, shareTBS(s), s.Signature) {
		return nil, fmt.Errorf("trustee: share of %q: bad signature", s.Trustee)
	}
	kem, kdf, aead := hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	sk, err := kem.NewPrivateKey(authorityPriv)
	if err != nil {
		return nil, err
	}
	pt, err := hpke.Open(sk, kdf, aead, []byte(shareInfo), s.Sealed)
	if err != nil {
		return nil, fmt.Errorf("trustee: share of %q: not sealed to this authority", s.Trustee)
	}
	rs, err := escrow.ParseReleasedShare(pt)
	if err != nil {
		return nil, err
	}
	if rs.RecordID != s.RecordID || int(rs.Trustee) != idx {
		return nil, fmt.Errorf("trustee: share of %q: names another record or trustee", s.Trustee)
	}
	return rs, nil
}

// ReleaseVerify checks a logged release entry's signature against the
// policy's key for its trustee (auditors and authorities).
func ReleaseVerify(pol *policy.Verified, r *accesslog.Release) error {
	idx, ok := pol.TrusteeIndex(r.Trustee)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotTrustee, r.Trustee)
	}
	msg, err := r.SignedMessage()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pol.Trustees[idx].SigningKey, msg, r.Signature) {
		return fmt.Errorf("trustee: release by %q: bad signature", r.Trustee)
	}
	return nil
}

// Opening returns the access-log Opening entry for one target of a warrant
// at its embargo end (A7): the opening body sealed to the target account's
// X-Wing key. Any single trustee can append it; the provider cannot stop it.
func (t *Trustee) Opening(w *warrant.Verified, salt [32]byte, target string, targetKey []byte, records uint32, now uint64) (*accesslog.Opening, error) {
	if now < w.EmbargoEnd {
		return nil, fmt.Errorf("%w: embargo runs until %d", ErrBadRequest, w.EmbargoEnd)
	}
	o, err := w.OpeningFor(target, salt, records, now)
	if err != nil {
		return nil, err
	}
	sealed, err := warrant.SealOpening(targetKey, o)
	if err != nil {
		return nil, err
	}
	return &accesslog.Opening{WarrantCommitment: o.WarrantCommitment, Trustee: t.cfg.ID, Time: now, Sealed: sealed}, nil
}
