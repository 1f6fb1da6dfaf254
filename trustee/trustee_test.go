package trustee_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/trusteetest"
	"github.com/daylight-im/daylight/warrant"
)

const day = 86400

var now = uint64(policytest.Genesis + 40*day)

type world struct {
	t        *testing.T
	f        *policytest.Fixture
	pol      *policy.Verified
	log      *trusteetest.Log
	trustees []*trustee.Trustee
	stores   []*trustee.MemStore
	users    map[string]ed25519.PrivateKey
	chain    trustee.CommitChain
	authSK   []byte
	authPK   []byte
	authSig  ed25519.PublicKey
	secrets  map[string]escrow.Secrets // by record id hex
}

func newWorld(t *testing.T, mod func(*policy.Policy)) *world {
	w := &world{t: t, users: map[string]ed25519.PrivateKey{}, secrets: map[string]escrow.Secrets{}}
	w.f = policytest.New(t, 3, 5, []uint32{0, 1, 2}, func(p *policy.Policy) {
		p.W = 2
		if mod != nil {
			mod(p)
		}
	})
	w.pol = w.f.Verified
	w.log = trusteetest.NewLog(t, w.f)
	keys := map[string]ed25519.PublicKey{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		w.users[u], keys[u] = priv, pub
	}
	w.chain = trustee.CommitChain{Keys: func(a string) (ed25519.PublicKey, bool) { k, ok := keys[a]; return k, ok }}
	for i := range w.f.Trustees {
		st := trustee.NewMemStore()
		for per, sk := range w.f.PeriodKeys[i] {
			if err := st.PutPeriodKey(context.Background(), per, sk); err != nil {
				t.Fatal(err)
			}
		}
		tr, err := trustee.New(trustee.Config{ID: w.pol.Trustees[i].ID, SigningKey: w.f.Trustees[i], Policy: w.pol, Store: st, Epochs: w.chain, Consistency: w.log.Consistency})
		if err != nil {
			t.Fatal(err)
		}
		w.trustees, w.stores = append(w.trustees, tr), append(w.stores, st)
	}
	w.authSK, w.authPK, _ = xwing.GenerateKeyPairPacked(rand.Reader)
	w.authSig, _, _ = ed25519.GenerateKey(rand.Reader)
	return w
}

// epoch builds an escrow record of (group, epoch) and member-signed evidence
// that the epoch ran [start, end) with members.
func (w *world) epoch(group string, epoch, start, end uint64, members ...string) trustee.RecordRequest {
	w.t.Helper()
	st := &trustee.CommitStatement{GroupID: []byte(group), Epoch: epoch, Time: start, Members: members, Committer: members[0]}
	st.Sign(w.users[members[0]])
	var en *trustee.CommitStatement
	if end != 0 {
		en = &trustee.CommitStatement{GroupID: []byte(group), Epoch: epoch + 1, Time: end, Members: members, Committer: members[len(members)-1]}
		en.Sign(w.users[members[len(members)-1]])
	}
	period := w.pol.Period(start)
	params, err := w.pol.EscrowParams(period)
	if err != nil {
		w.t.Fatal(err)
	}
	p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(p.EncryptionSecret)
	rand.Read(p.SenderDataSecret)
	rec, err := escrow.Build(escrow.Context{PolicyID: w.pol.ID, KeyPeriod: period, GroupID: []byte(group), Epoch: epoch}, p, params)
	if err != nil {
		w.t.Fatal(err)
	}
	id := rec.ID()
	w.secrets[string(id[:])] = p
	return trustee.RecordRequest{Record: rec.Bytes(), EpochEvidence: trustee.EncodeEpochEvidence(st, en)}
}

func (w *world) warrant(mod func(*warrant.Warrant)) (*warrant.Signed, [32]byte, trustee.Inclusion) {
	w.t.Helper()
	wr := &warrant.Warrant{
		Authority: "federal-police", AuthorityKEMKey: w.authPK, AuthoritySigningKey: w.authSig,
		PolicyID: w.pol.ID, Court: "court-a", Jurisdiction: "A", CaseNumber: "2026-CR-7",
		LegalBasis: "s. 100a", Targets: []string{"alice"},
		WindowStart: now - 10*day, WindowEnd: now + 20*day, EmbargoEnd: now + 100*day,
		Issued: now - day, Expiry: now + 30*day,
	}
	if mod != nil {
		mod(wr)
	}
	s, err := warrant.Sign(wr, w.f.Courts[wr.Court])
	if err != nil {
		w.t.Fatal(err)
	}
	var salt [32]byte
	rand.Read(salt[:])
	v, err := warrant.Verify(s, w.pol, now)
	if err != nil {
		w.t.Fatal(err)
	}
	m := v.PublicMetadata(salt, now)
	entry, err := accesslog.Marshal((*accesslog.WarrantCommitment)(&m))
	if err != nil {
		w.t.Fatal(err)
	}
	idx := w.log.Append(entry)
	return s, salt, w.log.Include(idx, 2)
}

func (w *world) ledger() *trustee.Ledger {
	var l trustee.Ledger
	for _, e := range w.log.Entries() {
		switch x := mustParse(w.t, e).(type) {
		case *accesslog.WarrantCommitment:
			l.Warrants = append(l.Warrants, x)
		case *accesslog.Release:
			l.Releases = append(l.Releases, x)
		}
	}
	return &l
}

func mustParse(t *testing.T, b []byte) accesslog.Entry {
	e, err := accesslog.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// release runs the full two-step release of trustee i.
func (w *world) release(i int, req *trustee.Request) ([]trustee.SealedShare, error) {
	ctx := context.Background()
	a, err := w.trustees[i].Decide(ctx, req, w.ledger(), now)
	if err != nil {
		return nil, err
	}
	idx := w.log.Append(a.Entry)
	return w.trustees[i].Shares(ctx, a, w.log.Include(idx, 2))
}

func TestReleaseEndToEnd(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, incl := w.warrant(nil)
	recs := []trustee.RecordRequest{
		w.epoch("g-alice-bob", 5, now-5*day, now-4*day, "alice", "bob"),
		w.epoch("g-alice-carol", 9, now-2*day, 0, "alice", "carol"), // current epoch
	}
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: recs}
	shares := map[[32]byte][]*escrow.ReleasedShare{}
	for _, i := range []int{0, 2, 4} {
		sealed, err := w.release(i, req)
		if err != nil {
			t.Fatalf("trustee %d: %v", i, err)
		}
		for j := range sealed {
			rs, err := trustee.OpenShare(w.pol, w.authSK, &sealed[j])
			if err != nil {
				t.Fatal(err)
			}
			shares[rs.RecordID] = append(shares[rs.RecordID], rs)
		}
	}
	for _, rr := range recs {
		rec, _ := escrow.Parse(rr.Record)
		params, _ := w.pol.EscrowParams(rec.Context.KeyPeriod)
		got, err := escrow.Recover(rec, params, shares[rec.ID()])
		if err != nil {
			t.Fatal(err)
		}
		id := rec.ID()
		if !bytes.Equal(got.Secrets.EncryptionSecret, w.secrets[string(id[:])].EncryptionSecret) {
			t.Fatal("recovered wrong secrets")
		}
	}
	// Every release entry in the log is signed by its trustee and counted.
	l := w.ledger()
	if len(l.Releases) != 3 {
		t.Fatalf("%d releases logged", len(l.Releases))
	}
	for _, r := range l.Releases {
		if err := trustee.ReleaseVerify(w.pol, r); err != nil {
			t.Fatal(err)
		}
		if r.Count != 2 {
			t.Fatalf("release count %d", r.Count)
		}
	}
	// Shares go only to the authority the court named.
	sealed, _ := w.release(1, req)
	eveSK, _, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	if _, err := trustee.OpenShare(w.pol, eveSK, &sealed[0]); err == nil {
		t.Fatal("a share opened with a key the warrant does not name")
	}
	// A12: a share whose signature does not verify is refused.
	sealed[0].Signature[0] ^= 1
	if _, err := trustee.OpenShare(w.pol, w.authSK, &sealed[0]); err == nil {
		t.Fatal("share with a bad signature opened")
	}
}

// TestAttackT3_UnloggedWarrant: a trustee asked to release for a warrant whose
// commitment is not in the log (or whose logged metadata does not match)
// refuses.
func TestAttackT3_UnloggedWarrant(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, _ := w.warrant(nil)
	other, _, otherIncl := w.warrant(func(x *warrant.Warrant) { x.CaseNumber = "other" })
	_ = other
	recs := []trustee.RecordRequest{w.epoch("g", 5, now-5*day, now-4*day, "alice", "bob")}
	// The proof shows another warrant's entry.
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: otherIncl, Records: recs}
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrLogMismatch) {
		t.Fatalf("other warrant's entry: %v", err)
	}
	// An entry that was never appended: the proof does not verify.
	fake := otherIncl
	fake.Entry = bytes.Clone(fake.Entry)
	fake.Entry[len(fake.Entry)-1] ^= 1
	req.WarrantEntry = fake
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrNotLogged) {
		t.Fatalf("unlogged entry: %v", err)
	}
	// No proof at all.
	req.WarrantEntry = trustee.Inclusion{}
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrNotLogged) {
		t.Fatalf("no proof: %v", err)
	}
}

// TestAttackT4_TooFewCosignatures: the log shows the trustee a checkpoint
// with fewer than w witness cosignatures (a split view only the log signed):
// the trustee refuses both to decide and to hand out shares.
func TestAttackT4_TooFewCosignatures(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, incl := w.warrant(nil)
	recs := []trustee.RecordRequest{w.epoch("g", 5, now-5*day, now-4*day, "alice", "bob")}
	weak := w.log.Include(incl.Index, 1) // w = 2
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: weak, Records: recs}
	_, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now)
	if !errors.Is(err, trustee.ErrNotLogged) || !errors.Is(err, accesslog.ErrNotEnoughCosignatures) {
		t.Fatalf("1 of 2 cosignatures: %v", err)
	}
	req.WarrantEntry = incl
	a, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now)
	if err != nil {
		t.Fatal(err)
	}
	idx := w.log.Append(a.Entry)
	if _, err := w.trustees[0].Shares(context.Background(), a, w.log.Include(idx, 1)); !errors.Is(err, accesslog.ErrNotEnoughCosignatures) {
		t.Fatalf("shares under a weakly cosigned release: %v", err)
	}
	// A replayed release entry (another approval's) does not unlock shares.
	b, _ := w.trustees[0].Decide(context.Background(), req, w.ledger(), now+1)
	if _, err := w.trustees[0].Shares(context.Background(), b, w.log.Include(idx, 2)); !errors.Is(err, trustee.ErrNotLogged) {
		t.Fatalf("replayed release entry: %v", err)
	}
}

// TestAttackT5_TrusteeRefusesForeignCourt: a warrant signed by a key that is
// not a court of the policy is refused before anything else.
func TestAttackT5_TrusteeRefusesForeignCourt(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, incl := w.warrant(nil)
	_, rogue, _ := ed25519.GenerateKey(rand.Reader)
	wr, _ := warrant.Parse(s.Body)
	forged, _ := warrant.Sign(wr, rogue)
	req := &trustee.Request{Warrant: forged, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{w.epoch("g", 5, now-5*day, now-4*day, "alice", "bob")}}
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, warrant.ErrSignature) {
		t.Fatalf("forged warrant: %v", err)
	}
	// Expired by the time the trustee sees it.
	req.Warrant = s
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now+31*day); !errors.Is(err, warrant.ErrExpired) {
		t.Fatalf("expired warrant: %v", err)
	}
}

// TestAttackT6_RecordOutOfScope: records of an epoch outside the window, or
// of a group the target was not in during that epoch, are refused, and one
// such record refuses the whole request.
func TestAttackT6_RecordOutOfScope(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, incl := w.warrant(nil)
	good := w.epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	for name, bad := range map[string]trustee.RecordRequest{
		"before window":       w.epoch("g-ab", 2, now-20*day, now-11*day, "alice", "bob"),
		"target not a member": w.epoch("g-bc", 5, now-5*day, now-4*day, "bob", "carol"),
		"target left before":  w.epoch("g-ab", 7, now-3*day, now-2*day, "bob", "dave"),
	} {
		req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{good, bad}}
		if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrOutOfScope) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Evidence for another epoch than the record's.
	other := w.epoch("g-ab", 6, now-4*day, now-3*day, "alice", "bob")
	mixed := trustee.RecordRequest{Record: good.Record, EpochEvidence: other.EpochEvidence}
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{mixed}}
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrOutOfScope) {
		t.Errorf("evidence of another epoch: %v", err)
	}
}

// TestAttackT7_BudgetExceeded: releases beyond the per-warrant, per-
// jurisdiction or overall budget are refused, and the log alone shows the
// totals.
func TestAttackT7_BudgetExceeded(t *testing.T) {
	w := newWorld(t, func(p *policy.Policy) {
		p.Budgets.RecordsPerWarrant = 3
		p.Budgets.RecordsPerJurisdiction30d = 4
		p.Budgets.RecordsOverall30d = 5
	})
	rec := func(e uint64) trustee.RecordRequest {
		return w.epoch("g", e, now-9*day+e*3600, now-9*day+e*3600+1800, "alice", "bob")
	}
	s, salt, incl := w.warrant(nil)
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{rec(1), rec(2)}}
	if _, err := w.release(0, req); err != nil {
		t.Fatal(err)
	}
	req.Records = []trustee.RecordRequest{rec(3), rec(4)} // 2 + 2 > 3 per warrant
	if _, err := w.release(0, req); !errors.Is(err, trustee.ErrBudget) {
		t.Fatalf("per warrant: %v", err)
	}
	req.Records = []trustee.RecordRequest{rec(3)}
	if _, err := w.release(0, req); err != nil {
		t.Fatal(err)
	}
	// A second warrant in the same jurisdiction: 3 used, 4 allowed.
	s2, salt2, incl2 := w.warrant(func(x *warrant.Warrant) { x.CaseNumber = "second" })
	req2 := &trustee.Request{Warrant: s2, Salt: salt2, WarrantEntry: incl2, Records: []trustee.RecordRequest{rec(5), rec(6)}}
	if _, err := w.release(0, req2); !errors.Is(err, trustee.ErrBudget) {
		t.Fatalf("per jurisdiction: %v", err)
	}
	req2.Records = []trustee.RecordRequest{rec(5)}
	if _, err := w.release(0, req2); err != nil {
		t.Fatal(err)
	}
	// Another jurisdiction: 4 used overall, 5 allowed.
	s3, salt3, incl3 := w.warrant(func(x *warrant.Warrant) { x.Court, x.Jurisdiction = "court-b", "B" })
	req3 := &trustee.Request{Warrant: s3, Salt: salt3, WarrantEntry: incl3, Records: []trustee.RecordRequest{rec(7), rec(8)}}
	if _, err := w.release(0, req3); !errors.Is(err, trustee.ErrBudget) {
		t.Fatalf("overall: %v", err)
	}
	// Anyone recounts from the log.
	u := w.ledger().Usage(w.pol.Trustees[0].ID, [32]byte{}, "A", now)
	if u.ForJurisdiction30 != 4 || u.Overall30 != 4 {
		t.Fatalf("usage from the log: %+v", u)
	}
	// Thirty days later the rolling budgets are free again (the warrant's own is not).
	if u := w.ledger().Usage(w.pol.Trustees[0].ID, [32]byte{}, "A", now+31*day); u.Overall30 != 0 {
		t.Fatalf("usage after 30 days: %+v", u)
	}
}

// TestAttackT11_FalseEpochTimes: the provider presents an epoch as inside
// the window by rewriting the member-signed commit times, or by signing the
// statements itself: the signatures do not verify and the trustee refuses.
func TestAttackT11_FalseEpochTimes(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, incl := w.warrant(nil)
	honest := w.epoch("g", 2, now-20*day, now-11*day, "alice", "bob") // before the window
	// Rewrite the start time in the evidence.
	st := &trustee.CommitStatement{GroupID: []byte("g"), Epoch: 2, Time: now - 20*day, Members: []string{"alice", "bob"}, Committer: "alice"}
	st.Sign(w.users["alice"])
	en := &trustee.CommitStatement{GroupID: []byte("g"), Epoch: 3, Time: now - 11*day, Members: []string{"alice", "bob"}, Committer: "bob"}
	en.Sign(w.users["bob"])
	en.Time = now - 5*day // provider's claim: the epoch lasted into the window
	forged := trustee.RecordRequest{Record: honest.Record, EpochEvidence: trustee.EncodeEpochEvidence(st, en)}
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{forged}}
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrOutOfScope) || !errors.Is(err, trustee.ErrEpochEvidence) {
		t.Fatalf("rewritten time: %v", err)
	}
	// The provider signs statements with a key that is no member's.
	_, prov, _ := ed25519.GenerateKey(rand.Reader)
	en2 := &trustee.CommitStatement{GroupID: []byte("g"), Epoch: 3, Time: now - 5*day, Members: []string{"alice", "bob"}, Committer: "bob"}
	en2.Sign(prov)
	forged.EpochEvidence = trustee.EncodeEpochEvidence(st, en2)
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrEpochEvidence) {
		t.Fatalf("provider-signed statement: %v", err)
	}
	// Dropping the ending statement, to claim the epoch is still current:
	// without an end, the epoch counts only up to the policy's maximum epoch
	// age after its member-signed start, which is before the window.
	forged.EpochEvidence = trustee.EncodeEpochEvidence(st, nil)
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrOutOfScope) {
		t.Fatalf("hidden end of epoch: %v", err)
	}
	// The honest evidence is refused too (the epoch is before the window).
	req.Records = []trustee.RecordRequest{honest}
	if _, err := w.trustees[0].Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrOutOfScope) {
		t.Fatalf("honest out-of-window epoch: %v", err)
	}
}

// TestAttackT12_RecordPastLookback: once a key period is older than the
// lookback, trustees destroy its key: records of it are refused, the key is
// gone from the store, and even all trustees together cannot open them.
func TestAttackT12_RecordPastLookback(t *testing.T) {
	w := newWorld(t, nil)
	rr := w.epoch("g", 5, now-5*day, now-4*day, "alice", "bob")
	rec, _ := escrow.Parse(rr.Record)
	period := rec.Context.KeyPeriod
	later := w.pol.PeriodStart(period) + w.pol.Periods.Length + w.pol.Budgets.Lookback + day
	for i, tr := range w.trustees {
		key, _ := w.stores[i].PeriodKey(context.Background(), period)
		ds, err := tr.DestroyExpired(context.Background(), later)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 || !ds[1].Verify(w.pol.Trustees[i].SigningKey) { // periods 0 and 1
			t.Fatalf("trustee %d: destruction statements %+v", i, ds)
		}
		if _, err := w.stores[i].PeriodKey(context.Background(), period); !errors.Is(err, trustee.ErrKeyDestroyed) {
			t.Fatalf("trustee %d: key still readable: %v", i, err)
		}
		if bytes.Contains(w.stores[i].Raw(), key) {
			t.Fatalf("trustee %d: key bytes still in the store", i)
		}
		if gone, _ := w.stores[i].Destroyed(context.Background(), period); !gone {
			t.Fatal("store does not report the destruction")
		}
		if err := w.stores[i].PutPeriodKey(context.Background(), period, key); !errors.Is(err, trustee.ErrKeyDestroyed) {
			t.Fatal("a destroyed period's key was restored")
		}
	}
	// A (backdated) warrant covering the old epoch is refused by every trustee.
	s, salt, incl := w.warrant(nil)
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{rr}}
	for i, tr := range w.trustees {
		if _, err := tr.Decide(context.Background(), req, w.ledger(), now); !errors.Is(err, trustee.ErrKeyDestroyed) {
			t.Fatalf("trustee %d: %v", i, err)
		}
	}
	if live, _ := w.stores[0].Periods(context.Background()); len(live) != 1 || live[0] != 2 {
		t.Fatalf("live periods %v", live)
	}
}

func TestNewChecksIdentity(t *testing.T) {
	w := newWorld(t, nil)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := trustee.New(trustee.Config{ID: "trustee-0", SigningKey: other, Policy: w.pol, Store: trustee.NewMemStore(), Epochs: w.chain, Consistency: w.log.Consistency}); !errors.Is(err, trustee.ErrNotTrustee) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := trustee.New(trustee.Config{ID: "mallory", SigningKey: other, Policy: w.pol, Store: trustee.NewMemStore(), Epochs: w.chain, Consistency: w.log.Consistency}); !errors.Is(err, trustee.ErrNotTrustee) {
		t.Fatalf("unknown trustee: %v", err)
	}
}

func FuzzParseCommitStatement(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	st := &trustee.CommitStatement{GroupID: []byte("g"), Epoch: 3, Time: 99, Members: []string{"a", "b"}, Committer: "a"}
	st.Sign(priv)
	f.Add(st.Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := trustee.ParseCommitStatement(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), data) {
			t.Fatal("re-marshal differs")
		}
	})
}

// TestOpeningAtEmbargoEnd: a single trustee makes the opening entry once the
// embargo ends (not before); the target finds it by trial decryption of the
// entry parsed from the log.
func TestOpeningAtEmbargoEnd(t *testing.T) {
	w := newWorld(t, nil)
	s, salt, _ := w.warrant(nil)
	v, err := warrant.Verify(s, w.pol, now)
	if err != nil {
		t.Fatal(err)
	}
	sk, pk, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	if _, err := w.trustees[2].Opening(v, salt, "alice", pk, 2, now); !errors.Is(err, trustee.ErrBadRequest) {
		t.Fatalf("opening before the embargo end: %v", err)
	}
	e, err := w.trustees[2].Opening(v, salt, "alice", pk, 2, v.EmbargoEnd)
	if err != nil {
		t.Fatal(err)
	}
	b, err := accesslog.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	w.log.Append(b)
	var found int
	for _, raw := range w.log.Entries() {
		if op, ok := mustParse(t, raw).(*accesslog.Opening); ok {
			o, err := warrant.TryOpen(sk, "alice", op.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if o.WarrantCommitment != warrant.Commitment(s, salt) || o.Records != 2 || o.Court != "court-a" {
				t.Fatalf("opening %+v", o)
			}
			found++
		}
	}
	if found != 1 {
		t.Fatalf("found %d openings", found)
	}
	if got := v.LogEntry(salt, now); got.Commitment != warrant.Commitment(s, salt) || got.NumTargets != 1 {
		t.Fatalf("warrant log entry %+v", got)
	}
}

// TestSharesAfterRestart: a trustee service that persisted the request gets
// the shares from a fresh Trustee with only the proved release entry; a
// release by another trustee, or one covering other records, does not unlock
// anything.
func TestSharesAfterRestart(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	s, salt, incl := w.warrant(nil)
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{w.epoch("g", 5, now-5*day, now-4*day, "alice", "bob")}}
	a, err := w.trustees[0].Decide(ctx, req, w.ledger(), now)
	if err != nil {
		t.Fatal(err)
	}
	idx := w.log.Append(a.Entry)
	fresh, err := trustee.New(trustee.Config{ID: w.pol.Trustees[0].ID, SigningKey: w.f.Trustees[0], Policy: w.pol, Store: w.stores[0], Epochs: w.chain, Consistency: w.log.Consistency})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := fresh.SharesFor(ctx, req, w.log.Include(idx, 2))
	if err != nil || len(sh) != 1 {
		t.Fatalf("shares after restart: %v", err)
	}
	if _, err := w.trustees[1].SharesFor(ctx, req, w.log.Include(idx, 2)); !errors.Is(err, trustee.ErrNotLogged) {
		t.Fatalf("another trustee's release: %v", err)
	}
	other := *req
	other.Records = []trustee.RecordRequest{w.epoch("g", 6, now-4*day, now-3*day, "alice", "bob")}
	if _, err := fresh.SharesFor(ctx, &other, w.log.Include(idx, 2)); !errors.Is(err, trustee.ErrNotLogged) {
		t.Fatalf("release for other records: %v", err)
	}
}

// TestAttackT4_ForkAcrossRequests: the log operator, with w colluding
// witnesses, shows a trustee a fork: both branches are properly cosigned,
// but the trustee remembers the checkpoint it accepted first and the second
// branch is not consistent with it.
func TestAttackT4_ForkAcrossRequests(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	s, salt, incl := w.warrant(nil)
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{w.epoch("g", 5, now-5*day, now-4*day, "alice", "bob")}}
	a, err := w.trustees[0].Decide(ctx, req, w.ledger(), now)
	if err != nil {
		t.Fatal(err)
	}
	idx := w.log.Append(a.Entry)
	if _, err := w.trustees[0].Shares(ctx, a, w.log.Include(idx, 2)); err != nil {
		t.Fatal(err)
	}
	// Trustee 0 has now accepted a checkpoint of size 2: [warrant, release].
	// The fork keeps the warrant, then tells another story from index 1 on.
	fork := w.log.Fork(1)
	other := *w
	other.log = fork
	s2, salt2, _ := other.warrant(func(x *warrant.Warrant) { x.CaseNumber = "fork" })
	fork.Append(filler(t, "only in the fork"))
	forkIncl := fork.Include(1, 2)
	req2 := &trustee.Request{Warrant: s2, Salt: salt2, WarrantEntry: forkIncl, Records: req.Records}
	// A trustee that never saw the main branch would accept the fork ...
	naive, err := trustee.New(trustee.Config{ID: w.pol.Trustees[1].ID, SigningKey: w.f.Trustees[1], Policy: w.pol, Store: trustee.NewMemStore(), Epochs: w.chain, Consistency: fork.Consistency})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := naive.Decide(ctx, req2, w.ledger(), now); err != nil {
		t.Fatalf("fork alone should verify (it is cosigned): %v", err)
	}
	// ... but trustee 0 remembers the main branch (and so do the witnesses
	// that were not in the collusion).
	forked, err := trustee.New(trustee.Config{ID: w.pol.Trustees[0].ID, SigningKey: w.f.Trustees[0], Policy: w.pol, Store: w.stores[0], Epochs: w.chain, Consistency: fork.Consistency})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forked.Decide(ctx, req2, w.ledger(), now); !errors.Is(err, trustee.ErrNotLogged) || !errors.Is(err, accesslog.ErrInconsistent) {
		t.Fatalf("fork after the main branch: %v", err)
	}
	// The main branch, grown, is still accepted.
	w.log.Append(filler(t, "later"))
	req.WarrantEntry = w.log.Include(incl.Index, 2)
	if _, err := w.trustees[0].Decide(ctx, req, w.ledger(), now); err != nil {
		t.Fatalf("main branch after growth: %v", err)
	}
}

func filler(t *testing.T, ref string) []byte {
	b, err := accesslog.Marshal(&accesslog.Evidence{Kind: accesslog.EvidenceAbuseReport, Jurisdiction: "A", Time: now, Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
