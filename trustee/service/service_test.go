package service_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/kem/xwing"
	"k8s.io/klog/v2"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
	"github.com/daylight-im/daylight/trustee/trusteetest"
	"github.com/daylight-im/daylight/warrant"
)

const day = servicetest.Day

var now = servicetest.Now

func TestMain(m *testing.M) {
	klog.LogToStderr(false) // tessera logs through klog's global logger
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func TestFileStoreConformance(t *testing.T) {
	trusteetest.RunStoreTests(t, func(t *testing.T) (trustee.Store, func() []byte) {
		s, err := service.OpenFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s, s.Raw
	})
}

// TestFileStoreDurableAcrossReopen: what was acknowledged is there after a
// reopen, destruction included.
func TestFileStoreDurableAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := service.OpenFileStore(dir)
	s.PutPeriodKey(ctx, 1, []byte("key-one-key-one-key-one-key-one!"))
	s.PutPeriodKey(ctx, 2, []byte("key-two-key-two-key-two-key-two!"))
	s.DestroyPeriodKey(ctx, 1)
	s.SetLatestCheckpoint(ctx, []byte("cp\n"))
	var id [32]byte
	if fresh, err := s.ClaimRequest(ctx, id, nil); !fresh || err != nil {
		t.Fatal(fresh, err)
	}
	s2, err := service.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.PeriodKey(ctx, 1); !errors.Is(err, trustee.ErrKeyDestroyed) {
		t.Fatal(err)
	}
	if k, err := s2.PeriodKey(ctx, 2); err != nil || string(k) != "key-two-key-two-key-two-key-two!" {
		t.Fatal(err)
	}
	if cp, _ := s2.LatestCheckpoint(ctx); string(cp) != "cp\n" {
		t.Fatal("checkpoint lost")
	}
	if fresh, err := s2.ClaimRequest(ctx, id, nil); fresh || err != nil {
		t.Fatal("claim lost", fresh, err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "keys"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatal("temp file left behind")
		}
	}
}

// post sends a raw JSON body to trustee i and decodes the answer.
func post(t *testing.T, w *servicetest.World, i int, body []byte) (int, service.ReleaseResponse, service.ErrorResponse) {
	t.Helper()
	resp, err := http.Post(w.Servers[i].URL+"/v1/release", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ok service.ReleaseResponse
	var e service.ErrorResponse
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &ok); err != nil {
			t.Fatal(err)
		}
	} else if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("refusal is not JSON: %q", raw)
	}
	return resp.StatusCode, ok, e
}

func requestBody(t *testing.T, req *trustee.Request) []byte {
	b, err := json.Marshal(service.FromTrustee(req))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func claims(t *testing.T, w *servicetest.World, i int) int {
	ents, err := os.ReadDir(filepath.Join(w.StoreDirs[i], "released"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// expectRefusal posts req to trustee 0 and checks the refusal code, and
// that nothing changed: no log entry, no claim in the store.
func expectRefusal(t *testing.T, w *servicetest.World, body []byte, status int, code string) {
	t.Helper()
	size, claimed := w.Size(), claims(t, w, 0)
	st, _, e := post(t, w, 0, body)
	if st != status || e.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", st, e.Code, e.Message, status, code)
	}
	time.Sleep(300 * time.Millisecond) // a few checkpoint intervals
	if w.Size() != size {
		t.Fatalf("refused request changed the log: size %d -> %d", size, w.Size())
	}
	if claims(t, w, 0) != claimed {
		t.Fatal("refused request left a claim in the store")
	}
}

func TestReleaseOverHTTP(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e1 := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	e2 := w.Epoch("g-ac", 9, now-2*day, 0, "alice", "carol")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e1.Request, e2.Request}}
	shares := map[[32]byte][]*escrow.ReleasedShare{}
	for _, i := range []int{1, 2, 4} {
		c := &service.Client{URL: w.Servers[i].URL}
		out, err := c.Release(context.Background(), req)
		if err != nil {
			t.Fatalf("trustee %d: %v", i, err)
		}
		// The release entry is proved in the log under a cosigned checkpoint
		// and signed by the trustee.
		cpol, _ := w.Pol.CheckpointPolicy()
		if _, err := cpol.VerifyProof(&accesslog.Proof{Index: out.Release.Index, Inclusion: out.Release.Proof, Checkpoint: out.Release.Checkpoint}, out.Release.Entry); err != nil {
			t.Fatalf("release entry proof: %v", err)
		}
		rel, err := accesslog.ParseAs[*accesslog.Release](out.Release.Entry)
		if err != nil {
			t.Fatal(err)
		}
		if err := trustee.ReleaseVerify(w.Pol, rel); err != nil || rel.Count != 2 || rel.Trustee != w.Pol.Trustees[i].ID {
			t.Fatalf("release entry %+v: %v", rel, err)
		}
		for j := range out.Shares {
			rs, err := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &out.Shares[j])
			if err != nil {
				t.Fatal(err)
			}
			shares[rs.RecordID] = append(shares[rs.RecordID], rs)
		}
	}
	params, _ := w.Pol.EscrowParams(1)
	for _, e := range []*servicetest.Epoch{e1, e2} {
		got, err := escrow.Recover(e.Record, params, shares[e.Record.ID()])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Secrets.EncryptionSecret, e.Secrets.EncryptionSecret) || len(got.Liars) != 0 {
			t.Fatal("recovered wrong secrets")
		}
	}
	// GET /v1/info names the trustee and its live periods.
	resp, err := http.Get(w.Servers[0].URL + "/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Trustee string   `json:"trustee"`
		Periods []uint32 `json:"periods"`
	}
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Trustee != "trustee-0" || len(info.Periods) != 3 {
		t.Fatalf("info %+v", info)
	}
}

// TestAttackT3_ServiceUnloggedWarrant: a warrant whose commitment was never
// logged (the proof shows another entry) is refused over HTTP.
func TestAttackT3_ServiceUnloggedWarrant(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	logged := w.SignWarrant(nil, nil)
	_, incl := w.LogWarrant(logged)
	other := w.SignWarrant(func(x *warrant.Warrant) { x.CaseNumber = "2026-CR-unlogged" }, nil)
	var salt [32]byte
	rand.Read(salt[:])
	v, _ := warrant.Verify(other, w.Pol, now)
	m := v.PublicMetadata(salt, now)
	entry, _ := accesslog.Marshal((*accesslog.WarrantCommitment)(&m))
	incl.Entry = entry // the unlogged warrant's entry, with the logged one's proof
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: other, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}}
	expectRefusal(t, w, requestBody(t, req), http.StatusForbidden, "not_logged")
}

// TestAttackT4_ServiceTooFewCosignatures: the warrant's inclusion is shown
// under a checkpoint that carries the log's signature but only one of the
// two required witness cosignatures (a split view): refused.
func TestAttackT4_ServiceTooFewCosignatures(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	// Drop the last signature line (a witness cosignature) from the note.
	lines := strings.Split(strings.TrimSuffix(string(incl.Checkpoint), "\n"), "\n")
	incl.Checkpoint = []byte(strings.Join(lines[:len(lines)-1], "\n") + "\n")
	cpol, _ := w.Pol.CheckpointPolicy()
	if _, err := cpol.Verify(incl.Checkpoint); !errors.Is(err, accesslog.ErrNotEnoughCosignatures) {
		t.Fatalf("test setup: stripped checkpoint: %v", err)
	}
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}}
	expectRefusal(t, w, requestBody(t, req), http.StatusForbidden, "not_logged")
}

// TestAttackT5_ServiceUnknownCourt: a warrant signed by a key that is not a
// court of the policy, logged like a real one, is refused.
func TestAttackT5_ServiceUnknownCourt(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	_, rogue, _ := ed25519.GenerateKey(rand.Reader)
	forged := w.SignWarrant(nil, rogue) // claims court-a, signed by another key
	var salt [32]byte
	rand.Read(salt[:])
	// The log accepts any well-formed entry: the forger can log its commitment.
	wr, _ := warrant.Parse(forged.Body)
	m := accesslog.WarrantCommitment{Commitment: warrant.Commitment(forged, salt), PolicyID: wr.PolicyID, Court: wr.Court,
		Jurisdiction: wr.Jurisdiction, NumTargets: 1, WindowStart: wr.WindowStart, WindowEnd: wr.WindowEnd, EmbargoEnd: wr.EmbargoEnd, Filed: now}
	idx, b := w.AppendAwait(&m)
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: forged, Salt: salt, WarrantEntry: w.Include(idx, b), Records: []trustee.RecordRequest{e.Request}}
	expectRefusal(t, w, requestBody(t, req), http.StatusForbidden, "bad_court_signature")

	unknown := w.SignWarrant(func(x *warrant.Warrant) { x.Court = "court-z" }, rogue)
	req.Warrant = unknown
	expectRefusal(t, w, requestBody(t, req), http.StatusForbidden, "unknown_court")
}

// TestAttackT7_ServiceBudget: with 2 records per warrant, a first release of
// 2 records succeeds and a second request for one more record is refused;
// the log holds exactly the first release.
func TestAttackT7_ServiceBudget(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5, Policy: func(p *policy.Policy) { p.Budgets.RecordsPerWarrant = 2 }})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e1 := w.Epoch("g-ab", 1, now-5*day, now-4*day, "alice", "bob")
	e2 := w.Epoch("g-ab", 2, now-4*day, now-3*day, "alice", "bob")
	e3 := w.Epoch("g-ab", 3, now-3*day, now-2*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e1.Request, e2.Request}}
	if _, err := (&service.Client{URL: w.Servers[0].URL}).Release(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	req.Records = []trustee.RecordRequest{e3.Request}
	expectRefusal(t, w, requestBody(t, req), http.StatusForbidden, "budget")
	// Anyone recounts from the log: trustee-0 released 2 records for it.
	var releases int
	cp, _ := w.Reader.Checkpoint(context.Background())
	w.Reader.Entries(context.Background(), cp, func(_ uint64, e []byte) error {
		if r, err := accesslog.ParseAs[*accesslog.Release](e); err == nil && r.Trustee == "trustee-0" {
			releases += int(r.Count)
		}
		return nil
	})
	if releases != 2 {
		t.Fatalf("log shows %d released records, want 2", releases)
	}
}

// TestAttackServiceReplayedRelease: the same request sent again (a replay by
// anyone who saw it) is refused and appends nothing.
func TestAttackServiceReplayedRelease(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}}
	body := requestBody(t, req)
	if st, _, er := post(t, w, 0, body); st != http.StatusOK {
		t.Fatalf("first request: %d %+v", st, er)
	}
	expectRefusal(t, w, body, http.StatusConflict, "replay")
}

// TestAttackT14_ServiceShareForAnotherRecord: a share released over HTTP for
// one record is useless on another: relabelled, its signature fails; used
// as is, recovery of the other record refuses it.
func TestAttackT14_ServiceShareForAnotherRecord(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e1 := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	e2 := w.Epoch("g-ab", 6, now-4*day, now-3*day, "alice", "bob")
	var shares []*escrow.ReleasedShare
	for _, i := range []int{0, 1, 2} {
		req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e1.Request}}
		out, err := (&service.Client{URL: w.Servers[i].URL}).Release(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		relabelled := out.Shares[0]
		relabelled.RecordID = e2.Record.ID()
		if _, err := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &relabelled); err == nil {
			t.Fatal("relabelled share opened")
		}
		rs, err := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &out.Shares[0])
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, rs)
	}
	params, _ := w.Pol.EscrowParams(1)
	if _, err := escrow.Recover(e2.Record, params, shares); !errors.Is(err, escrow.ErrWrongRecord) {
		t.Fatalf("shares of record 1 on record 2: %v", err)
	}
	if _, err := escrow.Recover(e1.Record, params, shares); err != nil {
		t.Fatalf("shares on their own record: %v", err)
	}
}

// TestServiceMalformedRequests: garbage gets 400 and changes nothing.
func TestServiceMalformedRequests(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	good := requestBody(t, &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}})
	badRecord := requestBody(t, &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{{Record: []byte("junk"), EpochEvidence: e.Request.EpochEvidence}}})
	for name, tc := range map[string]struct {
		body string
		code string
	}{
		"not json":      {"{", "bad_request"},
		"unknown field": {strings.Replace(string(good), `"salt"`, `"pepper":1,"salt"`, 1), "bad_request"},
		"trailing":      {string(good) + "{}", "bad_request"},
		"short salt":    {strings.Replace(string(good), `"salt":"`, `"salt":"AAAA`, 1)[:0] + `{"warrant":"AA==","salt":"AA=="}`, "bad_request"},
		"bad record":    {string(badRecord), "bad_record"},
	} {
		t.Run(name, func(t *testing.T) {
			expectRefusal(t, w, []byte(tc.body), http.StatusBadRequest, tc.code)
		})
	}
}

// TestAttackT15_ServiceOpensWarrantAtEmbargoEnd: the provider pushes
// nothing; one trustee that released for a warrant appends the opening at
// the embargo end, and alice's client finds it by scanning the log with her
// key. Nobody else's key opens it; a second run appends nothing more.
func TestAttackT15_ServiceOpensWarrantAtEmbargoEnd(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}}
	if _, err := (&service.Client{URL: w.Servers[3].URL}).Release(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	aliceSK, alicePK, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	bobSK, _, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	keys := func(_ context.Context, a string) ([]byte, error) {
		if a == "alice" {
			return alicePK, nil
		}
		return nil, errors.New("unknown account")
	}
	svc := w.Services[3]
	if n, err := svc.OpenDue(context.Background(), keys); err != nil || n != 0 {
		t.Fatalf("before the embargo end: %d openings, %v", n, err)
	}
	wr, _ := warrant.Parse(s.Body)
	w.Now = wr.EmbargoEnd // the trustee's clock reaches the embargo end
	if n, err := svc.OpenDue(context.Background(), keys); err != nil || n != 1 {
		t.Fatalf("at the embargo end: %d openings, %v", n, err)
	}
	if n, err := svc.OpenDue(context.Background(), keys); err != nil || n != 0 {
		t.Fatalf("second run: %d openings, %v", n, err)
	}
	// alice's client scans the log (no push from the provider).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var found []*warrant.Opening
	for found == nil {
		cp, err := w.Reader.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.Reader.Entries(ctx, cp, func(_ uint64, raw []byte) error {
			op, err := accesslog.ParseAs[*accesslog.Opening](raw)
			if err != nil {
				return nil
			}
			if _, err := warrant.TryOpen(bobSK, "bob", op.Sealed); !errors.Is(err, warrant.ErrNotForMe) {
				t.Errorf("bob's key and the opening: %v", err)
			}
			if o, err := warrant.TryOpen(aliceSK, "alice", op.Sealed); err == nil {
				found = append(found, o)
			}
			return nil
		})
		if found == nil {
			select {
			case <-ctx.Done():
				t.Fatal("no opening in the log")
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	o := found[0]
	if len(found) != 1 || o.WarrantCommitment != warrant.Commitment(s, salt) || o.Records != 1 || o.Court != "court-a" || o.WindowStart != wr.WindowStart {
		t.Fatalf("opening %+v (%d found)", o, len(found))
	}
}

// TestAttackT12_ServiceDestroyedKey: once the lookback has passed, the
// service destroys the period key (its bytes leave the store) and a record
// of that period can no longer be released, by this trustee or any other.
func TestAttackT12_ServiceDestroyedKey(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5, Policy: func(p *policy.Policy) { p.Budgets.Lookback = 5 * day }})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	// Period 0 ended at genesis + 30 days, 10 days before now: past the lookback.
	old := w.Epoch("g-ab", 2, now-12*day, now-9*day, "alice", "bob")
	if old.Record.Context.KeyPeriod != 0 {
		t.Fatalf("test setup: record in period %d", old.Record.Context.KeyPeriod)
	}
	for i, svc := range w.Services {
		ds, err := svc.DestroyExpired(context.Background())
		if err != nil || len(ds) != 1 || ds[0].Period != 0 {
			t.Fatalf("trustee %d destroyed %+v: %v", i, ds, err)
		}
		if bytes.Contains(w.Stores[i].Raw(), w.F.PeriodKeys[i][0]) {
			t.Fatalf("trustee %d: destroyed key still in its store", i)
		}
	}
	// Anyone can fetch the signed destruction statements.
	resp, err := http.Get(w.Servers[2].URL + "/v1/destructions")
	if err != nil {
		t.Fatal(err)
	}
	var ds []trustee.Destruction
	json.NewDecoder(resp.Body).Decode(&ds)
	resp.Body.Close()
	if len(ds) != 1 || ds[0].Period != 0 || ds[0].Trustee != "trustee-2" || !ds[0].Verify(w.Pol.Trustees[2].SigningKey) {
		t.Fatalf("destruction statements %+v", ds)
	}
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{old.Request}}
	size := w.Size()
	for i := range w.Servers {
		st, _, e := post(t, w, i, requestBody(t, req))
		if st != http.StatusForbidden || (e.Code != "beyond_lookback" && e.Code != "key_destroyed") {
			t.Fatalf("trustee %d: %d %q", i, st, e.Code)
		}
	}
	if w.Size() != size {
		t.Fatal("refusals changed the log")
	}
}

// TestCheckKeys: a store holding the policy's keys passes; a store with a
// key the policy does not publish is refused at start.
func TestCheckKeys(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	if missing, err := w.Services[0].CheckKeys(context.Background()); err != nil || len(missing) != 0 {
		t.Fatalf("fixture keys: missing %v, %v", missing, err)
	}
	st, _ := service.OpenFileStore(t.TempDir())
	trustee.RotateKey(context.Background(), st, 1, rand.Reader) // not the policy's key
	svc, err := service.New(service.Config{ID: "trustee-0", SigningKey: w.F.Trustees[0], Policy: w.Pol, Store: st, Epochs: w.Chain,
		Appender: service.TlogAppender{Log: w.Log}, Reader: w.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckKeys(context.Background()); !errors.Is(err, service.ErrKeyMismatch) {
		t.Fatalf("foreign key: %v", err)
	}
	if err := st.DestroyPeriodKey(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if missing, err := svc.CheckKeys(context.Background()); err != nil || len(missing) != 2 {
		t.Fatalf("after destroying it: missing %v, %v", missing, err)
	}
}

// TestAttackServiceExpiredWarrant: a real court's warrant, logged, but past
// its expiry by the trustee's clock, is refused and changes nothing.
func TestAttackServiceExpiredWarrant(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(func(x *warrant.Warrant) { x.Issued, x.Expiry = now-40*day, now-day }, nil)
	var salt [32]byte
	rand.Read(salt[:])
	v, err := warrant.Verify(s, w.Pol, now-2*day) // valid when it was filed
	if err != nil {
		t.Fatal(err)
	}
	m := v.PublicMetadata(salt, now-2*day)
	idx, b := w.AppendAwait((*accesslog.WarrantCommitment)(&m))
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: w.Include(idx, b), Records: []trustee.RecordRequest{e.Request}}
	expectRefusal(t, w, requestBody(t, req), http.StatusForbidden, "warrant_expired")
}

// flakyAppender fails its first append (the log was unreachable).
type flakyAppender struct {
	next   service.LogAppender
	failed bool
}

func (f *flakyAppender) Append(ctx context.Context, e []byte) (uint64, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("connection refused")
	}
	return f.next.Append(ctx, e)
}

func countReleases(t *testing.T, w *servicetest.World, trusteeID string) int {
	t.Helper()
	var n int
	cp, err := w.Reader.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.Reader.Entries(context.Background(), cp, func(_ uint64, e []byte) error {
		if r, err := accesslog.ParseAs[*accesslog.Release](e); err == nil && r.Trustee == trusteeID {
			n++
		}
		return nil
	})
	return n
}

// TestResumeAfterLostAnswer: the authority lost a trustee's answer; the
// replayed POST /v1/release is refused, POST /v1/release/resume hands out
// the same shares and logs nothing new. A request never released cannot be
// resumed.
func TestResumeAfterLostAnswer(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e1 := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	e2 := w.Epoch("g-ab", 6, now-4*day, now-3*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e1.Request}}
	c := &service.Client{URL: w.Servers[0].URL}
	first, err := c.Release(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	size := w.Size()
	again, err := c.Resume(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &first.Shares[0])
	b, err := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &again.Shares[0])
	if err != nil || a.Value != b.Value || again.Release.Index != first.Release.Index {
		t.Fatalf("resumed shares differ: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if w.Size() != size || countReleases(t, w, "trustee-0") != 1 {
		t.Fatal("resume logged something")
	}
	other := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e2.Request}}
	var ref *service.RefusalError
	if _, err := c.Resume(context.Background(), other); !errors.As(err, &ref) || ref.Code != "not_released" {
		t.Fatalf("resume of a request never released: %v", err)
	}
}

// TestResumeAfterFailedAppend: the trustee decided and claimed, but the log
// append failed (503). Resume appends the same signed entry once and
// releases; the log holds exactly one release of it.
func TestResumeAfterFailedAppend(t *testing.T) {
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	st, _ := service.OpenFileStore(t.TempDir())
	for per, k := range w.F.PeriodKeys[4] {
		st.PutPeriodKey(context.Background(), per, k)
	}
	svc, err := service.New(service.Config{ID: "trustee-4", SigningKey: w.F.Trustees[4], Policy: w.Pol, Store: st, Epochs: w.Chain,
		Appender: &flakyAppender{next: service.TlogAppender{Log: w.Log}}, Reader: w.Reader,
		Now: func() time.Time { return time.Unix(int64(w.Now), 0) }, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := w.SignWarrant(nil, nil)
	salt, incl := w.LogWarrant(s)
	e := w.Epoch("g-ab", 5, now-5*day, now-4*day, "alice", "bob")
	req := &trustee.Request{Warrant: s, Salt: salt, WarrantEntry: incl, Records: []trustee.RecordRequest{e.Request}}
	if _, err := svc.Release(context.Background(), req); !errors.Is(err, service.ErrLog) {
		t.Fatalf("release with the log down: %v", err)
	}
	if _, err := svc.Release(context.Background(), req); !errors.Is(err, service.ErrReplay) {
		t.Fatalf("retry: %v", err)
	}
	out, err := svc.Resume(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trustee.OpenShare(w.Pol, w.AuthKEMPriv, &out.Shares[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resume(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := countReleases(t, w, "trustee-4"); n != 1 {
		t.Fatalf("%d release entries logged, want 1", n)
	}
}
