package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/epochproof"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/store/sqlite"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
	"github.com/daylight-im/daylight/warrant"
)

// TestAttackT6_WarrantRecordsScoped: the DS hands the authority, for a
// warrant logged under a witnessed checkpoint, the escrow records of the
// epochs whose member-signed statements name a target inside the window, each
// with evidence that verifies with the members' keys, and nothing of a group
// the target was not in. A wrong salt, a warrant that is not logged and a
// warrant signed by a key that is not a court of the policy get nothing.
func TestAttackT6_WarrantRecordsScoped(t *testing.T) {
	world := servicetest.New(t, servicetest.Options{K: 2, N: 3})
	clock := func() time.Time { return time.Unix(int64(world.Now), 0) }
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}, Now: clock, MaxMessageBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	wr, err := WarrantRecordsHandler(svc, world.Pol, clock)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Service: svc, MaxJSONBytes: 256 << 10, PerIP: &Rate{}, PerAccount: &Rate{}, Mounts: map[string]http.Handler{WarrantRecordsPattern: wr}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, svc: svc, ts: httptest.NewServer(srv)}
	t.Cleanup(func() { srv.Close(); h.ts.Close(); svc.Close(); st.Close() })

	alice, bob := h.register("alice"), h.register("bob")
	period := world.Pol.Period(world.Now)
	params, err := world.Pol.EscrowParams(period)
	if err != nil {
		t.Fatal(err)
	}
	// groupWith makes a group of creator (+ other), uploads creator's signed
	// statement of epoch 1 and an escrow record, and returns the record.
	groupWith := func(gid []byte, creator user, other user, members ...string) []byte {
		if r := h.do("POST", "/v1/groups", creator.token, api.MediaMLS, dstest.GroupInfo(gid, creator.sig)); r.status != 201 {
			t.Fatalf("create group: %d %s", r.status, r.body)
		}
		if r := h.send(creator, dstest.Commit(gid, 0, creator.sig, []dstest.FakeMember{other.sig.Member()})); r.status != 201 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
		cs := &trustee.CommitStatement{GroupID: gid, Epoch: 1, Time: world.Now, Members: members, Committer: creator.sig.Username}
		cs.Sign(creator.sig.Key)
		if r := h.do("POST", "/v1/epochs", creator.token, api.MediaBinary, cs.Marshal()); r.status != http.StatusNoContent {
			t.Fatalf("statement: %d %s", r.status, r.body)
		}
		p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
		rand.Read(p.EncryptionSecret)
		rec, err := escrow.Build(escrow.Context{PolicyID: world.Pol.ID, KeyPeriod: period, GroupID: gid, Epoch: 1}, p, params)
		if err != nil {
			t.Fatal(err)
		}
		if r := h.do("POST", "/v1/escrow", creator.token, api.MediaBinary, rec.Bytes()); r.status != http.StatusCreated {
			t.Fatalf("escrow: %d %s", r.status, r.body)
		}
		return rec.Bytes()
	}
	carol := h.register("carol")
	inScope := groupWith([]byte("alice-bob"), alice, bob, "alice", "bob")
	groupWith([]byte("bob-carol"), bob, carol, "bob", "carol") // alice never in it

	s := world.SignWarrant(nil, nil)
	salt, incl := world.LogWarrant(s)
	proof := func(in trustee.Inclusion) string {
		return string((&accesslog.Proof{Index: in.Index, Inclusion: in.Proof, Checkpoint: in.Checkpoint}).Marshal())
	}
	ask := func(req WarrantRecordsRequest) resp {
		b, _ := json.Marshal(req)
		return h.do("POST", "/v1/lawful/records", "", api.MediaJSON, b)
	}
	r := ask(WarrantRecordsRequest{Warrant: s.Marshal(), Salt: salt[:], WarrantEntry: incl.Entry, WarrantProof: proof(incl)})
	var recs []WarrantRecord
	if r.status != 200 || json.Unmarshal(r.body, &recs) != nil {
		t.Fatalf("records: %d %s", r.status, r.body)
	}
	if len(recs) != 1 || !bytes.Equal(recs[0].Record, inScope) {
		t.Fatalf("%d records, want alice's group's one", len(recs))
	}
	keys := map[string]ed25519.PublicKey{}
	for _, u := range []user{alice, bob, carol} {
		keys[u.sig.Username] = u.sig.Key.Public().(ed25519.PublicKey)
	}
	v := epochproof.Verifier{DeviceKeys: func(a string) []ed25519.PublicKey { return []ed25519.PublicKey{keys[a]} }}
	span, err := v.VerifyEpoch([]byte("alice-bob"), 1, recs[0].EpochEvidence)
	if err != nil || span.Start != world.Now {
		t.Fatalf("evidence: %+v %v", span, err)
	}

	badSalt := salt
	badSalt[0] ^= 1
	expect(t, "wrong salt", ask(WarrantRecordsRequest{Warrant: s.Marshal(), Salt: badSalt[:], WarrantEntry: incl.Entry, WarrantProof: proof(incl)}), http.StatusForbidden, api.CodeForbidden)
	unlogged := world.SignWarrant(func(w *warrant.Warrant) { w.CaseNumber += "-2" }, nil) // another warrant, never logged
	expect(t, "unlogged warrant", ask(WarrantRecordsRequest{Warrant: unlogged.Marshal(), Salt: salt[:], WarrantEntry: incl.Entry, WarrantProof: proof(incl)}), http.StatusForbidden, api.CodeForbidden)
	_, notCourt, _ := ed25519.GenerateKey(rand.Reader)
	forged := world.SignWarrant(nil, notCourt)
	expect(t, "not a court", ask(WarrantRecordsRequest{Warrant: forged.Marshal(), Salt: salt[:], WarrantEntry: incl.Entry, WarrantProof: proof(incl)}), http.StatusForbidden, api.CodeForbidden)
	tampered := bytes.Clone(incl.Entry)
	tampered[len(tampered)-1] ^= 1
	expect(t, "entry not in the log", ask(WarrantRecordsRequest{Warrant: s.Marshal(), Salt: salt[:], WarrantEntry: tampered, WarrantProof: proof(incl)}), http.StatusForbidden, api.CodeForbidden)
}
