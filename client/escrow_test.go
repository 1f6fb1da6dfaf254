package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/epochproof"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee"
)

// escrowWorld is an in-process server, a 2-of-3 escrow policy with keys for
// the current key period, a compliant client alice (Config.Escrow set) and a
// non-compliant client mallory (no escrow), who share a group made by mallory.
type escrowWorld struct {
	ctx            context.Context
	pol            *policytest.Fixture
	period         uint32
	alice, mallory *client.Client
	aliceDev       api.DeviceID
	malloryDev     api.DeviceID
	keys           map[string]ed25519.PublicKey // account -> device key (one device each)
	group          string
	serverURL      string
}

func newEscrowWorld(t *testing.T) *escrowWorld {
	t.Helper()
	ctx := context.Background()
	period := uint32((uint64(time.Now().Unix()) - policytest.Genesis) / policytest.PeriodLength)
	w := &escrowWorld{ctx: ctx, period: period, pol: policytest.New(t, 2, 3, []uint32{period, period + 1}, nil)}
	url := client.TestingOnlyStartServer(t)
	w.serverURL = url
	dir := t.TempDir()
	open := func(home string, esc *client.EscrowPolicy) *client.Client {
		key := make([]byte, 32)
		rand.Read(key)
		c, err := client.Open(client.Config{Home: filepath.Join(dir, home), Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 2, Escrow: esc})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	w.alice = open("alice", &client.EscrowPolicy{Policy: w.pol.Verified})
	w.mallory = open("mallory", nil)
	client.TestingOnlyClaimPolicy(w.mallory, w.pol.Verified.ID) // claims the policy, escrows nothing
	d, err := w.alice.Register(ctx, "alice", "phone")
	if err != nil {
		t.Fatal(err)
	}
	w.aliceDev = d.DeviceID
	w.keys = map[string]ed25519.PublicKey{"alice": d.SigningKey}
	if d, err = w.mallory.Register(ctx, "mallory", "laptop"); err != nil {
		t.Fatal(err)
	}
	w.malloryDev = d.DeviceID
	w.keys["mallory"] = d.SigningKey
	if _, err := w.mallory.AddContact(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.alice.AddContact(ctx, "mallory"); err != nil {
		t.Fatal(err)
	}
	res, err := w.mallory.CreateGroup(ctx, "g", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	w.group = res.Group.ID
	return w
}

// recoverRecord plays the trustees (each decrypts its share with its period
// key) and the authority's recovery step (escrow.Recover, as
// authority.Authority.Recover runs it) with shares of trustees 0 and 2 only.
func (w *escrowWorld) recoverRecord(t *testing.T, raw []byte) *escrow.Recovery {
	t.Helper()
	rec, err := escrow.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var shares []*escrow.ReleasedShare
	for _, i := range []int{0, 2} {
		s, err := escrow.DecryptShare(rec, i, w.pol.PeriodKeys[i][rec.Context.KeyPeriod])
		if err != nil {
			t.Fatalf("trustee %d: %v", i, err)
		}
		shares = append(shares, s)
	}
	params, err := w.pol.Verified.EscrowParams(rec.Context.KeyPeriod)
	if err != nil {
		t.Fatal(err)
	}
	got, err := escrow.Recover(rec, params, shares)
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return got
}

func (w *escrowWorld) candidates(t *testing.T) []api.EscrowCandidate {
	t.Helper()
	cs, err := w.mallory.EscrowCandidates(w.ctx, w.group, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestAttackT8_GarbageEscrowRecordReplaced: a member (mallory) uploads a
// well-formed escrow record for the epoch built from secrets that are not the
// epoch's. The honest member alice, on joining, finds no candidate that
// verifies byte for byte, uploads the correct record, and names mallory's
// device as the uploader of the bad one; from k trustee shares of the correct
// record the authority recovers the epoch's P, not the garbage's.
func TestAttackT8_GarbageEscrowRecordReplaced(t *testing.T) {
	w := newEscrowWorld(t)
	gi, err := w.mallory.Group(w.group)
	if err != nil {
		t.Fatal(err)
	}
	gid, epoch := mustHex(t, gi.ID), gi.Epoch
	fake := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(fake.EncryptionSecret)
	rand.Read(fake.SenderDataSecret)
	params, err := w.pol.Verified.EscrowParams(w.period)
	if err != nil {
		t.Fatal(err)
	}
	garbage, err := escrow.Build(escrow.Context{PolicyID: w.pol.Verified.ID, KeyPeriod: w.period, GroupID: gid, Epoch: epoch}, fake, params)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.mallory.UploadEscrowRecord(w.ctx, garbage.Bytes()); err != nil {
		t.Fatalf("mallory's upload: %v", err)
	}
	if cs := w.candidates(t); len(cs) != 1 {
		t.Fatalf("%d candidates before alice joins, want mallory's 1", len(cs))
	}

	// Alice joins (Sync processes the Welcome) and checks the epoch.
	if _, err := w.alice.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	st, err := w.alice.CheckEscrow(w.ctx, w.group)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Verified || st.Epoch != epoch || len(st.Bad) != 1 || st.Bad[0].ID != garbage.ID() ||
		!slices.Equal(st.Bad[0].Uploaders, []api.DeviceID{w.malloryDev}) {
		t.Fatalf("alice's check: %+v", st)
	}
	mine, err := w.alice.EscrowRecord(w.ctx, w.group)
	if err != nil {
		t.Fatal(err)
	}
	if st.RecordID != escrow.RecordID(mine) {
		t.Fatal("the verified record is not alice's recomputed record")
	}
	cs := w.candidates(t)
	if len(cs) != 2 || !bytes.Equal(cs[1].Record, mine) || !slices.Equal(cs[1].Uploaders, []api.DeviceID{w.aliceDev}) {
		t.Fatalf("candidates after alice's check: %+v", cs)
	}
	// Mallory cannot replace her candidate by another one.
	if _, err := w.mallory.UploadEscrowRecord(w.ctx, mine); !api.HasCode(err, api.CodeConflict) {
		t.Fatalf("mallory's second candidate: %v, want conflict", err)
	}
	// Sending in the epoch needs no further upload.
	if _, err := w.alice.SendText(w.ctx, w.group, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := w.candidates(t); len(got) != 2 {
		t.Fatalf("%d candidates after alice sent", len(got))
	}

	want, err := client.TestingOnlyEpochSecrets(w.alice, w.group)
	if err != nil {
		t.Fatal(err)
	}
	got := w.recoverRecord(t, mine)
	if !bytes.Equal(got.Secrets.EncryptionSecret, want.EncryptionSecret) || !bytes.Equal(got.Secrets.SenderDataSecret, want.SenderDataSecret) || len(got.Liars) != 0 {
		t.Fatalf("recovered P differs from the epoch's (liars %v)", got.Liars)
	}
	if bad := w.recoverRecord(t, garbage.Bytes()); bytes.Equal(bad.Secrets.EncryptionSecret, want.EncryptionSecret) {
		t.Fatal("the garbage record opened to the epoch's P")
	}
}

// TestAttackT9_OmittedEscrowRecordSupplied: the sender's client (mallory,
// non-compliant) sends in an epoch without uploading any escrow record; the
// receiver alice, on processing the message, uploads the correct record
// itself, and recovery from k shares yields the epoch's P.
func TestAttackT9_OmittedEscrowRecordSupplied(t *testing.T) {
	w := newEscrowWorld(t)
	if _, err := w.mallory.SendText(w.ctx, w.group, "no escrow from me"); err != nil {
		t.Fatal(err)
	}
	if cs := w.candidates(t); len(cs) != 0 {
		t.Fatalf("%d candidates after mallory sent, want none", len(cs))
	}
	msgs, err := w.alice.Sync(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := texts(msgs); len(s) != 1 || s[0] != "mallory:no escrow from me" {
		t.Fatalf("alice got %v", s)
	}
	cs := w.candidates(t)
	if len(cs) != 1 || !slices.Equal(cs[0].Uploaders, []api.DeviceID{w.aliceDev}) {
		t.Fatalf("candidates after alice's sync: %+v", cs)
	}
	mine, err := w.alice.EscrowRecord(w.ctx, w.group)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cs[0].Record, mine) {
		t.Fatal("the record on file is not alice's recomputed record")
	}
	want, err := client.TestingOnlyEpochSecrets(w.alice, w.group)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.recoverRecord(t, cs[0].Record); !bytes.Equal(got.Secrets.EncryptionSecret, want.EncryptionSecret) || !bytes.Equal(got.Secrets.SenderDataSecret, want.SenderDataSecret) {
		t.Fatal("recovered P differs from the epoch's")
	}

	// Alice's own send in the same epoch uploads nothing more.
	if _, err := w.alice.SendText(w.ctx, w.group, "hi"); err != nil {
		t.Fatal(err)
	}
	if got := w.candidates(t); len(got) != 1 {
		t.Fatalf("%d candidates after alice sent", len(got))
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttackT11_EpochTimesFromMemberStatements: the compliant committer signs
// the time of each epoch its commit starts; a trustee's EpochVerifier takes the
// epoch's span and members from those member-signed statements as the DS
// returns them. A provider that rewrites a time (or drops the signature's
// binding by re-signing with its own key) is refused.
func TestAttackT11_EpochTimesFromMemberStatements(t *testing.T) {
	w := newEscrowWorld(t)
	res, err := w.alice.CreateGroup(w.ctx, "mine", []string{"mallory"})
	if err != nil {
		t.Fatal(err)
	}
	ref, epoch := res.Group.ID, res.Group.Epoch
	// Alice escrowed the epoch her commit started, before any send.
	if _, err := w.mallory.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := w.mallory.EscrowCandidates(w.ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || !slices.Equal(cs[0].Uploaders, []api.DeviceID{w.aliceDev}) {
		t.Fatalf("candidates of alice's new epoch: %+v", cs)
	}
	if _, err := w.alice.Remove(w.ctx, ref, []string{"mallory"}); err != nil {
		t.Fatal(err)
	}
	ev, err := w.alice.EpochEvidence(w.ctx, ref, epoch)
	if err != nil {
		t.Fatal(err)
	}
	chain := trustee.CommitChain{Keys: func(a string) (ed25519.PublicKey, bool) { k, ok := w.keys[a]; return k, ok }}
	gid := mustHex(t, ref)
	span, err := chain.VerifyEpoch(gid, epoch, ev)
	if err != nil {
		t.Fatalf("VerifyEpoch: %v", err)
	}
	dv := epochproof.Verifier{DeviceKeys: func(a string) []ed25519.PublicKey { return []ed25519.PublicKey{w.keys[a]} }}
	if dspan, err := dv.VerifyEpoch(gid, epoch, ev); err != nil || dspan.Start != span.Start || dspan.End != span.End {
		t.Fatalf("epochproof: %+v, %v", dspan, err)
	}
	now := uint64(time.Now().Unix())
	if span.Start == 0 || span.End < span.Start || now-span.Start > 60 || !slices.Equal(span.Members, []string{"alice", "mallory"}) {
		t.Fatalf("span %+v", span)
	}

	// The provider moves the epoch's start a year back (into some warrant's
	// window): the statement no longer verifies.
	start, end := splitEvidence(t, ev)
	s0, err := trustee.ParseCommitStatement(start)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := trustee.ParseCommitStatement(end)
	if err != nil {
		t.Fatal(err)
	}
	s0.Time -= 365 * 86400
	if _, err := chain.VerifyEpoch(gid, epoch, trustee.EncodeEpochEvidence(s0, s1)); err == nil {
		t.Fatal("a rewritten epoch time verified")
	}
	_, providerKey, _ := ed25519.GenerateKey(rand.Reader)
	s0.Sign(providerKey)
	if _, err := chain.VerifyEpoch(gid, epoch, trustee.EncodeEpochEvidence(s0, s1)); err == nil {
		t.Fatal("a statement re-signed by the provider verified")
	}
}

// splitEvidence splits trustee.EncodeEpochEvidence's two u16-prefixed
// statements.
func splitEvidence(t *testing.T, ev []byte) (a, b []byte) {
	t.Helper()
	var parts [][]byte
	for len(ev) >= 2 {
		n := int(ev[0])<<8 | int(ev[1])
		if len(ev) < 2+n {
			break
		}
		parts = append(parts, ev[2:2+n])
		ev = ev[2+n:]
	}
	if len(parts) != 2 || len(ev) != 0 {
		t.Fatalf("evidence holds %d statements", len(parts))
	}
	return parts[0], parts[1]
}

// TestAttackT9_OmittedRecordThenCommit: the non-compliant sender sends in an
// epoch and at once commits the next one, so the receiver gets the message
// and the commit in one sync and never holds the old epoch's secrets
// afterwards. The receiver computes the record before processing the commit
// and uploads it after the page: the old epoch still has a record that opens.
func TestAttackT9_OmittedRecordThenCommit(t *testing.T) {
	w := newEscrowWorld(t)
	carol, err := client.Open(client.Config{Home: filepath.Join(t.TempDir(), "carol"), Key: localstore.Key{Raw: bytes.Repeat([]byte{7}, 32)},
		ServerURL: w.serverURL, KeyPackages: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Register(w.ctx, "carol", "tablet"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.mallory.AddContact(w.ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	gi, err := w.mallory.Group(w.group)
	if err != nil {
		t.Fatal(err)
	}
	old := gi.Epoch
	if _, err := w.mallory.SendText(w.ctx, w.group, "sent, then the epoch ends"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.mallory.Add(w.ctx, w.group, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	if gi, _ := w.mallory.Group(w.group); gi.Epoch != old+1 {
		t.Fatalf("epoch %d after the add, want %d", gi.Epoch, old+1)
	}
	msgs, err := w.alice.Sync(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := texts(msgs); len(s) != 1 {
		t.Fatalf("alice got %v", s)
	}
	// Mallory's commit carries no signed time: alice's history says so.
	if !slices.ContainsFunc(msgs, func(m client.Message) bool {
		return m.Kind == "event" && strings.Contains(m.Text, "no signed time")
	}) {
		t.Fatalf("no warning about the unsigned commit time in %+v", msgs)
	}
	cs, err := w.mallory.EscrowCandidates(w.ctx, w.group, &old)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || !slices.Equal(cs[0].Uploaders, []api.DeviceID{w.aliceDev}) {
		t.Fatalf("candidates of the ended epoch %d: %+v", old, cs)
	}
	got := w.recoverRecord(t, cs[0].Record)
	if len(got.Secrets.EncryptionSecret) == 0 || len(got.Liars) != 0 {
		t.Fatalf("recovery: %+v", got)
	}
	// The new epoch is escrowed too, and nothing stays pending.
	cur, err := w.mallory.EscrowCandidates(w.ctx, w.group, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != 1 || !slices.Equal(cur[0].Uploaders, []api.DeviceID{w.aliceDev}) {
		t.Fatalf("candidates of the current epoch: %+v", cur)
	}
}
