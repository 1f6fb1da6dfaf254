package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
)

// TestCaseFetchProspective: the authority files a warrant without records
// (prospective flow), presents it with `case fetch --present-only` (nothing
// retained from before), alice and bob then chat and escrow their epoch;
// `case fetch` adds the in-scope record to the case and writes the retained
// ciphertext in authority.Retained form. A case whose salt was altered is
// refused and leaves the case file unchanged.
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
		ps := ds.EpochPublicState{GroupID: st.GroupID, Epoch: e, Suite: 1, LeafCount: uint32(len(st.Members)), GroupContext: []byte("gc")}
		for i, m := range st.Members {
			ps.Members = append(ps.Members, ds.Member{Leaf: uint32(i), Identity: m.Identity, SignatureKey: m.Key})
		}
		out = append(out, ps)
	}
	return out, nil
}

func TestCaseFetchProspective(t *testing.T) {
	caseQuietLogs()
	ctx := context.Background()
	now := uint64(time.Now().Unix())
	cur := uint32((now - policytest.Genesis) / policytest.PeriodLength)
	w := servicetest.New(t, servicetest.Options{K: 2, N: 3, Now: now, Periods: []uint32{cur - 1, cur, cur + 1}})
	clock := func() time.Time { return time.Unix(int64(w.Now), 0) }
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: statesFake{}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	wr, err := server.WarrantRecordsHandler(svc, w.Pol, clock)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := server.WarrantStatesHandler(svc, w.Pol, clock)
	if err != nil {
		t.Fatal(err)
	}
	rh := server.NewRetainedHandler(server.RetainedConfig{Service: svc, Provider: w.F.Provider.Public().(ed25519.PublicKey), Now: clock})
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{},
		Mounts: map[string]http.Handler{server.WarrantRecordsPattern: wr, server.RetainedPattern: rh, server.WarrantStatesPattern: sh}})
	if err != nil {
		t.Fatal(err)
	}
	ds1 := httptest.NewServer(srv)
	t.Cleanup(func() { ds1.Close(); srv.Close(); svc.Close(); st.Close() })

	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	keys := &authority.Keys{Name: "federal-police", KEMPriv: w.AuthKEMPriv, KEMPub: w.AuthKEMPub, Sign: w.AuthSign}
	kb, _ := keys.Marshal()
	os.WriteFile(path("authority.keys"), kb, 0o600)
	pb, _ := w.F.Signed.Marshal()
	os.WriteFile(path("policy.bin"), pb, 0o644)
	os.WriteFile(path("warrant.signed"), w.SignWarrant(nil, nil).Marshal(), 0o644)
	appendSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		idx, err := w.Log.AppendRaw(r.Context(), b)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(rw).Encode(map[string]uint64{"index": idx})
	}))
	defer appendSrv.Close()

	register := func(name string) (dstest.Signer, ds.Principal) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		pub := priv.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
			Signature: ed25519.Sign(priv, ds.RegisterStatement(name, "phone", pub))})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := svc.Challenge(ctx, d.ID)
		tok, _ := svc.Authenticate(ctx, d.ID, c.Nonce, ed25519.Sign(priv, ds.AuthStatement(d.ID, c.Nonce)))
		p, err := svc.Authorize(ctx, tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		return dstest.Signer{Username: name, Device: d.ID, Key: priv}, p
	}
	alice, ap := register("alice")
	bob, _ := register("bob")
	gid := []byte("alice-bob")
	if _, err := svc.CreateGroup(ctx, ap, dstest.GroupInfo(gid, alice)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, ap, dstest.Commit(gid, 0, alice, []dstest.FakeMember{bob.Member()}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, ap, dstest.Application(gid, 1, []byte("before the warrant")), nil); err != nil {
		t.Fatal(err)
	}

	if out, err := runCaseCmd(t, "file", "--keys", path("authority.keys"), "--policy", path("policy.bin"), "--warrant", path("warrant.signed"),
		"--log", w.LogServer.URL+"/", "--append", appendSrv.URL, "--out", path("case.json")); err != nil {
		t.Fatalf("file without records: %v\n%s", err, out)
	}
	if _, err := runCaseCmd(t, "fetch", "--case", path("case.json"), "--server", ds1.URL, "--retained", path("retained.jsonl")); err == nil {
		t.Fatal("fetch without any record in scope accepted")
	}
	if out, err := runCaseCmd(t, "fetch", "--case", path("case.json"), "--server", ds1.URL, "--present-only", "--retained", path("retained.jsonl")); err != nil {
		t.Fatalf("present: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path("retained.jsonl")); len(b) != 0 {
		t.Fatalf("retained from before the warrant: %s", b)
	}

	// Chat after the warrant was presented: a signed epoch statement, an
	// escrow record, a message.
	cs := &trustee.CommitStatement{GroupID: gid, Epoch: 1, Time: w.Now, Members: []string{"alice", "bob"}, Committer: "alice"}
	cs.Sign(alice.Key)
	if err := svc.PutEpochStatement(ctx, ap, cs.Marshal()); err != nil {
		t.Fatal(err)
	}
	period := w.Pol.Period(w.Now)
	params, err := w.Pol.EscrowParams(period)
	if err != nil {
		t.Fatal(err)
	}
	p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(p.EncryptionSecret)
	rec, err := escrow.Build(escrow.Context{PolicyID: w.Pol.ID, KeyPeriod: period, GroupID: gid, Epoch: 1}, p, params)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutEscrowRecord(ctx, ap, rec.Bytes()); err != nil {
		t.Fatal(err)
	}
	msg := dstest.Application(gid, 1, []byte("in scope"))
	if _, err := svc.Send(ctx, ap, msg, nil); err != nil {
		t.Fatal(err)
	}

	var cf map[string]any
	cb, _ := os.ReadFile(path("case.json"))
	if err := json.Unmarshal(cb, &cf); err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 32)
	rand.Read(salt)
	cf["request"].(map[string]any)["salt"] = salt
	bb, _ := json.Marshal(cf)
	os.WriteFile(path("bad.json"), bb, 0o600)
	badBefore, _ := os.ReadFile(path("bad.json"))
	if _, err := runCaseCmd(t, "fetch", "--case", path("bad.json"), "--server", ds1.URL, "--present-only"); err == nil {
		t.Fatal("fetch with a wrong salt accepted")
	}
	if badAfter, _ := os.ReadFile(path("bad.json")); !bytes.Equal(badBefore, badAfter) {
		t.Fatal("a refused fetch changed the case file")
	}

	if out, err := runCaseCmd(t, "fetch", "--case", path("case.json"), "--server", ds1.URL, "--retained", path("retained.jsonl"), "--states", path("states.json")); err != nil {
		t.Fatalf("fetch: %v\n%s", err, out)
	}
	// The states file is what case decrypt reads: authority.EpochState by "<group hex>/<epoch>".
	sb, _ := os.ReadFile(path("states.json"))
	var states map[string]*authority.EpochState
	if err := json.Unmarshal(sb, &states); err != nil {
		t.Fatal(err)
	}
	es := states[caseStateKey(gid, 1)]
	if len(states) != 1 || es == nil || es.LeafCount != 2 || len(es.Members) != 2 || es.Members[0].Account != "alice" ||
		es.Members[0].Device != strconv.FormatInt(int64(alice.Device), 10) || !bytes.Equal(es.Members[1].SignatureKey, bob.Member().Key) {
		t.Fatalf("states = %s, want epoch 1 of alice-bob with alice and bob", sb)
	}
	c, err := caseRead(path("case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Records) != 1 || !bytes.Equal(c.Records[0].Record, rec.Bytes()) {
		t.Fatalf("case records: %d, want the one in-scope record", len(c.Records))
	}
	f, _ := os.Open(path("retained.jsonl"))
	defer f.Close()
	var got []authority.Retained
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r authority.Retained
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 1 || !bytes.Equal(got[0].Ciphertext, msg) || !bytes.Equal(got[0].GroupID, gid) || got[0].Epoch != 1 || got[0].TimeMs != w.Now*1000 {
		t.Fatalf("retained = %+v, want the one message after presentation", got)
	}
}
