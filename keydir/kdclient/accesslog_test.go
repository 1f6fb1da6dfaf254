package kdclient_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/witness"
	"golang.org/x/mod/sumdb/note"
)

// TestWithAccessLog runs the directory on the real access log (tessera POSIX
// storage, two tlog-witness witnesses, 2-of-2): heads land as KeyDirectory
// entries, lookups verify against the witnessed checkpoint with the access
// log's own policy, and an auditor reading the tiles accepts the heads.
func TestWithAccessLog(t *testing.T) {
	ctx := context.Background()
	const logOrigin = "daylight.test/keydir-log"
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, logOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	lv, _ := note.NewVerifier(vkey)
	var ws []tlog.Witness
	var wkeys []string
	for i := range 2 {
		wdir := t.TempDir()
		s, wv, err := witness.LoadOrCreateKey(filepath.Join(wdir, "key"), fmt.Sprintf("witness.test/kd%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := witness.New(witness.Config{Signer: s, Logs: []witness.Log{{Origin: logOrigin, Verifier: lv}}, Store: witness.FileStore{Dir: wdir}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w.Handler())
		t.Cleanup(srv.Close)
		ws, wkeys = append(ws, tlog.Witness{URL: srv.URL, VKey: wv}), append(wkeys, wv)
	}
	l, err := tlog.Open(ctx, tlog.Config{Dir: dir, Origin: logOrigin, Signer: signer, Witnesses: ws, WitnessThreshold: 2,
		CheckpointInterval: 100 * time.Millisecond, BatchMaxAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		l.Close(c)
	})
	policy, err := accesslog.NewCheckpointPolicy(logOrigin, vkey, wkeys, 2)
	if err != nil {
		t.Fatal(err)
	}
	tiles, err := tlog.NewClient(dir, policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, sk, _ := ed25519.GenerateKey(rand.Reader)
	d, err := keydir.New(ctx, keydir.Config{Store: keydir.NewMemStore(), Log: &keydir.AccessLog{Log: l, Proofs: tiles, Policy: policy},
		SigningKey: sk, VRFKey: keydir.NewVRFKey()})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dev := account.Device{ID: account.DeviceID{1}, SignatureKey: pub, Credential: []byte("c"), KeyPackageKey: pub}
	r, _ := account.NewRegistration("alice", dev, priv, 1)
	enc, _ := r.Marshal()
	if err := d.Register(ctx, enc); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(ctx, "alice"); err == nil {
		t.Fatal("lookup before any witnessed epoch")
	}
	if _, err := d.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	// Wait until a witnessed checkpoint covers the head.
	if _, err := l.Await(ctx, 0); err != nil {
		t.Fatal(err)
	}
	resp, err := d.Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	cfg := kdclient.Config{DirectoryKey: sk.Public().(ed25519.PublicKey), VRFKey: d.VRFPublicKey(), Checkpoints: kdclient.AccessLogPolicy{Policy: policy}}
	ct, err := kdclient.NewClient(cfg).Lookup(resp)
	if err != nil {
		t.Fatal(err)
	}
	if ct.State.Devices[0].ID != dev.ID {
		t.Fatal("wrong device")
	}
	cp, err := tiles.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	aud := kdclient.NewAuditor(cfg)
	n := 0
	if err := tiles.Entries(ctx, cp, func(_ uint64, e []byte) error { n++; return aud.Add(e) }); err != nil {
		t.Fatal(err)
	}
	if _, ok := aud.Head(1); !ok || n != 1 {
		t.Fatalf("auditor saw %d entries, head 1 present: %v", n, ok)
	}
}
