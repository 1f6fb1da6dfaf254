// Package servicetest runs a complete lawful-access world in one process
// for tests of the trustee service and the authority: a real access log
// (accesslog/tlog in a temporary directory) cosigned by in-process witnesses,
// a signed policy naming that log and those witnesses, and n trustee services
// with file stores, each behind a real HTTP server. Nothing here is for
// production use.
package servicetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/warrant"
	"github.com/daylight-im/daylight/witness"
)

// Origin is the test log's origin.
const Origin = "log.daylight.test"

// Day is a day in seconds.
const Day = 86400

// Now is the world's clock: 40 days after the policy genesis (key period 1).
var Now = uint64(policytest.Genesis + 40*Day)

// World is a running lawful-access deployment.
type World struct {
	T         testing.TB
	F         *policytest.Fixture
	Pol       *policy.Verified
	Log       *tlog.Log
	LogDir    string
	LogServer *httptest.Server // the log's tiles at URL + "/"
	Reader    *tlog.Client
	Services  []*service.Service
	Stores    []*service.FileStore
	StoreDirs []string
	Servers   []*httptest.Server
	Users     map[string]ed25519.PrivateKey
	Chain     trustee.CommitChain
	// The requesting authority's keys.
	AuthKEMPriv, AuthKEMPub []byte
	AuthSign                ed25519.PrivateKey
	// Now is the world's clock (unix seconds).
	Now uint64
}

// Options change the world.
type Options struct {
	K, N   int
	Policy func(*policy.Policy) // may change the policy before signing
	// Now is the world's clock (default: the package's Now); Periods are
	// the key periods trustees hold keys for (default 0, 1, 2).
	Now     uint64
	Periods []uint32
}

// New starts a world: two witnesses, w = 2, k of n trustees with period keys.
func New(t testing.TB, o Options) *World {
	t.Helper()
	w := &World{T: t, Users: map[string]ed25519.PrivateKey{}, Now: o.Now}
	if w.Now == 0 {
		w.Now = Now
	}
	if o.Periods == nil {
		o.Periods = []uint32{0, 1, 2}
	}
	w.LogDir = t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, Origin)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(w.LogDir, ".daylight"), 0o700)
	if err := os.WriteFile(filepath.Join(w.LogDir, ".daylight", "log.key"), []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	var tw []tlog.Witness
	var pw []policy.Witness
	for i := range 2 {
		name := fmt.Sprintf("witness.test/w%d", i)
		dir := t.TempDir()
		s, wvkey, err := witness.LoadOrCreateKeyOfType(filepath.Join(dir, "key"), name, witness.Ed25519, nil)
		if err != nil {
			t.Fatal(err)
		}
		wit, err := witness.New(witness.Config{Signer: s, Logs: []witness.Log{{Origin: Origin, Verifier: lv}}, Store: witness.FileStore{Dir: dir}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(wit.Handler())
		t.Cleanup(srv.Close)
		tw = append(tw, tlog.Witness{URL: srv.URL, VKey: wvkey})
		pw = append(pw, policy.Witness{Name: name, VerifierKey: wvkey})
	}
	w.F = policytest.New(t, o.K, o.N, o.Periods, func(p *policy.Policy) {
		p.Log = policy.LogKey{Origin: Origin, VerifierKey: vkey}
		p.Witnesses = pw
		p.W = 2
		if o.Policy != nil {
			o.Policy(p)
		}
	})
	w.Pol = w.F.Verified
	w.Log, err = tlog.Open(context.Background(), tlog.Config{Dir: w.LogDir, Origin: Origin, Witnesses: tw, WitnessThreshold: 2,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		w.Log.Close(ctx)
	})
	w.LogServer = httptest.NewServer(w.Log.Handler())
	t.Cleanup(w.LogServer.Close)
	cpol, err := w.Pol.CheckpointPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if w.Reader, err = tlog.NewClient(w.LogServer.URL+"/", cpol, nil); err != nil {
		t.Fatal(err)
	}
	// The log's first entry is the policy itself (A10).
	pe, err := policy.LogEntry(w.F.Signed, w.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.AppendAwait(pe)

	keys := map[string]ed25519.PublicKey{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		w.Users[u], keys[u] = priv, pub
	}
	w.Chain = trustee.CommitChain{Keys: func(a string) (ed25519.PublicKey, bool) { k, ok := keys[a]; return k, ok }}
	for i := range w.F.Trustees {
		dir := t.TempDir()
		st, err := service.OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		for per, sk := range w.F.PeriodKeys[i] {
			if err := st.PutPeriodKey(context.Background(), per, sk); err != nil {
				t.Fatal(err)
			}
		}
		svc, err := service.New(service.Config{ID: w.Pol.Trustees[i].ID, SigningKey: w.F.Trustees[i], Policy: w.Pol, Store: st,
			Epochs: w.Chain, Appender: service.TlogAppender{Log: w.Log}, Reader: w.Reader,
			Now: func() time.Time { return time.Unix(int64(w.Now), 0) }, AwaitTimeout: 20 * time.Second, PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(svc.Handler())
		t.Cleanup(srv.Close)
		w.Services, w.Stores, w.StoreDirs, w.Servers = append(w.Services, svc), append(w.Stores, st), append(w.StoreDirs, dir), append(w.Servers, srv)
	}
	w.AuthKEMPriv, w.AuthKEMPub, err = xwing.GenerateKeyPairPacked(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, w.AuthSign, _ = ed25519.GenerateKey(rand.Reader)
	return w
}

// AppendAwait appends e and waits for a cosigned checkpoint covering it;
// it returns the entry's index and encoding.
func (w *World) AppendAwait(e accesslog.Entry) (uint64, []byte) {
	w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := accesslog.Marshal(e)
	if err != nil {
		w.T.Fatal(err)
	}
	idx, err := w.Log.AppendRaw(ctx, b)
	if err != nil {
		w.T.Fatal(err)
	}
	if _, err := w.Log.Await(ctx, idx); err != nil {
		w.T.Fatal(err)
	}
	return idx, b
}

// Include returns the inclusion of entry index under the log's current
// cosigned checkpoint, verified by the reader.
func (w *World) Include(index uint64, entry []byte) trustee.Inclusion {
	w.T.Helper()
	ctx := context.Background()
	cp, err := w.Reader.Checkpoint(ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	p, err := w.Reader.InclusionProof(ctx, cp, index)
	if err != nil {
		w.T.Fatal(err)
	}
	return trustee.Inclusion{Checkpoint: cp.Raw, Index: index, Entry: entry, Proof: p}
}

// Size returns the size of the log's latest cosigned checkpoint.
func (w *World) Size() uint64 {
	w.T.Helper()
	cp, err := w.Reader.Checkpoint(context.Background())
	if err != nil {
		w.T.Fatal(err)
	}
	return cp.Size
}

// Epoch is one synthetic epoch: its secrets, its escrow record and the
// member-signed evidence of its span.
type Epoch struct {
	Secrets escrow.Secrets
	Record  *escrow.Record
	Request trustee.RecordRequest
	Members []string
}

// Epoch builds the escrow record of (group, epoch) from fresh secrets and
// member-signed statements that the epoch ran [start, end) (end 0: current)
// with members.
func (w *World) Epoch(group string, epoch, start, end uint64, members ...string) *Epoch {
	w.T.Helper()
	st := &trustee.CommitStatement{GroupID: []byte(group), Epoch: epoch, Time: start, Members: members, Committer: members[0]}
	st.Sign(w.Users[members[0]])
	var en *trustee.CommitStatement
	if end != 0 {
		en = &trustee.CommitStatement{GroupID: []byte(group), Epoch: epoch + 1, Time: end, Members: members, Committer: members[len(members)-1]}
		en.Sign(w.Users[members[len(members)-1]])
	}
	period := w.Pol.Period(start)
	params, err := w.Pol.EscrowParams(period)
	if err != nil {
		w.T.Fatal(err)
	}
	p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	rand.Read(p.EncryptionSecret)
	rand.Read(p.SenderDataSecret)
	rec, err := escrow.Build(escrow.Context{PolicyID: w.Pol.ID, KeyPeriod: period, GroupID: []byte(group), Epoch: epoch}, p, params)
	if err != nil {
		w.T.Fatal(err)
	}
	return &Epoch{Secrets: p, Record: rec, Members: members, Request: trustee.RecordRequest{Record: rec.Bytes(), EpochEvidence: trustee.EncodeEpochEvidence(st, en)}}
}

// SignWarrant returns a warrant for alice by court-a naming the world's
// authority, modified by mod, signed by the court key named in it (or by
// signer if not nil).
func (w *World) SignWarrant(mod func(*warrant.Warrant), signer ed25519.PrivateKey) *warrant.Signed {
	w.T.Helper()
	wr := &warrant.Warrant{
		Authority: "federal-police", AuthorityKEMKey: w.AuthKEMPub, AuthoritySigningKey: w.AuthSign.Public().(ed25519.PublicKey),
		PolicyID: w.Pol.ID, Court: "court-a", Jurisdiction: "A", CaseNumber: "2026-CR-7",
		LegalBasis: "s. 100a", Targets: []string{"alice"},
		WindowStart: w.Now - 10*Day, WindowEnd: w.Now + 20*Day, EmbargoEnd: w.Now + 100*Day,
		Issued: w.Now - Day, Expiry: w.Now + 30*Day,
	}
	if mod != nil {
		mod(wr)
	}
	if signer == nil {
		signer = w.F.Courts[wr.Court]
	}
	s, err := warrant.Sign(wr, signer)
	if err != nil {
		w.T.Fatal(err)
	}
	return s
}

// LogWarrant appends the warrant's commitment entry with a fresh salt and
// returns the salt and the entry's inclusion under a cosigned checkpoint.
func (w *World) LogWarrant(s *warrant.Signed) ([32]byte, trustee.Inclusion) {
	w.T.Helper()
	var salt [32]byte
	rand.Read(salt[:])
	v, err := warrant.Verify(s, w.Pol, w.Now)
	if err != nil {
		w.T.Fatal(err)
	}
	m := v.PublicMetadata(salt, w.Now)
	idx, b := w.AppendAwait((*accesslog.WarrantCommitment)(&m))
	return salt, w.Include(idx, b)
}
