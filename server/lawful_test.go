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
	"sync/atomic"
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

// TestRetainedProspectiveForLoggedWarrant (docs/retention.md): presenting a
// logged warrant starts its hold; only application messages of the target's
// groups sent after that come back, with their acceptance time, as JSON
// Lines; a message sent before the warrant was presented is not there; a
// wrong salt, a warrant that is not logged, a forged court signature, a
// tampered entry and a policy this provider did not sign get 403 and start no
// hold.
func TestRetainedProspectiveForLoggedWarrant(t *testing.T) {
	world := servicetest.New(t, servicetest.Options{K: 2, N: 3})
	var nowSec atomic.Int64
	nowSec.Store(int64(world.Now))
	clock := func() time.Time { return time.Unix(nowSec.Load(), 0) }
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: dstest.Fake{}, Now: clock, MaxMessageBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	rh := NewRetainedHandler(RetainedConfig{Service: svc, Provider: world.F.Provider.Public().(ed25519.PublicKey), Now: clock})
	srv, err := New(Config{Service: svc, MaxJSONBytes: 256 << 10, PerIP: &Rate{}, PerAccount: &Rate{}, Mounts: map[string]http.Handler{RetainedPattern: rh}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, svc: svc, ts: httptest.NewServer(srv)}
	t.Cleanup(func() { srv.Close(); h.ts.Close(); svc.Close(); st.Close() })

	alice, bob, carol := h.register("alice"), h.register("bob"), h.register("carol")
	group := func(gid []byte, creator, other user) {
		if r := h.do("POST", "/v1/groups", creator.token, api.MediaMLS, dstest.GroupInfo(gid, creator.sig)); r.status != 201 {
			t.Fatalf("create group: %d %s", r.status, r.body)
		}
		if r := h.send(creator, dstest.Commit(gid, 0, creator.sig, []dstest.FakeMember{other.sig.Member()})); r.status != 201 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
	}
	ab, bc := []byte("alice-bob"), []byte("bob-carol")
	group(ab, alice, bob)
	group(bc, bob, carol)
	say := func(u user, gid []byte, text string) []byte {
		m := dstest.Application(gid, 1, []byte(text))
		if r := h.send(u, m); r.status != 201 {
			t.Fatalf("send: %d %s", r.status, r.body)
		}
		return m
	}

	s := world.SignWarrant(nil, nil)
	salt, incl := world.LogWarrant(s)
	proof := func(in trustee.Inclusion) string {
		return string((&accesslog.Proof{Index: in.Index, Inclusion: in.Proof, Checkpoint: in.Checkpoint}).Marshal())
	}
	pol, err := world.F.Signed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req RetainedRequest) resp {
		b, _ := json.Marshal(req)
		return h.do("POST", "/v1/lawful/retained", "", api.MediaJSON, b)
	}
	lines := func(r resp) []RetainedLine {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("retained: %d %s", r.status, r.body)
		}
		var out []RetainedLine
		dec := json.NewDecoder(bytes.NewReader(r.body))
		for dec.More() {
			var l RetainedLine
			if err := dec.Decode(&l); err != nil {
				t.Fatal(err)
			}
			out = append(out, l)
		}
		return out
	}
	good := RetainedRequest{Policy: pol, Warrant: s.Marshal(), Salt: salt[:], WarrantEntry: incl.Entry, WarrantProof: proof(incl)}

	say(alice, ab, "before the warrant was presented")
	nowSec.Add(60)
	// Refused requests start no hold.
	badSalt := salt
	badSalt[0] ^= 1
	bad := good
	bad.Salt = badSalt[:]
	expect(t, "wrong salt", ask(bad), http.StatusForbidden, api.CodeForbidden)
	unlogged := world.SignWarrant(func(w *warrant.Warrant) { w.CaseNumber += "-2" }, nil)
	bad = good
	bad.Warrant = unlogged.Marshal()
	expect(t, "unlogged warrant", ask(bad), http.StatusForbidden, api.CodeForbidden)
	_, notCourt, _ := ed25519.GenerateKey(rand.Reader)
	bad = good
	bad.Warrant = world.SignWarrant(nil, notCourt).Marshal()
	expect(t, "not a court", ask(bad), http.StatusForbidden, api.CodeForbidden)
	bad = good
	bad.WarrantEntry = bytes.Clone(incl.Entry)
	bad.WarrantEntry[len(bad.WarrantEntry)-1] ^= 1
	expect(t, "entry not in the log", ask(bad), http.StatusForbidden, api.CodeForbidden)
	other := NewRetainedHandler(RetainedConfig{Service: svc, Provider: alice.sig.Key.Public().(ed25519.PublicKey), Now: clock})
	b, _ := json.Marshal(good)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/lawful/retained", bytes.NewReader(b))
	req.Header.Set("Content-Type", api.MediaJSON)
	other.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("policy of another provider: %d %s", rec.Code, rec.Body)
	}
	say(alice, ab, "no hold yet")
	for _, c := range [][32]byte{warrant.Commitment(s, salt), warrant.Commitment(unlogged, salt), warrant.Commitment(s, badSalt)} {
		if got, err := svc.Retained(context.Background(), c, time.Unix(0, 0), clock().Add(time.Hour)); err != nil || len(got) != 0 {
			t.Fatalf("a refused request started a hold: %d retained, %v", len(got), err)
		}
	}

	nowSec.Add(60)
	r := ask(good)
	if l := lines(r); len(l) != 0 {
		t.Fatalf("at presentation: %d messages, want none (no historic retention)", len(l))
	}
	if r.hdr.Get(HeaderHoldFrom) == "" || r.hdr.Get(HeaderHoldUntil) == "" {
		t.Fatalf("no hold headers: %v", r.hdr)
	}
	nowSec.Add(60)
	want := say(bob, ab, "in scope")
	say(bob, bc, "alice is not in this group")
	got := lines(ask(good))
	if len(got) != 1 || !bytes.Equal(got[0].Ciphertext, want) || !bytes.Equal(got[0].GroupID, ab) || got[0].Epoch != 1 || got[0].TimeMs != uint64(nowSec.Load())*1000 {
		t.Fatalf("retained = %+v, want the one alice-bob message after presentation", got)
	}
}
