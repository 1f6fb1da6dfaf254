package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/keydir/keydirtest"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

// kdServer is daylightd's pieces in-process with a key directory that
// publishes its trust (GET /keydir/v1/trust, as daylightd does) behind a
// handler the test can swap: what a provider that changes its behaviour
// after clients pinned it does.
type kdServer struct {
	url    string
	dir    *keydir.Directory
	log    *keydirtest.Log
	sk     ed25519.PrivateKey
	vrf    []byte
	trust  *kdclient.Trust
	config *kdclient.Config // trust.Config(): what a --keydir-trust file pins
	kd     atomic.Pointer[http.Handler]
}

func (s *kdServer) serve(h http.Handler) { s.kd.Store(&h) }

// honest serves s.dir with its published trust.
func (s *kdServer) honest() http.Handler {
	return kdhttp.WithTrust(kdhttp.Handler(s.dir, nil), s.trust.Marshal())
}

func startKDServer(t *testing.T, witnesses, threshold int) *kdServer {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "ds.db")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(64)), MaxBlobBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := &kdServer{vrf: keydir.NewVRFKey()}
	if s.log, err = keydirtest.NewLog("daylight.test/log", witnesses); err != nil {
		t.Fatal(err)
	}
	_, s.sk, _ = ed25519.GenerateKey(nil)
	if s.dir, err = keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: s.log, SigningKey: s.sk, VRFKey: s.vrf}); err != nil {
		t.Fatal(err)
	}
	lv, wv := s.log.VKeys()
	s.trust = &kdclient.Trust{Origin: s.log.Origin, LogVKey: lv, Witnesses: wv, Threshold: threshold,
		DirectoryKey: s.dir.SigningPublicKey(), VRFKey: s.dir.VRFPublicKey()}
	if s.config, err = s.trust.Config(); err != nil {
		t.Fatal(err)
	}
	s.serve(s.honest())
	kdh := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.kd.Load()).ServeHTTP(w, r) })
	srv, err := server.New(server.Config{Service: svc, PerIP: &server.Rate{}, PerAccount: &server.Rate{}, KeyDirHandler: kdh})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		svc.Close()
		st.Close()
	})
	s.url = hs.URL
	return s
}

func (s *kdServer) publish(t *testing.T) {
	t.Helper()
	if _, err := s.dir.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// tamper serves s.dir with every lookup's and history's checkpoint
// replaced by cp(): a server that rewrites what it answers.
func (s *kdServer) tamper(t *testing.T, cp func() []byte) http.Handler {
	inner := s.honest()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		switch {
		case rec.Code != http.StatusOK:
		case strings.HasPrefix(r.URL.Path, "/keydir/v1/lookup/"):
			resp, err := keydir.ParseLookupResponse(body)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Checkpoint = cp()
			body, _ = resp.Marshal()
		case strings.HasPrefix(r.URL.Path, "/keydir/v1/history/"):
			resp, err := keydir.ParseHistoryResponse(body)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Checkpoint = cp()
			body, _ = resp.Marshal()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// addGhost enrols a device on alice's DS account that no device of her
// account signed, with a KeyPackage: what a provider inserting a device does.
func addGhost(t *testing.T, url string, alice *Client) api.DeviceID {
	t.Helper()
	ctx := context.Background()
	_, ghostKey, _ := ed25519.GenerateKey(nil)
	tr, _ := transport.New(transport.Config{BaseURL: url})
	approval := transport.LinkApproval(alice.prof.SigningKey, "alice", alice.prof.DeviceID, "ghost", ghostKey.Public().(ed25519.PublicKey))
	ghost, err := tr.LinkDevice(ctx, "alice", "ghost", ghostKey, alice.prof.DeviceID, approval)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := group.NewKeyPackage(group.Config{Rand: io.MultiReader(bytes.NewReader(ghostKey.Seed()), rand.Reader)}, cipherSuite, ds.Identity("alice", ds.DeviceID(ghost.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.UploadKeyPackages(ctx, [][]byte{kp.Message}); err != nil {
		t.Fatal(err)
	}
	return ghost.ID
}

// TestKeyDirPinnedOnFirstContact: without a trust file, Register pins what
// the server publishes and says so with the fingerprint; the pins are in
// the sealed store (they survive reopening); a contact lookup is then fully
// verified; a ghost device on the contact's account is refused (bob's
// client does not encrypt to it); reset drops the pins and the next use
// pins again.
func TestKeyDirPinnedOnFirstContact(t *testing.T) {
	ctx := context.Background()
	s := startKDServer(t, 2, 2)
	home := t.TempDir()
	alice := open(t, s.url, filepath.Join(home, "alice"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	bob := open(t, s.url, filepath.Join(home, "bob"))
	id, err := bob.Register(ctx, "bob", "d")
	if err != nil {
		t.Fatal(err)
	}
	fp := s.trust.Fingerprint()
	if !strings.Contains(id.KeyDir, "pinned on first contact") || !strings.Contains(id.KeyDir, fp) || !strings.Contains(id.KeyDir, "2 of 2 witnesses") {
		t.Fatalf("registration did not report the pin: %q", id.KeyDir)
	}
	bob.Close()
	bob = open(t, s.url, filepath.Join(home, "bob"))
	info, err := bob.KeyDirTrust()
	if err != nil || info.Source != "pinned on first contact" || info.Fingerprint != fp || info.Threshold != 2 || len(info.Witnesses) != 2 {
		t.Fatalf("pins after reopening: %+v %v", info, err)
	}
	s.publish(t)
	ct, err := bob.AddContact(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct.KeyDir.Status, "verified (directory proofs checked") {
		t.Fatalf("default lookup not fully verified: %+v", ct.KeyDir)
	}
	ghost := addGhost(t, s.url, alice)
	res, err := bob.CreateGroup(ctx, "g", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || !slices.Equal(res.Refused, []api.DeviceID{ghost}) {
		t.Fatalf("group with a ghost device: added %+v refused %v", res.Added, res.Refused)
	}
	if _, err := bob.ResetKeyDirTrust(); err != nil {
		t.Fatal(err)
	}
	if info, _ := bob.KeyDirTrust(); info.Source != "none" {
		t.Fatalf("after reset: %+v", info)
	}
	if _, err := bob.Contacts(ctx); err != nil {
		t.Fatal(err)
	}
	if info, _ := bob.KeyDirTrust(); info.Fingerprint != fp || !strings.Contains(bob.KeyDirNotice(), fp) {
		t.Fatalf("not pinned again after reset: %+v", info)
	}
}

// TestKeyDirWaitsForUnpublishedContact: a user registered moments ago
// (not in a witnessed epoch yet) is waited for, not refused, when added to
// a group; the epoch closes meanwhile.
func TestKeyDirWaitsForUnpublishedContact(t *testing.T) {
	ctx := context.Background()
	s := startKDServer(t, 1, 1)
	home := t.TempDir()
	alice := open(t, s.url, filepath.Join(home, "alice"))
	bob := open(t, s.url, filepath.Join(home, "bob"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(700 * time.Millisecond)
		if _, err := s.dir.Publish(ctx); err != nil {
			t.Error(err)
		}
	}()
	res, err := alice.CreateGroup(ctx, "g", []string{"bob"})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || res.Added[0].Username != "bob" || len(res.Refused) != 0 {
		t.Fatalf("added %+v refused %v", res.Added, res.Refused)
	}
}

// TestAttackPinnedDirectoryKeySwap: after bob pinned the directory, the
// provider serves a directory signed by another key (re-publishing alice's
// genuine chain, and publishing the new key at /keydir/v1/trust). Bob's
// client refuses every answer, names the changed key, and adds nothing of
// alice to a group; after `trust reset` (the user compared the new
// fingerprint out of band) it accepts the new directory.
func TestAttackPinnedDirectoryKeySwap(t *testing.T) {
	ctx := context.Background()
	s := startKDServer(t, 2, 1)
	home := t.TempDir()
	alice := open(t, s.url, filepath.Join(home, "alice"))
	bob := open(t, s.url, filepath.Join(home, "bob"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	if ct, err := bob.AddContact(ctx, "alice"); err != nil || !strings.HasPrefix(ct.KeyDir.Status, "verified (directory") {
		t.Fatalf("before the swap: %+v %v", ct.KeyDir, err)
	}

	_, otherKey, _ := ed25519.GenerateKey(nil)
	evil, err := keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: s.log, SigningKey: otherKey, VRFKey: s.vrf})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		r, err := s.dir.Lookup(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if err := evil.Register(ctx, r.Records[0]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := evil.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	et := *s.trust
	et.DirectoryKey = otherKey.Public().(ed25519.PublicKey)
	s.serve(kdhttp.WithTrust(kdhttp.Handler(evil, nil), et.Marshal()))

	cts, err := bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := cts[0].KeyDir.Status; !strings.HasPrefix(st, "REFUSED") || !strings.Contains(st, "key directory key changed") || !strings.Contains(st, "daylight trust reset") {
		t.Fatalf("answer under a swapped directory key: %q", st)
	}
	if _, err := bob.CreateGroup(ctx, "g", []string{"alice"}); !errors.Is(err, ErrKeyDirPinChanged) || !errors.Is(err, kdclient.ErrUnverifiable) {
		t.Fatalf("group with alice under a swapped directory key: %v", err)
	}
	if _, err := alice.MonitorAccount(ctx); !errors.Is(err, ErrKeyDirPinChanged) {
		t.Fatalf("alice's monitor under a swapped directory key: %v", err)
	}
	if _, err := bob.ResetKeyDirTrust(); err != nil {
		t.Fatal(err)
	}
	cts, err = bob.Contacts(ctx)
	if err != nil || !strings.HasPrefix(cts[0].KeyDir.Status, "verified (directory") {
		t.Fatalf("after trust reset: %+v %v", cts, err)
	}
}

// TestAttackPinnedCheckpointBelowThreshold: the pins say 2 of 2 witnesses;
// the server answers lookups and histories with a checkpoint only one
// witness cosigned (genuine otherwise: same tree, same log key). Contacts'
// lookups and the owner's monitoring refuse it.
func TestAttackPinnedCheckpointBelowThreshold(t *testing.T) {
	ctx := context.Background()
	s := startKDServer(t, 2, 2)
	home := t.TempDir()
	alice := open(t, s.url, filepath.Join(home, "alice"))
	bob := open(t, s.url, filepath.Join(home, "bob"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	if as, err := alice.MonitorAccount(ctx); err != nil || len(as) != 0 {
		t.Fatalf("honest monitor: %v %+v", err, as)
	}
	one := func() []byte {
		cp, err := s.log.CheckpointWith(1)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	s.serve(s.tamper(t, one))
	s.publish(t)
	ct, err := bob.AddContact(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if st := ct.KeyDir.Status; !strings.HasPrefix(st, "REFUSED") || !strings.Contains(st, "1 witness cosignatures, policy needs 2") {
		t.Fatalf("checkpoint with 1 of 2 cosignatures: %q", st)
	}
	if _, err := bob.CreateGroup(ctx, "g", []string{"alice"}); !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("group under a checkpoint short of cosignatures: %v", err)
	}
	if _, err := alice.MonitorAccount(ctx); !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("monitor under a checkpoint short of cosignatures: %v", err)
	}
	s.serve(s.honest())
	if ct, err := bob.AddContact(ctx, "alice"); err != nil || !strings.HasPrefix(ct.KeyDir.Status, "verified (directory") {
		t.Fatalf("honest again: %+v %v", ct.KeyDir, err)
	}
}

// TestAttackPinnedSplitView: bob pinned the directory and alice's account.
// The provider then forks its log (same log key, same directory and VRF
// keys) and in the fork replaces alice's account with one it registered
// itself (a key swap for bob only). The real witnesses refuse to cosign the
// fork, so its checkpoints carry other witnesses' cosignatures: bob's
// lookups and alice's monitoring refuse the split view.
func TestAttackPinnedSplitView(t *testing.T) {
	ctx := context.Background()
	s := startKDServer(t, 2, 2)
	home := t.TempDir()
	alice := open(t, s.url, filepath.Join(home, "alice"))
	bob := open(t, s.url, filepath.Join(home, "bob"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	s.publish(t)
	if ct, err := bob.AddContact(ctx, "alice"); err != nil || !strings.HasPrefix(ct.KeyDir.Status, "verified (directory") {
		t.Fatalf("before the fork: %+v %v", ct.KeyDir, err)
	}
	if _, err := alice.MonitorAccount(ctx); err != nil {
		t.Fatal(err)
	}
	fork, err := s.log.Fork()
	if err != nil {
		t.Fatal(err)
	}
	forked, err := keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: fork, SigningKey: s.sk, VRFKey: s.vrf})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	fake, err := account.NewRegistration("alice", account.Device{ID: accountDeviceID(pub), SignatureKey: pub, KeyPackageKey: pub, Credential: []byte("x")}, priv, 1)
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := fake.Marshal()
	if err := forked.Register(ctx, fb); err != nil {
		t.Fatal(err)
	}
	if _, err := forked.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	s.serve(kdhttp.WithTrust(kdhttp.Handler(forked, nil), s.trust.Marshal()))
	cts, err := bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := cts[0].KeyDir.Status; !strings.HasPrefix(st, "REFUSED") || !strings.Contains(st, "policy needs 2") {
		t.Fatalf("forked view accepted: %q", st)
	}
	if _, err := bob.CreateGroup(ctx, "g", []string{"alice"}); !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("group under a forked view: %v", err)
	}
	if _, err := alice.MonitorAccount(ctx); !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("alice's monitor under a forked view: %v", err)
	}
	// A client that pins for the first time now pins the published trust,
	// which still names the real witnesses: it refuses the fork too.
	carol := open(t, s.url, filepath.Join(home, "carol"))
	if _, err := carol.Register(ctx, "carol", "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.CreateGroup(ctx, "g", []string{"alice"}); !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("first contact under a forked view: %v", err)
	}
}
