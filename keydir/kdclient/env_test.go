package kdclient_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/keydir/keydirtest"
)

// env is a directory served over real HTTP, with its witnessed test log.
type env struct {
	t       *testing.T
	log     *keydirtest.Log
	store   *keydir.MemStore
	dir     *keydir.Directory
	sigKey  ed25519.PrivateKey
	vrfKey  []byte
	srv     *httptest.Server
	http    *kdhttp.Client
	cfg     kdclient.Config
	now     time.Time
	service kdhttp.Service // what the handler serves; tests may wrap it
}

const origin = "daylight.test/log"

func newEnv(t *testing.T) *env {
	t.Helper()
	l, err := keydirtest.NewLog(origin, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	e := &env{t: t, log: l, store: keydir.NewMemStore(), sigKey: sk, vrfKey: keydir.NewVRFKey(), now: time.Unix(1_800_000_000, 0)}
	e.dir = e.newDirectory(e.store, l)
	e.service = e.dir
	// The handler calls through e.service so a test can swap in a
	// misbehaving provider after setup.
	e.srv = httptest.NewServer(kdhttp.Handler(serviceFunc{e}, nil))
	t.Cleanup(e.srv.Close)
	e.http = &kdhttp.Client{BaseURL: e.srv.URL, HTTP: e.srv.Client()}
	lv, wv := l.Verifiers()
	e.cfg = kdclient.Config{
		DirectoryKey: sk.Public().(ed25519.PublicKey),
		VRFKey:       e.dir.VRFPublicKey(),
		Checkpoints:  &kdclient.WitnessPolicy{Origin: origin, Log: lv, Witnesses: wv, Threshold: 2},
	}
	return e
}

func (e *env) newDirectory(s keydir.Store, l keydir.Log) *keydir.Directory {
	e.t.Helper()
	d, err := keydir.New(context.Background(), keydir.Config{Store: s, Log: l, SigningKey: e.sigKey, VRFKey: e.vrfKey,
		Clock: func() time.Time { return e.now }})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

type serviceFunc struct{ e *env }

func (s serviceFunc) Register(ctx context.Context, r []byte) error {
	return s.e.service.Register(ctx, r)
}
func (s serviceFunc) ApplyChange(ctx context.Context, r []byte) error {
	return s.e.service.ApplyChange(ctx, r)
}
func (s serviceFunc) Lookup(ctx context.Context, u string) (*keydir.LookupResponse, error) {
	return s.e.service.Lookup(ctx, u)
}
func (s serviceFunc) History(ctx context.Context, u string, since uint64) (*keydir.HistoryResponse, error) {
	return s.e.service.History(ctx, u, since)
}

type device struct {
	d    account.Device
	priv ed25519.PrivateKey
}

func newDevice(t *testing.T, id byte) device {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kp, _, _ := ed25519.GenerateKey(rand.Reader)
	return device{account.Device{ID: account.DeviceID{id}, SignatureKey: pub, Credential: append([]byte{0, 1}, pub[:8]...), KeyPackageKey: kp, AddedAt: 1_800_000_000}, priv}
}

// user is one person's devices plus the client state of their first device.
type user struct {
	name    string
	devs    []device
	state   *account.State
	client  *kdclient.Client
	monitor *kdclient.Monitor
}

func (e *env) register(name string) *user {
	e.t.Helper()
	d := newDevice(e.t, 1)
	r, err := account.NewRegistration(name, d.d, d.priv, uint64(e.now.Unix()))
	if err != nil {
		e.t.Fatal(err)
	}
	enc, _ := r.Marshal()
	if err := e.http.Register(context.Background(), enc); err != nil {
		e.t.Fatal(err)
	}
	st, _ := account.Genesis(r)
	return &user{name: name, devs: []device{d}, state: st, client: kdclient.NewClient(e.cfg), monitor: kdclient.NewMonitor(name, d.d)}
}

// addDevice adds a device to u, signed by u's first device, and approves it.
func (e *env) addDevice(u *user, id byte) device {
	e.t.Helper()
	d := newDevice(e.t, id)
	r, err := u.state.NewAdd(d.d, u.devs[0].d.ID, u.devs[0].priv, uint64(e.now.Unix()))
	if err != nil {
		e.t.Fatal(err)
	}
	enc, _ := r.Marshal()
	if err := e.http.ApplyChange(context.Background(), enc); err != nil {
		e.t.Fatal(err)
	}
	if u.state, err = u.state.Apply(r); err != nil {
		e.t.Fatal(err)
	}
	u.devs = append(u.devs, d)
	u.monitor.Approve(d.d)
	return d
}

func (e *env) publish() keydir.EpochHead {
	e.t.Helper()
	e.now = e.now.Add(time.Hour)
	h, err := e.dir.Publish(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) lookup(c *kdclient.Client, name string) (*kdclient.Contact, error) {
	e.t.Helper()
	r, err := e.http.Lookup(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Lookup(r)
}

func (e *env) sync(u *user) []kdclient.Alert {
	e.t.Helper()
	r, err := e.http.History(context.Background(), u.name, u.monitor.Epoch)
	if err != nil {
		e.t.Fatal(err)
	}
	alerts, err := u.client.Sync(u.monitor, r)
	if err != nil {
		e.t.Fatalf("sync %s: %v", u.name, err)
	}
	return alerts
}

func hasAlert(as []kdclient.Alert, k kdclient.AlertKind) bool {
	for _, a := range as {
		if a.Kind == k {
			return true
		}
	}
	return false
}

func (s serviceFunc) HistoryFrom(ctx context.Context, u string, since, from uint64) (*keydir.HistoryResponse, error) {
	hf, ok := s.e.service.(interface {
		HistoryFrom(context.Context, string, uint64, uint64) (*keydir.HistoryResponse, error)
	})
	if !ok {
		return nil, keydir.ErrNotFound
	}
	return hf.HistoryFrom(ctx, u, since, from)
}
