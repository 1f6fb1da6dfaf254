package kdclient_test

import (
	"context"
	"testing"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

// held is what a monitor keeps between syncs to ask only for new versions.
type held struct {
	records  [][]byte
	openings [][32]byte
	first    uint64 // FirstVersion of the last answer, before Complete
}

// syncHeld syncs u asking only for the versions after the held ones, over
// HTTP, as client.MonitorAccount does.
func (e *env) syncHeld(u *user, h *held) []kdclient.Alert {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.http.HistoryFrom(ctx, u.name, u.monitor.Epoch, uint64(len(h.records)))
	if err != nil {
		e.t.Fatal(err)
	}
	h.first = r.FirstVersion
	if !kdclient.Complete(r, h.records, h.openings) {
		if r, err = e.http.History(ctx, u.name, u.monitor.Epoch); err != nil {
			e.t.Fatal(err)
		}
	}
	alerts, err := u.client.Sync(u.monitor, r)
	if err != nil {
		e.t.Fatalf("sync %s: %v", u.name, err)
	}
	h.records, h.openings = r.Records, r.Openings
	return alerts
}

// TestMonitorHeldVersions: a monitor that holds the versions of its last
// sync downloads only the new ones, and Sync checks the completed chain as
// before. An answer that starts elsewhere is refused by Complete, and Sync
// refuses an incomplete one.
func TestMonitorHeldVersions(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	e.publish()
	var h held
	if as := e.syncHeld(alice, &h); len(as) != 0 || len(h.records) != 1 || h.first != 0 {
		t.Fatalf("first sync: %v, %d records from %d", as, len(h.records), h.first)
	}
	e.addDevice(alice, 2)
	e.publish()
	if as := e.syncHeld(alice, &h); len(as) != 0 || len(h.records) != 2 || h.first != 1 {
		t.Fatalf("second sync: %v, %d records, answer from version %d", as, len(h.records), h.first)
	}
	e.publish()
	if as := e.syncHeld(alice, &h); len(as) != 0 || h.first != 2 {
		t.Fatalf("third sync: %v, answer from version %d", as, h.first)
	}
	r, err := e.dir.HistoryFrom(context.Background(), "alice", 0, 1)
	if err != nil || r.FirstVersion != 1 || len(r.Records) != 1 {
		t.Fatalf("HistoryFrom 1: %v %+v", err, r)
	}
	if _, err := kdclient.NewClient(e.cfg).Sync(kdclient.NewMonitor("alice"), r); err == nil {
		t.Fatal("Sync accepted a history without its first versions")
	}
	if kdclient.Complete(r, nil, nil) {
		t.Fatal("Complete accepted an answer that does not continue the held versions")
	}
	if r, _ := e.dir.HistoryFrom(context.Background(), "alice", 0, 9); r.FirstVersion != 2 || len(r.Records) != 0 {
		t.Fatalf("HistoryFrom beyond the chain: %+v", r)
	}
}

// TestAttackForkedAccountWithHeldVersions (T13): the provider replaces
// alice's chain with one it registered itself. A monitor holding alice's
// genuine versions still alerts: when the fork is as long as what it holds,
// the epochs commit to a version it cannot explain; when it is shorter, the
// answer does not continue the held versions, the whole chain is fetched and
// Sync sees the fork.
func TestAttackForkedAccountWithHeldVersions(t *testing.T) {
	for _, devices := range []int{1, 2} {
		e := newEnv(t)
		alice := e.register("alice")
		if devices == 2 {
			e.addDevice(alice, 2)
		}
		e.publish()
		var h held
		if as := e.syncHeld(alice, &h); len(as) != 0 {
			t.Fatal(as)
		}
		ghost := newDevice(t, 66)
		fake, _ := account.NewRegistration("alice", ghost.d, ghost.priv, uint64(e.now.Unix()))
		enc, _ := fake.Marshal()
		evil := &forkStore{Store: e.store, label: e.dir.Label("alice"), fork: []keydir.StoredVersion{{Record: enc, Opening: [32]byte{9}}}}
		e.dir = e.newDirectoryFrom(evil)
		e.service = e.dir
		fh, _ := fake.Hash()
		evil.pending = []keydirPendingEntry{{Label: evil.label, Value: keydir.Commitment([32]byte{9}, fh)}}
		e.publish()
		as := e.syncHeld(alice, &h)
		switch devices {
		case 1:
			if h.first != 1 || !hasAlert(as, kdclient.AlertUnexplainedCommitment) {
				t.Fatalf("fork as long as the held chain: answer from %d, alerts %v", h.first, as)
			}
		case 2:
			if !hasAlert(as, kdclient.AlertForkedHistory) || !hasAlert(as, kdclient.AlertUnknownDevice) {
				t.Fatalf("fork shorter than the held chain: alerts %v", as)
			}
		}
	}
}
