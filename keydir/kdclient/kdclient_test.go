package kdclient_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

// TestLookupAndMonitorHonest runs the honest path over HTTP: registration,
// lookups with TOFU pins, device additions and revocations shown as device
// changes, absence proofs, and clean monitoring.
func TestLookupAndMonitorHonest(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	if _, err := e.http.Lookup(context.Background(), "alice"); err == nil {
		t.Fatal("lookup served before any witnessed epoch")
	}
	e.publish()
	ct, err := e.lookup(bob.client, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ct.Change != kdclient.FirstSeen || len(ct.State.Devices) != 1 || ct.SafetyNumber() != alice.state.SafetyNumber() {
		t.Fatalf("first lookup: %v, %d devices", ct.Change, len(ct.State.Devices))
	}
	if _, err := e.lookup(bob.client, "carol"); !errors.Is(err, kdclient.ErrNotRegistered) {
		t.Fatalf("unknown user: %v", err)
	}
	laptop := e.addDevice(alice, 2)
	e.publish()
	e.publish() // an epoch with no change
	ct, err = e.lookup(bob.client, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ct.Change != kdclient.DevicesChanged || len(ct.Added) != 1 || ct.Added[0].ID != laptop.d.ID {
		t.Fatalf("after add: %v, added %d", ct.Change, len(ct.Added))
	}
	devs, err := ct.EncryptionDevices()
	if err != nil || len(devs) != 2 {
		t.Fatalf("encryption devices: %d, %v", len(devs), err)
	}
	if _, err := ct.CheckKeyPackage(laptop.d.KeyPackageKey, laptop.d.Credential); err != nil {
		t.Fatalf("genuine key package refused: %v", err)
	}
	// Revoke the laptop, signed by the laptop itself.
	r, _ := alice.state.NewRevoke(laptop.d.ID, laptop.d.ID, laptop.priv, uint64(e.now.Unix()))
	enc, _ := r.Marshal()
	if err := e.http.ApplyChange(context.Background(), enc); err != nil {
		t.Fatal(err)
	}
	alice.state, _ = alice.state.Apply(r)
	e.publish()
	ct, err = e.lookup(bob.client, "alice")
	if err != nil || ct.Change != kdclient.DevicesChanged || len(ct.Removed) != 1 {
		t.Fatalf("after revoke: %v, %v", ct, err)
	}
	if _, err := ct.CheckKeyPackage(laptop.d.KeyPackageKey, nil); !errors.Is(err, kdclient.ErrUnverifiedDevice) {
		t.Fatalf("revoked device's key package: %v", err)
	}
	if alerts := e.sync(alice); len(alerts) != 0 {
		t.Fatalf("honest history raised alerts: %v", alerts)
	}
	if alice.monitor.Epoch != 4 || alice.monitor.Version != 2 {
		t.Fatalf("monitor at epoch %d version %d", alice.monitor.Epoch, alice.monitor.Version)
	}
	if alerts := e.sync(alice); len(alerts) != 0 {
		t.Fatalf("empty sync raised alerts: %v", alerts)
	}
	// Bad submissions are refused by the directory.
	if err := e.http.ApplyChange(context.Background(), enc); err == nil {
		t.Fatal("replayed change accepted")
	}
	r0, _ := account.NewRegistration("alice", laptop.d, laptop.priv, 1)
	enc0, _ := r0.Marshal()
	if err := e.http.Register(context.Background(), enc0); err == nil {
		t.Fatal("second registration of alice accepted")
	}
}

// TestAttackGhostDevice (T13): the provider adds a device to alice's account
// without a signature by any of alice's devices. Alice's client detects it on
// its next sync; bob's client refuses the lookup, so nothing is encrypted to
// the ghost, and a ghost KeyPackage is refused against the last verified view.
func TestAttackGhostDevice(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.publish()
	before, err := e.lookup(bob.client, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if alerts := e.sync(alice); len(alerts) != 0 {
		t.Fatalf("alerts before the attack: %v", alerts)
	}

	// The provider writes a forged version straight into its store, past
	// the directory's checks: it claims alice's phone signed it.
	ghost := newDevice(t, 66)
	forged, _ := alice.state.NewAdd(ghost.d, alice.devs[0].d.ID, ghost.priv, uint64(e.now.Unix()))
	enc, _ := forged.Marshal()
	h, _ := forged.Hash()
	var opening [32]byte
	opening[0] = 1
	label := e.dir.Label("alice")
	if err := e.store.AppendVersion(context.Background(), label, 1, keydir.StoredVersion{Record: enc, Opening: opening}, keydir.Commitment(opening, h)); err != nil {
		t.Fatal(err)
	}
	e.publish()

	alerts := e.sync(alice)
	if !hasAlert(alerts, kdclient.AlertUnsignedVersion) {
		t.Fatalf("alice's client did not detect the ghost device: %v", alerts)
	}
	if _, err := e.lookup(bob.client, "alice"); !errors.Is(err, kdclient.ErrUnverifiable) {
		t.Fatalf("bob accepted alice's account with a ghost device: %v", err)
	}
	// The DS hands bob a KeyPackage of the ghost: refused against the
	// verified view.
	if _, err := before.CheckKeyPackage(ghost.d.KeyPackageKey, ghost.d.Credential); !errors.Is(err, kdclient.ErrUnverifiedDevice) {
		t.Fatalf("bob would encrypt to the ghost: %v", err)
	}
}

// TestAttackGhostDeviceForkedAccount (T13): the provider replaces alice's
// chain with one it registered itself (its own device, self-signed). Bob, who
// pinned alice, sees a safety-number change and refuses to encrypt until he
// accepts it; alice's client sees its history forked and an unknown device.
func TestAttackGhostDeviceForkedAccount(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.publish()
	if _, err := e.lookup(bob.client, "alice"); err != nil {
		t.Fatal(err)
	}
	e.sync(alice)

	ghost := newDevice(t, 66)
	fake, _ := account.NewRegistration("alice", ghost.d, ghost.priv, uint64(e.now.Unix()))
	enc, _ := fake.Marshal()
	evil := &forkStore{Store: e.store, label: e.dir.Label("alice"), fork: []keydir.StoredVersion{{Record: enc, Opening: [32]byte{9}}}}
	e.dir = e.newDirectoryFrom(evil)
	e.service = e.dir
	h, _ := fake.Hash()
	evil.pending = []keydirPendingEntry{{Label: evil.label, Value: keydir.Commitment([32]byte{9}, h)}}
	e.publish()

	ct, err := e.lookup(bob.client, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ct.Change != kdclient.SafetyNumberChanged {
		t.Fatalf("bob saw %v, want a safety-number change", ct.Change)
	}
	if _, err := ct.EncryptionDevices(); !errors.Is(err, kdclient.ErrKeyChangePending) {
		t.Fatalf("bob would encrypt to the swapped account: %v", err)
	}
	alerts := e.sync(alice)
	if !hasAlert(alerts, kdclient.AlertForkedHistory) || !hasAlert(alerts, kdclient.AlertUnknownDevice) {
		t.Fatalf("alice's client missed the fork: %v", alerts)
	}
}

// TestAttackKeySwap: the provider serves bob a different key for alice than
// the log holds. Whether it swaps the records under the genuine proofs, or
// serves a shadow tree under a fork of the log (which the real witnesses do
// not cosign), bob refuses.
func TestAttackKeySwap(t *testing.T) {
	e := newEnv(t)
	e.register("alice")
	bob := e.register("bob")
	e.publish()
	mallory := newDevice(t, 1)
	fake, _ := account.NewRegistration("alice", mallory.d, mallory.priv, uint64(e.now.Unix()))
	fakeEnc, _ := fake.Marshal()

	// 1. Same proofs, swapped records.
	e.service = &swapRecords{Service: e.dir, user: "alice", records: [][]byte{fakeEnc}}
	if _, err := e.lookup(bob.client, "alice"); !errors.Is(err, kdclient.ErrUnverifiable) {
		t.Fatalf("swapped records accepted: %v", err)
	}

	// 2. A shadow directory with alice's key swapped, its head appended to a
	// fork of the log that the log key signs but the witnesses did not see.
	forked, err := e.log.Fork()
	if err != nil {
		t.Fatal(err)
	}
	shadowStore := keydir.NewMemStore()
	shadow := e.newDirectory(shadowStore, forked)
	if err := shadow.Register(context.Background(), fakeEnc); err != nil {
		t.Fatal(err)
	}
	if _, err := shadow.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.service = shadow
	if _, err := e.lookup(bob.client, "alice"); !errors.Is(err, kdclient.ErrUnverifiable) || !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("shadow tree on a forked log accepted: %v", err)
	}

	// 3. A stale or forged head: a genuine checkpoint, but an inclusion
	// proof for a head that is not at that index.
	unlogged := keydir.EpochHead{Epoch: 1, Root: [32]byte{1}, Time: uint64(e.now.Unix())}
	unlogged.Sign(e.sigKey) // the directory signs a head it never logs
	e.service = &swapHead{Service: e.dir, entry: keydir.MarshalHeadEntry(unlogged)}
	if _, err := e.lookup(bob.client, "alice"); !errors.Is(err, kdclient.ErrUnverifiable) {
		t.Fatalf("forged head accepted: %v", err)
	}

	e.service = e.dir
	if ct, err := e.lookup(bob.client, "alice"); err != nil || ct.Change != kdclient.FirstSeen {
		t.Fatalf("honest lookup after the attempts: %v", err)
	}
}

// TestAttackSplitViewDirectory: the provider signs two different roots for
// the same epoch and shows one to bob and the other to alice. If it logs
// both, an auditor reading the log finds two heads for one epoch; whenever
// two clients' roots meet (gossip, or monitoring), the client finds the
// conflict. If it logs only one, the other fails inclusion (TestAttackKeySwap).
func TestAttackSplitViewDirectory(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.publish()
	// The shadow shares the genuine (witnessed) log and the directory keys.
	mallory := newDevice(t, 1)
	fake, _ := account.NewRegistration("alice", mallory.d, mallory.priv, uint64(e.now.Unix()))
	fakeEnc, _ := fake.Marshal()
	shadowStore := keydir.NewMemStore()
	shadow := e.newDirectory(shadowStore, e.log)
	bobReg, _ := e.store.Versions(context.Background(), e.dir.Label("bob"))
	if err := shadow.Register(context.Background(), fakeEnc); err != nil {
		t.Fatal(err)
	}
	if err := shadow.Register(context.Background(), bobReg[0].Record); err != nil {
		t.Fatal(err)
	}
	if _, err := shadow.Publish(context.Background()); err != nil { // epoch 1 again, a different root
		t.Fatal(err)
	}
	e.service = shadow
	ct, err := e.lookup(bob.client, "alice")
	if err != nil {
		t.Fatalf("bob's view: %v", err)
	}
	if bytes.Equal(ct.State.Devices[0].SignatureKey, alice.devs[0].d.SignatureKey) {
		t.Fatal("the shadow did not swap alice's key")
	}
	e.service = e.dir
	if alerts := e.sync(alice); len(alerts) != 0 {
		t.Fatalf("alice's own view is consistent: %v", alerts)
	}

	// The log holds both heads for epoch 1: an auditor finds it.
	aud := kdclient.NewAuditor(e.cfg)
	var auditErr error
	for _, entry := range e.log.Entries() {
		if auditErr = aud.Add(entry); auditErr != nil {
			break
		}
	}
	if !errors.Is(auditErr, kdclient.ErrSplitView) {
		t.Fatalf("auditor missed the split view: %v", auditErr)
	}
	// Alice's and bob's clients exchange roots (gossip): both detect it.
	var conflict bool
	for ep, root := range alice.client.Roots() {
		if err := bob.client.NoteRoot(keydir.EpochHead{Epoch: ep, Root: root}); errors.Is(err, kdclient.ErrSplitView) {
			conflict = true
		}
	}
	if !conflict {
		t.Fatal("bob's client did not detect the split view from alice's roots")
	}
	// And bob's client, once it has seen the genuine root, refuses the shadow.
	e.service = shadow
	if _, err := e.lookup(bob.client, "alice"); !errors.Is(err, kdclient.ErrSplitView) {
		t.Fatalf("bob accepted the shadow after seeing the genuine root: %v", err)
	}
}

// TestAttackCheckpointWithoutWitnesses: a checkpoint with too few witness
// cosignatures is refused, whatever it proves.
func TestAttackCheckpointWithoutWitnesses(t *testing.T) {
	e := newEnv(t)
	e.register("alice")
	bob := e.register("bob")
	e.publish()
	lv, wv := e.log.Verifiers()
	strict := e.cfg
	strict.Checkpoints = &kdclient.WitnessPolicy{Origin: origin, Log: lv, Witnesses: append(wv[:0:0], wv[0]), Threshold: 1}
	if _, err := kdclient.NewClient(strict).Lookup(mustLookup(t, e, "alice")); err != nil {
		t.Fatalf("one genuine witness of one: %v", err)
	}
	other, _ := e.log.Fork() // fresh witnesses with the same names
	_, fwv := other.Verifiers()
	strict.Checkpoints = &kdclient.WitnessPolicy{Origin: origin, Log: lv, Witnesses: fwv, Threshold: 1}
	if _, err := kdclient.NewClient(strict).Lookup(mustLookup(t, e, "alice")); !errors.Is(err, kdclient.ErrCheckpoint) {
		t.Fatalf("checkpoint without the policy's witnesses accepted: %v", err)
	}
	_ = bob
}

func mustLookup(t *testing.T, e *env, name string) *keydir.LookupResponse {
	r, err := e.http.Lookup(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAttackTransientGhostDevice (T13): the provider swaps alice's account
// for one epoch only (so that a new contact, carol, who has no pin, encrypts
// to the provider's device) and restores it in the next epoch, hoping alice
// never looks at the right moment. Alice's client checks her leaf in every
// epoch, so the swapped epoch shows on her next sync.
func TestAttackTransientGhostDevice(t *testing.T) {
	e := newEnv(t)
	alice, carol := e.register("alice"), e.register("carol")
	e.publish()
	e.sync(alice)

	ctx := context.Background()
	label := e.dir.Label("alice")
	genuine, _ := e.store.Versions(ctx, label)
	ghost := newDevice(t, 66)
	fake, _ := account.NewRegistration("alice", ghost.d, ghost.priv, uint64(e.now.Unix()))
	enc, _ := fake.Marshal()
	fh, _ := fake.Hash()
	evil := &forkStore{Store: e.store, label: label, fork: []keydir.StoredVersion{{Record: enc, Opening: [32]byte{9}}}}
	evil.pending = []keydirPendingEntry{{Label: label, Value: keydir.Commitment([32]byte{9}, fh)}}
	e.dir = e.newDirectoryFrom(evil)
	e.service = e.dir
	e.publish()
	ct, err := e.lookup(carol.client, "alice")
	if err != nil || ct.Change != kdclient.FirstSeen || ct.State.Devices[0].ID != ghost.d.ID {
		t.Fatalf("carol's view during the swap: %v", err)
	}
	// Restore the genuine chain in the next epoch.
	r0, _ := account.ParseRecord(genuine[0].Record)
	gh, _ := r0.Hash()
	evil.mu.Lock()
	evil.fork = genuine
	evil.pending = []keydirPendingEntry{{Label: label, Value: keydir.Commitment(genuine[0].Opening, gh)}}
	evil.mu.Unlock()
	e.publish()

	alerts := e.sync(alice)
	if !hasAlert(alerts, kdclient.AlertUnexplainedCommitment) {
		t.Fatalf("alice's client missed the one-epoch swap: %v", alerts)
	}
	for _, a := range alerts {
		if a.Kind == kdclient.AlertUnexplainedCommitment && a.Epoch != 2 {
			t.Fatalf("alert names epoch %d, want 2", a.Epoch)
		}
	}
}

// TestAttackStaleLookupReplay: after alice revokes a stolen laptop, the
// provider replays bob an old (genuinely signed and logged) lookup in which
// the laptop is still active. A client with a freshness limit refuses it.
func TestAttackStaleLookupReplay(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	laptop := e.addDevice(alice, 2)
	e.publish()
	old, err := e.http.Lookup(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := alice.state.NewRevoke(laptop.d.ID, alice.devs[0].d.ID, alice.devs[0].priv, uint64(e.now.Unix()))
	enc, _ := r.Marshal()
	if err := e.http.ApplyChange(context.Background(), enc); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		e.publish() // hourly epochs
	}
	cfg := e.cfg
	cfg.MaxAge = 2 * time.Hour
	cfg.Now = func() time.Time { return e.now }
	if _, err := kdclient.NewClient(cfg).Lookup(old); !errors.Is(err, kdclient.ErrStale) {
		t.Fatalf("replayed old lookup accepted: %v", err)
	}
	ct, err := kdclient.NewClient(cfg).Lookup(mustLookup(t, e, "alice"))
	if err != nil || len(ct.State.Devices) != 1 {
		t.Fatalf("fresh lookup: %v", err)
	}
}
