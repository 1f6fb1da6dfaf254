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
	"github.com/daylight-im/daylight/store/sqlite"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
	"github.com/daylight-im/daylight/warrant"
)

// statesFake is dstest.Fake with ds.EpochStateReader over its current state
// (the fake keeps no history: it answers the epoch the state is at).
type statesFake struct{ dstest.Fake }

func (statesFake) EpochStates(state []byte, epochs []uint64) ([]ds.EpochPublicState, error) {
	var st struct {
		GroupID []byte
		Epoch   uint64
		Members []dstest.FakeMember
	}
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, err
	}
	var out []ds.EpochPublicState
	for _, e := range epochs {
		if e != st.Epoch {
			continue
		}
		ps := ds.EpochPublicState{GroupID: st.GroupID, Epoch: e, Suite: 1, LeafCount: uint32(len(st.Members)),
			GroupContext: append([]byte("group context of "), st.GroupID...)}
		for i, m := range st.Members {
			if m.Identity != nil {
				ps.Members = append(ps.Members, ds.Member{Leaf: uint32(i), Identity: m.Identity, SignatureKey: m.Key})
			}
		}
		out = append(out, ps)
	}
	return out, nil
}

// TestAttackT6_WarrantStatesScoped: POST /v1/lawful/states hands the
// authority, for a warrant logged under a witnessed checkpoint, the public
// state of exactly the epochs in the warrant's scope (a member-signed
// statement names a target, the span overlaps the window), keyed
// "<group hex>/<epoch>" with members by leaf (account, device, signature
// key), and nothing of a group the target was not in. Like the records route,
// a wrong salt, a warrant that is not logged, a warrant not signed by a court
// of the policy and an entry not proved in the log get 403 and no state.
func TestAttackT6_WarrantStatesScoped(t *testing.T) {
	world := servicetest.New(t, servicetest.Options{K: 2, N: 3})
	clock := func() time.Time { return time.Unix(int64(world.Now), 0) }
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: statesFake{}, Now: clock, MaxMessageBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := WarrantStatesHandler(svc, world.Pol, clock)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Service: svc, MaxJSONBytes: 256 << 10, PerIP: &Rate{}, PerAccount: &Rate{}, Mounts: map[string]http.Handler{WarrantStatesPattern: sh}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, svc: svc, ts: httptest.NewServer(srv)}
	t.Cleanup(func() { srv.Close(); h.ts.Close(); svc.Close(); st.Close() })

	alice, bob, carol := h.register("alice"), h.register("bob"), h.register("carol")
	groupWith := func(gid []byte, creator, other user, members ...string) {
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
	}
	groupWith([]byte("alice-bob"), alice, bob, "alice", "bob")
	groupWith([]byte("bob-carol"), bob, carol, "bob", "carol") // alice never in it

	s := world.SignWarrant(nil, nil)
	salt, incl := world.LogWarrant(s)
	proof := func(in trustee.Inclusion) string {
		return string((&accesslog.Proof{Index: in.Index, Inclusion: in.Proof, Checkpoint: in.Checkpoint}).Marshal())
	}
	ask := func(req WarrantRecordsRequest) resp {
		b, _ := json.Marshal(req)
		return h.do("POST", "/v1/lawful/states", "", api.MediaJSON, b)
	}
	r := ask(WarrantRecordsRequest{Warrant: s.Marshal(), Salt: salt[:], WarrantEntry: incl.Entry, WarrantProof: proof(incl)})
	var states map[string]EpochState
	if r.status != 200 || json.Unmarshal(r.body, &states) != nil {
		t.Fatalf("states: %d %s", r.status, r.body)
	}
	key := EpochStateKey([]byte("alice-bob"), 1)
	got, ok := states[key]
	if len(states) != 1 || !ok {
		t.Fatalf("states for %d epochs (%s), want only %s", len(states), r.body, key)
	}
	if got.Suite != 1 || got.LeafCount != 2 || !bytes.Equal(got.GroupContext, []byte("group context of alice-bob")) || len(got.Members) != 2 {
		t.Fatalf("state: %+v", got)
	}
	wantKey := map[string]ed25519.PublicKey{"alice": alice.sig.Key.Public().(ed25519.PublicKey), "bob": bob.sig.Key.Public().(ed25519.PublicKey)}
	for leaf, m := range got.Members {
		if !bytes.Equal(m.SignatureKey, wantKey[m.Account]) || m.Device == "" {
			t.Fatalf("leaf %d: %+v", leaf, m)
		}
	}
	if got.Members[0].Account != "alice" || got.Members[0].Device != "1" {
		t.Fatalf("leaf 0 is %+v, want alice's device 1", got.Members[0])
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
	if r := h.do("POST", "/v1/lawful/states", "", "text/plain", []byte("{}")); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("wrong media type: %d", r.status)
	}
}
