package moderation_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/moderation/sqlitestore"
	"github.com/daylight-im/daylight/store/sqlite"
)

const cs = suite.X25519AES128GCMSHA256Ed25519

// world is a delivery service on SQLite with the real MLS validator and the
// provider's franking stamper, a moderation service, and users who are real
// MLS clients that frank their messages.
type world struct {
	t         *testing.T
	ctx       context.Context
	ds        *ds.Service
	stamper   *franking.Stamper
	mod       *moderation.Service
	store     moderation.Store
	log       *evidenceLog
	exportKey ed25519.PrivateKey
	srv       *httptest.Server
	users     map[string]*user
}

type user struct {
	name   string
	seed   []byte
	p      ds.Principal
	token  string
	kp     *group.KeyPackageBundle
	groups map[string]*group.Group // by group id
	cursor uint64
	inbox  []received
}

// received is a message a recipient accepted (its commitment opened) and kept
// for a later report.
type received struct {
	group  []byte
	sender franking.Sender
	text   string
	report franking.Report
}

// evidenceLog records access-log entries (stands in for accesslog/tlog.Log).
type evidenceLog struct {
	mu      sync.Mutex
	entries []accesslog.Entry
}

func (l *evidenceLog) Append(_ context.Context, e accesslog.Entry) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return uint64(len(l.entries) - 1), nil
}

func newWorld(t *testing.T, sqliteModeration bool) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "daylight.db")})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, franking.KeySize)
	rand.Read(key)
	stamper, err := franking.NewStamper(key)
	if err != nil {
		t.Fatal(err)
	}
	var ms moderation.Store = moderation.NewMemStore()
	if sqliteModeration {
		if ms, err = sqlitestore.Open(ctx, filepath.Join(dir, "moderation.db")); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, ctx: ctx, stamper: stamper, store: ms, log: &evidenceLog{}, users: map[string]*user{}}
	_, w.exportKey, _ = ed25519.GenerateKey(rand.Reader)
	// The DS consults the moderation service for suspensions; the moderation
	// service needs the DS to authenticate reporters: tie the knot through a
	// small forwarding type.
	fwd := &suspensions{}
	w.ds, err = ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(0)),
		Franking: ds.Franking{Stamper: stamper, Suspensions: fwd}})
	if err != nil {
		t.Fatal(err)
	}
	w.mod, err = moderation.New(moderation.Config{DS: w.ds, Stamper: stamper, Store: ms, Evidence: w.log,
		ExportKey: w.exportKey, Jurisdiction: "EU", ReportsPerHour: 50})
	if err != nil {
		t.Fatal(err)
	}
	fwd.s = w.mod
	mux := http.NewServeMux()
	mux.Handle(moderation.RouteReport, w.mod.Intake())
	mux.Handle(moderation.ConsolePath, w.mod.Console())
	w.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		w.srv.Close()
		w.ds.Close()
		st.Close()
		ms.Close()
	})
	return w
}

type suspensions struct{ s *moderation.Service }

func (f *suspensions) Suspended(ctx context.Context, u string) (bool, error) {
	return f.s.Suspended(ctx, u)
}

// seeded yields seed first: mls/group draws a new leaf's signature seed first,
// so the leaf key is the device key the DS registered.
func seeded(seed []byte) io.Reader { return io.MultiReader(bytes.NewReader(seed), rand.Reader) }

func (w *world) register(name string) *user {
	t := w.t
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	d, err := w.ds.Register(w.ctx, ds.RegisterRequest{Username: name, DeviceName: "phone", SigningKey: pub,
		Signature: ed25519.Sign(key, ds.RegisterStatement(name, "phone", pub))})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	ch, err := w.ds.Challenge(w.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := w.ds.Authenticate(w.ctx, d.ID, ch.Nonce, ed25519.Sign(key, ds.AuthStatement(d.ID, ch.Nonce)))
	if err != nil {
		t.Fatal(err)
	}
	u := &user{name: name, seed: seed, p: ds.Principal{Username: name, Device: d.ID}, token: tok.Value, groups: map[string]*group.Group{}}
	u.kp, err = group.NewKeyPackage(group.Config{Rand: seeded(seed)}, cs, ds.Identity(name, d.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ds.UploadKeyPackages(w.ctx, u.p, [][]byte{u.kp.Message}); err != nil {
		t.Fatal(err)
	}
	w.users[name] = u
	return u
}

// newGroup: creator makes a group with the members (each joins by Welcome).
func (w *world) newGroup(id string, creator *user, members ...*user) {
	t := w.t
	g, err := group.Create(group.Config{Rand: seeded(creator.seed)}, cs, []byte(id), ds.Identity(creator.name, creator.p.Device))
	if err != nil {
		t.Fatal(err)
	}
	gi, _, err := g.GroupInfo(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ds.CreateGroup(w.ctx, creator.p, gi); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	var specs []group.ProposalSpec
	for _, m := range members {
		kps, err := w.ds.ClaimKeyPackages(w.ctx, creator.p, m.name)
		if err != nil || len(kps) != 1 {
			t.Fatalf("claim %s: %v", m.name, err)
		}
		specs = append(specs, group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: kps[0].Data})
	}
	res, err := g.Commit(group.CommitOptions{ByValue: specs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ds.Send(w.ctx, creator.p, res.Commit, res.Welcome); err != nil {
		t.Fatalf("add commit: %v", err)
	}
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	creator.groups[id] = g
	for _, m := range members {
		page, err := w.ds.Fetch(w.ctx, m.p, m.cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		var joined bool
		for _, d := range page.Deliveries {
			if d.Kind == ds.KindWelcome && string(d.GroupID) == id {
				mg, err := group.Join(group.Config{}, m.kp, d.Data, nil)
				if err != nil {
					t.Fatalf("%s joins %s: %v", m.name, id, err)
				}
				m.groups[id] = mg
				joined = true
			}
		}
		if !joined {
			t.Fatalf("%s got no Welcome to %s", m.name, id)
		}
		m.cursor = page.Cursor
		// A Welcome consumes the KeyPackage: publish a new one.
		m.kp, err = group.NewKeyPackage(group.Config{Rand: seeded(m.seed)}, cs, ds.Identity(m.name, m.p.Device))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.ds.UploadKeyPackages(w.ctx, m.p, [][]byte{m.kp.Message}); err != nil {
			t.Fatal(err)
		}
	}
}

// send franks and sends text to the group (franking.Protect, the commitment
// in authenticated_data).
func (w *world) send(u *user, gid, text string) error {
	content, c, err := franking.Protect(rand.Reader, []byte(gid), ds.StampSender(u.p), []byte(text))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.sendRaw(u, gid, content, c[:])
}

func (w *world) sendRaw(u *user, gid string, content, aad []byte) error {
	msg, err := u.groups[gid].Protect(aad, content)
	if err != nil {
		w.t.Fatal(err)
	}
	_, err = w.ds.Send(w.ctx, u.p, msg, nil)
	return err
}

// receive is an honest franking client: it decrypts each application message,
// opens the commitment for the MLS-authenticated sender (dropping the message
// if it does not open), checks the stamp names it, and keeps the report
// material. It returns the number of messages dropped.
func (w *world) receive(u *user) (dropped int) {
	t := w.t
	page, err := w.ds.Fetch(w.ctx, u.p, u.cursor, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range page.Deliveries {
		if d.Kind != ds.KindApplication {
			continue
		}
		g := u.groups[string(d.GroupID)]
		r, err := g.Process(d.Data)
		if err != nil {
			t.Fatalf("%s processes: %v", u.name, err)
		}
		acct, dev, err := ds.ParseIdentity(g.Members()[r.Sender])
		if err != nil {
			t.Fatal(err)
		}
		sender := ds.StampSender(ds.Principal{Username: acct, Device: dev})
		if len(r.AuthenticatedData) != franking.CommitmentSize {
			dropped++
			continue
		}
		c := franking.Commitment(r.AuthenticatedData)
		pt, key, err := franking.Unprotect(r.ApplicationData, c, d.GroupID, sender)
		if err != nil {
			dropped++
			continue
		}
		st, err := franking.ParseStamp(d.Stamp)
		if err != nil {
			t.Fatalf("%s: delivery without a valid stamp: %v", u.name, err)
		}
		if err := st.Matches(c, d.GroupID, sender); err != nil {
			t.Fatalf("%s: stamp does not match the message: %v", u.name, err)
		}
		u.inbox = append(u.inbox, received{group: d.GroupID, sender: sender, text: string(pt),
			report: franking.Report{Plaintext: pt, Key: key, Stamp: *st}})
	}
	u.cursor = page.Cursor
	if err := w.ds.Ack(w.ctx, u.p, page.Cursor); err != nil {
		t.Fatal(err)
	}
	return dropped
}

func (u *user) find(text string) received {
	for _, r := range u.inbox {
		if r.text == text {
			return r
		}
	}
	panic("no message " + text + " in " + u.name + "'s inbox")
}

func marshal(t *testing.T, r franking.Report) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postReport sends a report over HTTP with the reporter's token and returns
// the status and the decoded body.
func (w *world) postReport(u *user, req moderation.ReportRequest) (int, map[string]any) {
	body, _ := json.Marshal(req)
	return w.post(u.token, "application/json", body)
}

func (w *world) post(token, ctype string, body []byte) (int, map[string]any) {
	hr, _ := http.NewRequest("POST", w.srv.URL+"/v1/reports", bytes.NewReader(body))
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	hr.Header.Set("Content-Type", ctype)
	resp, err := w.srv.Client().Do(hr)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// demo sets up mallory, bob and carol in group "family" and "work", mallory
// sending franked messages to both.
func (w *world) demo() (mallory, bob, carol *user) {
	mallory, bob, carol = w.register("mallory"), w.register("bob"), w.register("carol")
	w.newGroup("family", mallory, bob, carol)
	w.newGroup("work", mallory, bob)
	for _, m := range []struct{ g, text string }{
		{"family", "hello everyone"}, {"family", "send me your bank password or else"},
		{"work", "send me your bank password or else"}, {"family", "just kidding?"},
	} {
		if err := w.send(mallory, m.g, m.text); err != nil {
			w.t.Fatalf("send %q: %v", m.text, err)
		}
	}
	if err := w.send(carol, "family", "please stop"); err != nil {
		w.t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		if n := w.receive(u); n != 0 {
			w.t.Fatalf("%s dropped %d honest messages", u.name, n)
		}
	}
	return mallory, bob, carol
}
