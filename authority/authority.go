// Package authority is the requesting authority's side of daylight's lawful
// access (docs/trustee.md): it files a court-signed warrant in the access
// log, asks trustees for their shares of the in-scope escrow records,
// checks every answer (the release entry's signature and inclusion under a
// witness-cosigned checkpoint, each share's signature and sealing), recovers
// the epoch secrets with escrow.Recover and names any trustee that released
// a wrong share (A12, T10), decrypts the retained ciphertext through a
// Decrypter, and produces the evidence bundle with evidence.Build.
package authority

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/warrant"
)

// Errors callers branch on.
var (
	ErrNotEnoughReleases = errors.New("authority: fewer than k trustees released")
	ErrBadRelease        = errors.New("authority: a trustee's answer does not verify")
	ErrRecovery          = errors.New("authority: recovery failed")
)

// TrusteeClient asks one trustee for its shares (*service.Client over HTTP).
type TrusteeClient interface {
	Release(ctx context.Context, req *trustee.Request) (*service.Released, error)
}

// Resumer is implemented by trustee clients that can hand out again the
// shares of a request the trustee already released (*service.Client).
type Resumer interface {
	Resume(ctx context.Context, req *trustee.Request) (*service.Released, error)
}

// Trustee is a trustee of the policy and how to reach it.
type Trustee struct {
	ID     string
	Client TrusteeClient
}

// Config configures an Authority.
type Config struct {
	Keys   *Keys
	Policy *policy.Verified
	// Log appends entries (the warrant commitment, the bundle's Evidence
	// entry); Reader verifies the log's checkpoints against the policy.
	Log    service.LogAppender
	Reader service.LogReader
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand
	// AwaitTimeout bounds waiting for a cosigned checkpoint (default 30 s).
	AwaitTimeout time.Duration
}

// Authority is a requesting authority under one policy.
type Authority struct {
	cfg  Config
	cpol *accesslog.CheckpointPolicy
}

// New returns an Authority.
func New(cfg Config) (*Authority, error) {
	if cfg.Keys == nil || cfg.Policy == nil || cfg.Reader == nil {
		return nil, errors.New("authority: config needs Keys, Policy and Reader")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.AwaitTimeout == 0 {
		cfg.AwaitTimeout = 30 * time.Second
	}
	cpol, err := cfg.Policy.CheckpointPolicy()
	if err != nil {
		return nil, err
	}
	return &Authority{cfg: cfg, cpol: cpol}, nil
}

func (a *Authority) now() uint64 { return uint64(a.cfg.Now().Unix()) }

// Release is one trustee's verified answer.
type Release struct {
	Trustee string
	Entry   trustee.Inclusion // the trustee's Release entry, proved in the log
	Shares  []trustee.SealedShare
}

// Refusal is a trustee that did not release, and why.
type Refusal struct {
	Trustee string
	Reason  string
}

// Case is an authority's case: the warrant as filed, the records asked
// for, and what the trustees answered.
type Case struct {
	Policy       *policy.Signed
	Warrant      *warrant.Signed
	Salt         [32]byte
	WarrantEntry trustee.Inclusion
	Records      []trustee.RecordRequest
	Releases     []Release
	Refusals     []Refusal
}

// Request is the release request the case sends to every trustee.
func (c *Case) Request() *trustee.Request {
	return &trustee.Request{Warrant: c.Warrant, Salt: c.Salt, WarrantEntry: c.WarrantEntry, Records: c.Records}
}

func (c *Case) recordIDs() ([][32]byte, error) {
	var ids [][32]byte
	for i, rr := range c.Records {
		rec, err := escrow.Parse(rr.Record)
		if err != nil {
			return nil, fmt.Errorf("authority: records[%d]: %w", i, err)
		}
		ids = append(ids, rec.ID())
	}
	return ids, nil
}

// File verifies the court-signed warrant against the policy, appends its
// commitment (with a fresh random salt) to the access log, and waits until
// a checkpoint cosigned by w witnesses covers it. The returned case holds
// the proof trustees require (A3). records are the escrow records asked for,
// with member-signed evidence of their epochs (from the delivery service).
func (a *Authority) File(ctx context.Context, polSigned *policy.Signed, s *warrant.Signed, records []trustee.RecordRequest) (*Case, error) {
	if a.cfg.Log == nil {
		return nil, errors.New("authority: no log appender configured")
	}
	v, err := warrant.Verify(s, a.cfg.Policy, a.now())
	if err != nil {
		return nil, err
	}
	if !ed25519.PublicKey(v.AuthoritySigningKey).Equal(a.cfg.Keys.Sign.Public()) || string(v.AuthorityKEMKey) != string(a.cfg.Keys.KEMPub) {
		return nil, fmt.Errorf("authority: the warrant names another authority's keys (%q)", v.Authority)
	}
	c := &Case{Policy: polSigned, Warrant: s, Records: records}
	if _, err := io.ReadFull(a.cfg.Rand, c.Salt[:]); err != nil {
		return nil, err
	}
	entry, err := accesslog.Marshal(v.LogEntry(c.Salt, a.now()))
	if err != nil {
		return nil, err
	}
	idx, err := a.cfg.Log.Append(ctx, entry)
	if err != nil {
		return nil, fmt.Errorf("authority: log append: %w", err)
	}
	if c.WarrantEntry, err = a.await(ctx, idx, entry); err != nil {
		return nil, err
	}
	return c, nil
}

// await waits for a verified checkpoint covering index and proves entry there.
func (a *Authority) await(ctx context.Context, index uint64, entry []byte) (trustee.Inclusion, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.AwaitTimeout)
	defer cancel()
	for {
		cp, err := a.cfg.Reader.Checkpoint(ctx)
		if err == nil && cp.Size > index {
			p, err := a.cfg.Reader.InclusionProof(ctx, cp, index)
			if err != nil {
				return trustee.Inclusion{}, err
			}
			if err := accesslog.VerifyInclusion(cp, index, entry, p); err != nil {
				return trustee.Inclusion{}, fmt.Errorf("authority: entry %d: %w", index, err)
			}
			return trustee.Inclusion{Checkpoint: cp.Raw, Index: index, Entry: entry, Proof: p}, nil
		}
		select {
		case <-ctx.Done():
			return trustee.Inclusion{}, fmt.Errorf("authority: no cosigned checkpoint covers entry %d: %w", index, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Collect asks trustees, in order and as many at a time as releases are
// missing, skipping those that already released for the case, until want
// trustees in total have released (want = k normally; one more per liar
// suspected). Each answer is checked before it counts:
// the Release entry is proved under a checkpoint passing the policy, is
// signed by that trustee, is for this warrant and exactly these records; and
// every share is signed by the trustee and opens with the authority's key.
// Refusals and bad answers are recorded in the case.
func (a *Authority) Collect(ctx context.Context, c *Case, trustees []Trustee, want int) error {
	ids, err := c.recordIDs()
	if err != nil {
		return err
	}
	req := c.Request()
	var pending []Trustee
	for _, t := range trustees {
		if !slices.ContainsFunc(c.Releases, func(r Release) bool { return r.Trustee == t.ID }) {
			pending = append(pending, t)
		}
	}
	// Ask as many trustees at once as releases are still missing (each
	// waits for a cosigned checkpoint); ask more only if some refuse.
	for len(c.Releases) < want && len(pending) > 0 {
		batch := pending[:min(want-len(c.Releases), len(pending))]
		pending = pending[len(batch):]
		outs := make([]*service.Released, len(batch))
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, t := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = a.ask(ctx, t, req)
			}()
		}
		wg.Wait()
		for i, t := range batch {
			err := errs[i]
			if err == nil {
				err = a.checkRelease(c, t.ID, ids, outs[i])
			}
			if err != nil {
				c.Refusals = append(c.Refusals, Refusal{Trustee: t.ID, Reason: err.Error()})
				continue
			}
			c.Releases = append(c.Releases, Release{Trustee: t.ID, Entry: outs[i].Release, Shares: outs[i].Shares})
		}
	}
	if len(c.Releases) < want {
		return fmt.Errorf("%w: %d of %d wanted", ErrNotEnoughReleases, len(c.Releases), want)
	}
	return nil
}

// ask requests one trustee's release; a trustee that answers "replay"
// released already and the answer was lost: its shares are resumed.
func (a *Authority) ask(ctx context.Context, t Trustee, req *trustee.Request) (*service.Released, error) {
	out, err := t.Client.Release(ctx, req)
	var ref *service.RefusalError
	if r, ok := t.Client.(Resumer); ok && errors.As(err, &ref) && ref.Code == "replay" {
		return r.Resume(ctx, req)
	}
	return out, err
}

func (a *Authority) checkRelease(c *Case, id string, ids [][32]byte, out *service.Released) error {
	in := out.Release
	if _, err := a.cpol.VerifyProof(&accesslog.Proof{Index: in.Index, Inclusion: in.Proof, Checkpoint: in.Checkpoint}, in.Entry); err != nil {
		return fmt.Errorf("%w: release entry of %q not proved in the log: %v", ErrBadRelease, id, err)
	}
	rel, err := accesslog.ParseAs[*accesslog.Release](in.Entry)
	if err != nil {
		return fmt.Errorf("%w: release entry of %q: %v", ErrBadRelease, id, err)
	}
	if rel.Trustee != id {
		return fmt.Errorf("%w: release entry names %q, asked %q", ErrBadRelease, rel.Trustee, id)
	}
	if err := trustee.ReleaseVerify(a.cfg.Policy, rel); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRelease, err)
	}
	if rel.WarrantCommitment != warrant.Commitment(c.Warrant, c.Salt) || rel.RecordsHash != escrow.RecordsHash(ids) || int(rel.Count) != len(ids) {
		return fmt.Errorf("%w: release of %q is for another warrant or other records", ErrBadRelease, id)
	}
	if len(out.Shares) != len(ids) {
		return fmt.Errorf("%w: %q sent %d shares for %d records", ErrBadRelease, id, len(out.Shares), len(ids))
	}
	for i := range out.Shares {
		if out.Shares[i].Trustee != id || out.Shares[i].RecordID != ids[i] {
			return fmt.Errorf("%w: %q: share %d is for another record or trustee", ErrBadRelease, id, i)
		}
		if _, err := trustee.OpenShare(a.cfg.Policy, a.cfg.Keys.KEMPriv, &out.Shares[i]); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRelease, err)
		}
	}
	return nil
}

// Recovered is one record opened.
type Recovered struct {
	Record  *escrow.Record
	Secrets escrow.Secrets
	// Liars names the trustees whose signed share differs from the share
	// the record commits them to (A12, T10).
	Liars []string
}

// Recover opens every record of the case from the collected shares. If
// a record does not open (too few honest shares), it returns ErrRecovery:
// collect from one more trustee and call again.
func (a *Authority) Recover(c *Case) ([]Recovered, error) {
	var out []Recovered
	for i, rr := range c.Records {
		rec, err := escrow.Parse(rr.Record)
		if err != nil {
			return nil, fmt.Errorf("authority: records[%d]: %w", i, err)
		}
		id := rec.ID()
		var shares []*escrow.ReleasedShare
		for _, r := range c.Releases {
			for j := range r.Shares {
				if r.Shares[j].RecordID != id {
					continue
				}
				rs, err := trustee.OpenShare(a.cfg.Policy, a.cfg.Keys.KEMPriv, &r.Shares[j])
				if err != nil {
					return nil, fmt.Errorf("%w: %v", ErrBadRelease, err)
				}
				shares = append(shares, rs)
			}
		}
		params, err := a.cfg.Policy.EscrowParams(rec.Context.KeyPeriod)
		if err != nil {
			return nil, err
		}
		got, err := escrow.Recover(rec, params, shares)
		if err != nil {
			return nil, fmt.Errorf("%w: record %x (group %q epoch %d): %w", ErrRecovery, id[:6], rec.Context.GroupID, rec.Context.Epoch, err)
		}
		r := Recovered{Record: rec, Secrets: got.Secrets}
		for _, l := range got.Liars {
			r.Liars = append(r.Liars, a.cfg.Policy.Trustees[l].ID)
		}
		out = append(out, r)
	}
	return out, nil
}

// Liars lists every trustee named a liar in any recovered record.
func Liars(rs []Recovered) []string {
	var out []string
	for _, r := range rs {
		for _, l := range r.Liars {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Retained is one ciphertext the delivery service retained for the case:
// an MLS PrivateMessage of (GroupID, Epoch) and the time the DS accepted it.
type Retained struct {
	GroupID    []byte `json:"group"`
	Epoch      uint64 `json:"epoch"`
	TimeMs     uint64 `json:"time_ms"`
	Ciphertext []byte `json:"ciphertext"` // MLSMessage or PrivateMessage
}

// Decrypter opens a retained PrivateMessage with the recovered epoch
// secrets and returns the message with what proves its sender sent it (the
// FramedContentTBS, signature and signer key). The MLS layer implements it
// (RFC 9420 Sections 6.3 and 9: sender data key from sender_data_secret, the
// secret tree from encryption_secret): MLSDecrypter.
type Decrypter interface {
	Decrypt(rec escrow.Context, p escrow.Secrets, m Retained) (*evidence.Message, error)
}

// Rejected is a retained message of a recovered epoch that did not make it
// into the bundle, and why (it does not decrypt, its signature does not
// verify against its leaf's key, it was a replay, ...). Members' clients
// drop such messages too; the authority lists them rather than include them.
type Rejected struct {
	Index   int // in the retained list
	GroupID []byte
	Epoch   uint64
	Reason  string
}

// Decrypt opens every retained message whose (group, epoch) was recovered.
// Messages of other epochs (not in scope) and handshake messages
// (ErrNotApplication) are skipped; a message that fails is listed in the
// rejections, never included.
func Decrypt(recs []Recovered, retained []Retained, d Decrypter) ([]evidence.Message, []Rejected) {
	var out []evidence.Message
	var rej []Rejected
	for i, m := range retained {
		j := slices.IndexFunc(recs, func(r Recovered) bool {
			return string(r.Record.Context.GroupID) == string(m.GroupID) && r.Record.Context.Epoch == m.Epoch
		})
		if j < 0 {
			continue
		}
		msg, err := d.Decrypt(recs[j].Record.Context, recs[j].Secrets, m)
		if errors.Is(err, ErrNotApplication) {
			continue
		}
		if err != nil {
			rej = append(rej, Rejected{Index: i, GroupID: m.GroupID, Epoch: m.Epoch, Reason: err.Error()})
			continue
		}
		msg.Time = m.TimeMs
		out = append(out, *msg)
	}
	return out, rej
}

// Bundle builds the evidence bundle: the authorization (policy, warrant and
// salt, the warrant entry and every release entry proved under the log's
// latest cosigned checkpoint, the records opened) and the messages, signed
// with the authority's key. evidence.Build refuses any message out of scope
// or not validly signed.
func (a *Authority) Bundle(ctx context.Context, c *Case, recs []Recovered, msgs []evidence.Message) (evidence.Bundle, error) {
	cp, err := a.cfg.Reader.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("authority: checkpoint: %w", err)
	}
	prove := func(in trustee.Inclusion) (evidence.LogEntry, error) {
		p, err := a.cfg.Reader.InclusionProof(ctx, cp, in.Index)
		if err != nil {
			return evidence.LogEntry{}, err
		}
		if err := accesslog.VerifyInclusion(cp, in.Index, in.Entry, p); err != nil {
			return evidence.LogEntry{}, fmt.Errorf("authority: entry %d: %w", in.Index, err)
		}
		return evidence.LogEntry{Index: in.Index, Entry: in.Entry, Proof: p}, nil
	}
	auth := &evidence.Authorization{Policy: c.Policy, Warrant: c.Warrant, Salt: c.Salt, Checkpoint: cp.Raw}
	we, err := prove(c.WarrantEntry)
	if err != nil {
		return nil, err
	}
	auth.Entries = append(auth.Entries, we)
	ids, err := c.recordIDs()
	if err != nil {
		return nil, err
	}
	var idHex []string
	for _, id := range ids {
		idHex = append(idHex, hex.EncodeToString(id[:]))
	}
	for _, r := range c.Releases {
		le, err := prove(r.Entry)
		if err != nil {
			return nil, err
		}
		le.Records = idHex
		auth.Entries = append(auth.Entries, le)
	}
	for _, r := range recs {
		auth.Records = append(auth.Records, r.Record.Bytes())
	}
	return evidence.Build(auth, msgs, a.cfg.Keys.Sign, a.now())
}

// LogBundle appends the bundle's Evidence entry (its digest) to the access
// log, so the bundle cannot later be altered or back-dated, and returns the
// entry's index.
func (a *Authority) LogBundle(ctx context.Context, b evidence.Bundle, jurisdiction, ref string) (uint64, error) {
	if a.cfg.Log == nil {
		return 0, errors.New("authority: no log appender configured")
	}
	entry, err := accesslog.Marshal(b.LogEntry(jurisdiction, ref, a.now()))
	if err != nil {
		return 0, err
	}
	return a.cfg.Log.Append(ctx, entry)
}
