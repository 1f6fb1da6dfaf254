package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cloudflare/circl/kem/xwing"
	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/trustee"
)

func testEscrowRecord(t *testing.T, gid []byte, epoch uint64) []byte {
	t.Helper()
	c := escrow.Context{KeyPeriod: 1, GroupID: gid, Epoch: epoch}
	p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(p.EncryptionSecret)
	params := escrow.Params{K: 1}
	_, pk, err := xwing.GenerateKeyPairPacked(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	params.TrusteeKeys = [][]byte{pk}
	rec, err := escrow.Build(c, p, params)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Bytes()
}

// TestEscrowRoutes drives the escrow upload and list routes over HTTP: status
// codes of new and repeated uploads, the error table's answers for a
// conflicting candidate, a non-member, a malformed record and a wrong media
// type, and the listing with uploader marks.
func TestEscrowRoutes(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob, carol := h.register("alice"), h.register("bob"), h.register("carol")
	gid := []byte("escrow-group")
	if r := h.do("POST", "/v1/groups", alice.token, api.MediaMLS, dstest.GroupInfo(gid, alice.sig)); r.status != 201 {
		t.Fatalf("create group: %d %s", r.status, r.body)
	}
	if r := h.send(alice, dstest.Commit(gid, 0, alice.sig, []dstest.FakeMember{bob.sig.Member()})); r.status != 201 {
		t.Fatalf("add bob: %d %s", r.status, r.body)
	}
	rec1, rec2 := testEscrowRecord(t, gid, 1), testEscrowRecord(t, gid, 1)
	up := func(u user, b []byte) resp { return h.do("POST", "/v1/escrow", u.token, api.MediaBinary, b) }

	r := up(bob, rec1)
	var rc api.EscrowReceipt
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &rc) != nil || !rc.Created || rc.Epoch != 1 {
		t.Fatalf("first upload: %d %s", r.status, r.body)
	}
	if id := escrow.RecordID(rec1); string(rc.ID) != string(id[:]) {
		t.Fatalf("receipt id %x, want %x", rc.ID, id)
	}
	if r := up(alice, rec1); r.status != http.StatusOK {
		t.Fatalf("same bytes from alice: %d %s", r.status, r.body)
	}
	expect(t, "second candidate", up(bob, rec2), http.StatusConflict, api.CodeConflict)
	expect(t, "non-member", up(carol, testEscrowRecord(t, gid, 1)), http.StatusForbidden, api.CodeForbidden)
	expect(t, "malformed", up(alice, rec2[:100]), http.StatusBadRequest, api.CodeInvalidInput)
	expect(t, "future epoch", up(alice, testEscrowRecord(t, gid, 2)), http.StatusBadRequest, api.CodeInvalidInput)
	expect(t, "media type", h.do("POST", "/v1/escrow", alice.token, api.MediaJSON, rec2), http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia)
	expect(t, "no token", up(user{}, rec2), http.StatusUnauthorized, api.CodeUnauthenticated)

	path := "/v1/groups/" + base64.RawURLEncoding.EncodeToString(gid) + "/epochs/1/escrow"
	r = h.do("GET", path, bob.token, "", nil)
	var cs api.EscrowCandidates
	if r.status != 200 || json.Unmarshal(r.body, &cs) != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if len(cs.Candidates) != 1 || string(cs.Candidates[0].Record) != string(rec1) || len(cs.Candidates[0].Uploaders) != 2 {
		t.Fatalf("candidates %s", r.body)
	}
	// The ids-only listing: the same candidates, without the records.
	r = h.do("GET", path+"?"+api.EscrowListIDsOnly, bob.token, "", nil)
	var ids api.EscrowCandidates
	if r.status != 200 || json.Unmarshal(r.body, &ids) != nil {
		t.Fatalf("ids-only list: %d %s", r.status, r.body)
	}
	if id := escrow.RecordID(rec1); len(ids.Candidates) != 1 || string(ids.Candidates[0].ID) != string(id[:]) || ids.Candidates[0].Record != nil || len(ids.Candidates[0].Uploaders) != 2 {
		t.Fatalf("ids-only candidates %s", r.body)
	}
	expect(t, "bad ids parameter", h.do("GET", path+"?ids=yes", bob.token, "", nil), http.StatusBadRequest, api.CodeInvalidInput)
	expect(t, "ids-only list by non-member", h.do("GET", path+"?"+api.EscrowListIDsOnly, carol.token, "", nil), http.StatusForbidden, api.CodeForbidden)
	expect(t, "list by non-member", h.do("GET", path, carol.token, "", nil), http.StatusForbidden, api.CodeForbidden)
	expect(t, "bad epoch", h.do("GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(gid)+"/epochs/x/escrow", bob.token, "", nil), http.StatusBadRequest, api.CodeInvalidInput)
}

// TestEpochStatementRoutes uploads a member-signed epoch statement over HTTP
// and reads the epoch's evidence back; a forged one answers bad_signature.
func TestEpochStatementRoutes(t *testing.T) {
	h := newHarness(t, nil)
	alice, bob := h.register("alice"), h.register("bob")
	gid := []byte("statement-group")
	if r := h.do("POST", "/v1/groups", alice.token, api.MediaMLS, dstest.GroupInfo(gid, alice.sig)); r.status != 201 {
		t.Fatalf("create group: %d %s", r.status, r.body)
	}
	if r := h.send(alice, dstest.Commit(gid, 0, alice.sig, []dstest.FakeMember{bob.sig.Member()})); r.status != 201 {
		t.Fatalf("add bob: %d %s", r.status, r.body)
	}
	st := &trustee.CommitStatement{GroupID: gid, Epoch: 1, Time: uint64(time.Now().Unix()), Members: []string{"alice", "bob"}, Committer: "alice"}
	st.Sign(bob.sig.Key)
	expect(t, "forged", h.do("POST", "/v1/epochs", alice.token, api.MediaBinary, st.Marshal()), http.StatusBadRequest, api.CodeBadSignature)
	st.Sign(alice.sig.Key)
	if r := h.do("POST", "/v1/epochs", alice.token, api.MediaBinary, st.Marshal()); r.status != http.StatusNoContent {
		t.Fatalf("statement: %d %s", r.status, r.body)
	}
	r := h.do("GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(gid)+"/epochs/1/evidence", bob.token, "", nil)
	var ev api.EpochEvidence
	if r.status != 200 || json.Unmarshal(r.body, &ev) != nil {
		t.Fatalf("evidence: %d %s", r.status, r.body)
	}
	if want := trustee.EncodeEpochEvidence(st, nil); string(ev.Evidence) != string(want) {
		t.Fatalf("evidence %x, want %x", ev.Evidence, want)
	}
	expect(t, "missing epoch", h.do("GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(gid)+"/epochs/0/evidence", bob.token, "", nil), http.StatusNotFound, api.CodeNotFound)
}
