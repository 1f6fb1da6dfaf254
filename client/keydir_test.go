package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/mls/group"
)

// TestKeyDirectoryChainAndGhostDevice: registration publishes version 0;
// a device linked through ApproveCode is published (signed by the approver)
// on the approver's next sync; a contact sees the verified chain. A device
// the DS lists but no device of the account signed (here: linked at the DS
// only, as a provider inserting a device would) is reported as unsigned.
func TestKeyDirectoryChainAndGhostDevice(t *testing.T) {
	ctx := context.Background()
	url, dir, _ := startServerKD(t, true)
	home := t.TempDir()
	alice := open(t, url, filepath.Join(home, "alice"))
	bob := open(t, url, filepath.Join(home, "bob"))
	id, err := alice.Register(ctx, "alice", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.KeyDir, "published") {
		t.Fatalf("registration not published: %q", id.KeyDir)
	}
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	alice2 := open(t, url, filepath.Join(home, "alice2"))
	code, _ := alice2.BeginLink("phone")
	ap, err := alice.ApproveCode(code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice2.FinishLink(ctx, "alice", ap); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Sync(ctx); err != nil { // publishes the Add record
		t.Fatal(err)
	}
	if _, err := dir.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	ct, err := bob.AddContact(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct.KeyDir.Status, "verified chain") || ct.KeyDir.Version != 1 || len(ct.KeyDir.Unsigned) != 0 || len(ct.KeyDir.SafetyNumber) == 0 {
		t.Fatalf("key directory view of alice: %+v", ct.KeyDir)
	}
	// A device on the DS that no device of alice's account signed.
	_, ghostKey, _ := ed25519.GenerateKey(nil)
	tr, _ := transport.New(transport.Config{BaseURL: url})
	approval := transport.LinkApproval(alice.prof.SigningKey, "alice", alice.prof.DeviceID, "ghost", ghostKey.Public().(ed25519.PublicKey))
	ghost, err := tr.LinkDevice(ctx, "alice", "ghost", ghostKey, alice.prof.DeviceID, approval)
	if err != nil {
		t.Fatal(err)
	}
	own, err := alice.Devices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range own {
		want := "signed"
		if d.ID == ghost.ID {
			want = "UNSIGNED"
		}
		if d.KeyDir != want {
			t.Fatalf("own device %d (%s): keydir %q, want %q", d.ID, d.Name, d.KeyDir, want)
		}
	}
	cts, err := bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cts) != 1 || !slices.Equal(cts[0].KeyDir.Unsigned, []api.DeviceID{ghost.ID}) {
		t.Fatalf("ghost device not reported as unsigned: %+v", cts[0].KeyDir)
	}
}

// TestKeyDirectoryVerifiedLookup: with the directory pinned (KeyDirTrust),
// a contact lookup is verified by kdclient (witnessed checkpoint, epoch
// head, VRF, prefix proof, chain) and pinned; a device alice links later
// shows as a device change, not a safety-number change. A directory key
// other than the pinned one makes every answer refused.
func TestKeyDirectoryVerifiedLookup(t *testing.T) {
	for _, mode := range []string{"trust-file", "pinned"} {
		t.Run(mode, func(t *testing.T) { testKeyDirectoryVerifiedLookup(t, mode) })
	}
}

func testKeyDirectoryVerifiedLookup(t *testing.T, mode string) {
	ctx := context.Background()
	s := startKDServer(t, 1, 1)
	url, dir := s.url, s.dir
	var trust *kdclient.Config // pinned: bob pins what the server publishes at Register
	if mode == "trust-file" {
		trust = s.config
	}
	home := t.TempDir()
	alice := open(t, url, filepath.Join(home, "alice"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	bob, err := Open(Config{Home: filepath.Join(home, "bob"), Key: localstore.Key{Raw: key}, ServerURL: url, KeyPackages: 2, KeyDirTrust: trust})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Register(ctx, "bob", "d"); err != nil {
		t.Fatal(err)
	}
	if info, err := bob.KeyDirTrust(); err != nil || mode == "pinned" && info.Fingerprint != s.trust.Fingerprint() || mode == "trust-file" && info.Source != "file" {
		t.Fatalf("%s: pins %+v %v", mode, info, err)
	}
	if _, err := dir.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	ct, err := bob.AddContact(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct.KeyDir.Status, "verified (directory proofs checked") || ct.KeyDir.Version != 0 {
		t.Fatalf("first lookup: %+v", ct.KeyDir)
	}
	first := ct.KeyDir.SafetyNumber
	alice2 := open(t, url, filepath.Join(home, "alice2"))
	code, _ := alice2.BeginLink("phone")
	ap, _ := alice.ApproveCode(code)
	if _, err := alice2.FinishLink(ctx, "alice", ap); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	cts, err := bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kd := cts[0].KeyDir
	if !strings.Contains(kd.Status, "DevicesChanged") && !strings.Contains(kd.Status, "devices") || kd.Version != 1 || kd.SafetyNumber != first || len(kd.Unsigned) != 0 {
		t.Fatalf("after a link: %+v", kd)
	}
	// A ghost device on alice's account (DS only, in no signed version) is
	// left out when bob, who pins the directory, adds alice to a group.
	_, ghostKey, _ := ed25519.GenerateKey(nil)
	tr, _ := transport.New(transport.Config{BaseURL: url})
	approval := transport.LinkApproval(alice.prof.SigningKey, "alice", alice.prof.DeviceID, "ghost", ghostKey.Public().(ed25519.PublicKey))
	ghost, err := tr.LinkDevice(ctx, "alice", "ghost", ghostKey, alice.prof.DeviceID, approval)
	if err != nil {
		t.Fatal(err)
	}
	ghostKP, err := group.NewKeyPackage(group.Config{Rand: io.MultiReader(bytes.NewReader(ghostKey.Seed()), rand.Reader)}, cipherSuite, ds.Identity("alice", ds.DeviceID(ghost.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.UploadKeyPackages(ctx, [][]byte{ghostKP.Message}); err != nil {
		t.Fatal(err)
	}
	res, err := bob.CreateGroup(ctx, "g", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 2 || !slices.Equal(res.Refused, []api.DeviceID{ghost.ID}) {
		t.Fatalf("group with a ghost device: added %+v refused %v", res.Added, res.Refused)
	}
	// A client pinning another directory key refuses every answer.
	bad := *s.config
	other, _, _ := ed25519.GenerateKey(nil)
	bad.DirectoryKey = other
	bob.cfg.KeyDirTrust = &bad
	cts, err = bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cts[0].KeyDir.Status, "REFUSED") {
		t.Fatalf("answer under another directory key accepted: %+v", cts[0].KeyDir)
	}
}

// TestOwnAccountMonitorFlagsUnknownDevice: alice's laptop monitors her
// account in the pinned directory. A device she linked from the laptop is
// known; a device added by another of her devices (what a stolen phone, or
// a provider holding a device key, would do) is an "unknown device" alert on
// the laptop, and none on the phone that approved it.
func TestOwnAccountMonitorFlagsUnknownDevice(t *testing.T) {
	for _, mode := range []string{"trust-file", "pinned"} {
		t.Run(mode, func(t *testing.T) { testOwnAccountMonitorFlagsUnknownDevice(t, mode) })
	}
}

func testOwnAccountMonitorFlagsUnknownDevice(t *testing.T, mode string) {
	ctx := context.Background()
	s := startKDServer(t, 1, 1)
	url, dir := s.url, s.dir
	var trust *kdclient.Config
	if mode == "trust-file" {
		trust = s.config
	}
	home := t.TempDir()
	openTrusting := func(name string) *Client {
		c, err := Open(Config{Home: filepath.Join(home, name), Key: localstore.Key{Raw: make([]byte, 32)}, ServerURL: url, KeyPackages: 2, KeyDirTrust: trust})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	laptop, phone, tablet := openTrusting("laptop"), openTrusting("phone"), openTrusting("tablet")
	if _, err := laptop.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if as, err := laptop.MonitorAccount(ctx); err != nil || len(as) != 0 {
		t.Fatalf("fresh account: %v %+v", err, as)
	}
	link := func(approver, newDev *Client, name string) {
		code, _ := newDev.BeginLink(name)
		ap, err := approver.ApproveCode(code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newDev.FinishLink(ctx, "alice", ap); err != nil {
			t.Fatal(err)
		}
		if _, err := approver.Sync(ctx); err != nil { // publishes the Add record
			t.Fatal(err)
		}
		if _, err := dir.Publish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	link(laptop, phone, "phone")
	if as, err := laptop.MonitorAccount(ctx); err != nil || len(as) != 0 {
		t.Fatalf("after approving the phone: %v %+v", err, as)
	}
	if n := len(laptop.prof.Monitor.Records); n != 2 {
		t.Fatalf("monitor holds %d versions, want 2 (the next sync asks only for newer ones)", n)
	}
	link(phone, tablet, "tablet")
	as, err := laptop.MonitorAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Kind != "unknown device" {
		t.Fatalf("laptop's alerts after the phone added a tablet: %+v", as)
	}
	if as, err := phone.MonitorAccount(ctx); err != nil || len(as) != 0 {
		t.Fatalf("phone (the approver) alerts: %v %+v", err, as)
	}
}
