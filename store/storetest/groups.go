package storetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

// snapshot captures what a rejected message must leave unchanged.
type snapshot struct {
	g      ds.Group
	queues map[ds.DeviceID]int
}

func (e *env) snap(t *testing.T, gid []byte, devs ...ds.Principal) snapshot {
	t.Helper()
	g, err := e.st.Group(e.ctx, gid)
	must(t, "Group", err)
	s := snapshot{g: g, queues: map[ds.DeviceID]int{}}
	for _, p := range devs {
		s.queues[p.Device] = len(e.drain(t, p, 100))
	}
	return s
}

func (e *env) unchanged(t *testing.T, what string, before snapshot, gid []byte, devs ...ds.Principal) {
	t.Helper()
	after := e.snap(t, gid, devs...)
	if after.g.Epoch != before.g.Epoch || after.g.Version != before.g.Version || after.g.LastSeq != before.g.LastSeq || !bytes.Equal(after.g.State, before.g.State) {
		t.Fatalf("%s changed the group: before %+v after %+v", what, before.g, after.g)
	}
	for d, n := range before.queues {
		if after.queues[d] != n {
			t.Fatalf("%s changed device %d's queue: %d -> %d entries", what, d, n, after.queues[d])
		}
	}
}

func testGroupFanOutOrder(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	laptop, lp := e.link(t, alice, "laptop")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, laptop, bob)
	senders := []ds.Principal{ap, lp, bp}
	const n = 60
	var want []string
	for i := range n {
		msg := app(gid, epoch, i)
		r, err := e.svc.Send(e.ctx, senders[i%3], msg, nil)
		must(t, "Send", err)
		if r.Seq != uint64(i+2) { // seq 1 is the add commit
			t.Fatalf("message %d got seq %d", i, r.Seq)
		}
		want = append(want, string(msg))
	}
	for k, p := range senders {
		got := e.drain(t, p, 7)
		var apps []string
		var lastCursor, lastSeq uint64
		for _, d := range got {
			if d.Cursor <= lastCursor {
				t.Fatalf("device %d: cursor %d after %d", p.Device, d.Cursor, lastCursor)
			}
			lastCursor = d.Cursor
			if d.Kind == ds.KindWelcome {
				if p.Device == alice.Device || string(d.Data) != string(dstest.Welcome([]byte("welcome"))) || d.Epoch != 1 {
					t.Fatalf("device %d: unexpected welcome %+v", p.Device, d)
				}
				continue
			}
			if !bytes.Equal(d.GroupID, gid) || d.Seq <= lastSeq {
				t.Fatalf("device %d: delivery out of order: %+v", p.Device, d)
			}
			lastSeq = d.Seq
			if d.Kind != ds.KindApplication || d.Sender != 0 {
				t.Fatalf("device %d: unexpected %v (sender %d)", p.Device, d.Kind, d.Sender)
			}
			apps = append(apps, string(d.Data))
		}
		var mine []string
		for i, m := range want {
			if i%3 != k {
				mine = append(mine, m)
			}
		}
		if !slices.Equal(apps, mine) {
			t.Fatalf("device %d received %d messages, want %d (all but its own, in order)", p.Device, len(apps), len(mine))
		}
	}
	_ = bob
}

func testStaleEpochCommit(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	_, err := e.svc.Send(e.ctx, ap, dstest.Commit(gid, epoch, alice, nil), nil)
	must(t, "commit", err)
	before := e.snap(t, gid, ap, bp)
	_, err = e.svc.Send(e.ctx, bp, dstest.Commit(gid, epoch, bob, nil), nil)
	wantErr(t, "commit for a stale epoch", err, ds.ErrStaleEpoch)
	_, err = e.svc.Send(e.ctx, bp, app(gid, epoch, 1), nil)
	wantErr(t, "application message for a stale epoch", err, ds.ErrStaleEpoch)
	_, err = e.svc.Send(e.ctx, bp, dstest.Commit(gid, epoch+5, bob, nil), nil)
	wantErr(t, "commit for a future epoch", err, ds.ErrInvalidMessage)
	e.unchanged(t, "stale commit", before, gid, ap, bp)
}

func testConcurrentCommitsOneWins(t *testing.T, e *env) {
	const n = 6
	signers := make([]dstest.Signer, n)
	ps := make([]ds.Principal, n)
	for i := range n {
		signers[i], ps[i] = e.user(t, fmt.Sprintf("user%d", i))
	}
	gid, epoch := e.group(t, signers[0], signers[1:]...)
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			msg := dstest.Commit(gid, epoch, signers[i], nil)
			wg.Go(func() {
				<-start
				_, errs[i] = e.svc.Send(e.ctx, ps[i], msg, nil)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ds.ErrStaleEpoch):
			default:
				t.Fatalf("round %d: commit %d: unexpected error %v", round, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d commits accepted for epoch %d, want exactly 1", round, wins, epoch)
		}
		epoch++
		g, _ := e.st.Group(e.ctx, gid)
		if g.Epoch != epoch {
			t.Fatalf("round %d: group at epoch %d, want %d", round, g.Epoch, epoch)
		}
	}
}

func testReplayedMessage(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	msg := app(gid, epoch, 1)
	_, err := e.svc.Send(e.ctx, ap, msg, nil)
	must(t, "Send", err)
	before := e.snap(t, gid, ap, bp)
	_, err = e.svc.Send(e.ctx, ap, msg, nil)
	wantErr(t, "replayed message", err, ds.ErrReplay)
	_, err = e.svc.Send(e.ctx, bp, msg, nil)
	wantErr(t, "message replayed by another member", err, ds.ErrReplay)
	e.unchanged(t, "replay", before, gid, ap, bp)

	// A commit whose answer was lost is resent after it moved the epoch on:
	// the answer is "replay" (accepted), not "stale epoch".
	commit := dstest.Commit(gid, epoch, alice, nil)
	_, err = e.svc.Send(e.ctx, ap, commit, nil)
	must(t, "commit", err)
	before = e.snap(t, gid, ap, bp)
	_, err = e.svc.Send(e.ctx, ap, commit, nil)
	wantErr(t, "resent accepted commit", err, ds.ErrReplay)
	_, err = e.svc.Send(e.ctx, bp, dstest.Commit(gid, epoch, bob, nil), nil)
	wantErr(t, "a different commit for the old epoch", err, ds.ErrStaleEpoch)
	e.unchanged(t, "resent commit", before, gid, ap, bp)
}

func testRemovedMember(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	carol, cp := e.user(t, "carol")
	gid, epoch := e.group(t, alice, bob, carol)
	_, err := e.svc.Send(e.ctx, ap, app(gid, epoch, 1), nil)
	must(t, "Send", err)
	_, err = e.svc.Send(e.ctx, ap, dstest.Commit(gid, epoch, alice, nil, bob.Member()), nil)
	must(t, "remove bob", err)
	epoch++
	before := e.snap(t, gid, ap, bp, cp)
	_, err = e.svc.Send(e.ctx, bp, app(gid, epoch, 2), nil)
	wantErr(t, "application message from a removed member", err, ds.ErrNotMember)
	_, err = e.svc.Send(e.ctx, bp, dstest.Commit(gid, epoch, bob, nil), nil)
	wantErr(t, "commit from a removed member", err, ds.ErrNotMember)
	_, err = e.svc.Send(e.ctx, bp, dstest.Proposal(gid, epoch, bob, []byte("x")), nil)
	wantErr(t, "proposal from a removed member", err, ds.ErrNotMember)
	e.unchanged(t, "removed member", before, gid, ap, bp, cp)
	_, err = e.svc.Send(e.ctx, cp, app(gid, epoch, 3), nil)
	must(t, "Send after removal", err)
	// bob received everything up to and including his removal, nothing after.
	got := e.drain(t, bp, 100)
	last := got[len(got)-1]
	if last.Kind != ds.KindCommit || last.Sender != alice.Device {
		t.Fatalf("bob's last delivery is %v, want alice's removing commit", last.Kind)
	}
	for _, d := range got {
		if bytes.Equal(d.Data, app(gid, epoch, 3)) {
			t.Fatalf("removed member received a message sent after removal")
		}
	}
	if a := e.drain(t, ap, 100); !bytes.Equal(a[len(a)-1].Data, app(gid, epoch, 3)) {
		t.Fatalf("alice did not receive carol's message")
	}
	if _, err := e.svc.Group(e.ctx, bp, gid); !errors.Is(err, ds.ErrForbidden) {
		t.Fatalf("removed member read the group: %v", err)
	}
}

func testForgedCommit(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	before := e.snap(t, gid, ap, bp)
	_, mallory, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := dstest.Forge(dstest.Commit(gid, epoch, bob, nil, alice.Member()), mallory)
	must(t, "Forge", err)
	_, err = e.svc.Send(e.ctx, bp, forged, nil)
	wantErr(t, "commit with a forged signature", err, ds.ErrBadSignature)
	// bob's device sends a commit signed as alice: the leaf is not the sender.
	_, err = e.svc.Send(e.ctx, bp, dstest.Commit(gid, epoch, alice, nil, bob.Member()), nil)
	wantErr(t, "commit signed by another device's leaf", err, ds.ErrForbidden)
	e.unchanged(t, "forged commit", before, gid, ap, bp)
}

func testGhostDevice(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	laptop, lp := e.link(t, bob, "laptop")
	gid, epoch := e.group(t, alice)
	before := e.snap(t, gid, ap)
	_, ghostKey, _ := ed25519.GenerateKey(rand.Reader)
	// A leaf naming bob's device with a key bob never registered.
	ghost := dstest.Signer{Username: "bob", Device: bob.Device, Key: ghostKey}
	_, err := e.svc.Send(e.ctx, ap, dstest.Commit(gid, epoch, alice, []dstest.FakeMember{ghost.Member()}), nil)
	wantErr(t, "commit adding an unregistered key", err, ds.ErrInvalidMessage)
	// A leaf naming a device that does not exist.
	ghost.Device = 424242
	_, err = e.svc.Send(e.ctx, ap, dstest.Commit(gid, epoch, alice, []dstest.FakeMember{ghost.Member()}), nil)
	wantErr(t, "commit adding an unknown device", err, ds.ErrInvalidMessage)
	// A revoked device.
	must(t, "RevokeDevice", e.svc.RevokeDevice(e.ctx, bp, lp.Device))
	_, err = e.svc.Send(e.ctx, ap, dstest.Commit(gid, epoch, alice, []dstest.FakeMember{laptop.Member()}), nil)
	wantErr(t, "commit adding a revoked device", err, ds.ErrRevoked)
	e.unchanged(t, "ghost device", before, gid, ap)
}

func testMalformedMessages(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	before := e.snap(t, gid, ap, bp)
	commit := dstest.Commit(gid, epoch, alice, nil)
	for _, tc := range []struct {
		name         string
		msg, welcome []byte
		want         error
	}{
		{"junk", []byte("not mls"), nil, ds.ErrInvalidMessage},
		{"truncated", commit[:len(commit)-3], nil, ds.ErrInvalidMessage},
		{"oversized", make([]byte, 65<<10), nil, ds.ErrTooLarge},
		{"welcome sent to a group", dstest.Welcome([]byte("w")), nil, ds.ErrInvalidMessage},
		{"welcome without added members", commit, dstest.Welcome([]byte("w")), ds.ErrInvalidMessage},
		{"welcome that is not a Welcome", commit, app(gid, epoch, 9), ds.ErrInvalidMessage},
		{"welcome with an application message", app(gid, epoch, 9), dstest.Welcome([]byte("w")), ds.ErrInvalidMessage},
		{"unknown group", app(randomID(), 0, 1), nil, ds.ErrNotFound},
	} {
		_, err := e.svc.Send(e.ctx, ap, tc.msg, tc.welcome)
		wantErr(t, tc.name, err, tc.want)
	}
	_, err := e.svc.CreateGroup(e.ctx, ap, dstest.GroupInfo(gid, alice))
	wantErr(t, "group id taken", err, ds.ErrGroupExists)
	_, err = e.svc.CreateGroup(e.ctx, ap, dstest.GroupInfo(randomID(), bob))
	wantErr(t, "group created for another device", err, ds.ErrForbidden)
	e.unchanged(t, "malformed messages", before, gid, ap, bp)
}

func testProposalThenCommit(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	g0, _ := e.st.Group(e.ctx, gid)
	r, err := e.svc.Send(e.ctx, bp, dstest.Proposal(gid, epoch, bob, []byte("p1")), nil)
	must(t, "proposal", err)
	if r.Epoch != epoch {
		t.Fatalf("proposal moved the epoch to %d", r.Epoch)
	}
	g1, _ := e.st.Group(e.ctx, gid)
	if g1.Version != g0.Version+1 || g1.Epoch != g0.Epoch {
		t.Fatalf("proposal: version %d->%d epoch %d->%d", g0.Version, g1.Version, g0.Epoch, g1.Epoch)
	}
	// A store-level append built against the old version loses the CAS.
	msg := dstest.Commit(gid, epoch, alice, nil)
	res, err := e.st.AppendBatch(e.ctx, []ds.Append{{GroupID: gid, Kind: ds.KindCommit, Sender: alice.Device, Epoch: epoch,
		Data: msg, Digest: digest(msg), SenderMustBeMember: true, ExpectVersion: g0.Version, NewEpoch: epoch + 1,
		NewState: []byte("{}"), NewLeaves: g0.Leaves, Received: e.clock.Now()}})
	must(t, "AppendBatch", err)
	wantErr(t, "commit against a superseded state", res[0].Err, ds.ErrConflict)
	// Through the service the commit is re-validated and accepted.
	r, err = e.svc.Send(e.ctx, ap, msg, nil)
	must(t, "commit after proposal", err)
	if r.Epoch != epoch+1 {
		t.Fatalf("commit: epoch %d", r.Epoch)
	}
	got := e.drain(t, ap, 100)
	if k := got[len(got)-1]; k.Kind != ds.KindProposal || k.Sender != bob.Device {
		t.Fatalf("alice's last delivery %v from %d, want bob's proposal", k.Kind, k.Sender)
	}
}

func testExternalCommit(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	gid, epoch := e.group(t, alice)
	_, err := e.svc.Send(e.ctx, bp, dstest.ExternalCommit(gid, epoch, bob), nil)
	must(t, "external commit", err)
	_, err = e.svc.Send(e.ctx, ap, app(gid, epoch+1, 1), nil)
	must(t, "Send", err)
	got := e.drain(t, bp, 100)
	if len(got) != 1 || got[0].Kind != ds.KindApplication {
		t.Fatalf("joiner's queue: %+v", got)
	}
	v, err := e.svc.Group(e.ctx, bp, gid)
	must(t, "Group", err)
	if !slices.Contains(v.Members, bob.Device) || v.Epoch != epoch+1 {
		t.Fatalf("group view %+v", v)
	}
}

func testAppendBatchMixed(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, _ := e.user(t, "bob")
	gid, epoch := e.group(t, alice, bob)
	m1, m2 := app(gid, epoch, 1), app(gid, epoch, 2)
	now := e.clock.Now()
	mk := func(gid []byte, ep uint64, m []byte, sender ds.DeviceID) ds.Append {
		return ds.Append{GroupID: gid, Kind: ds.KindApplication, Sender: sender, Epoch: ep, Data: m, Digest: digest(m), SenderMustBeMember: true, Received: now}
	}
	stranger, _ := e.user(t, "stranger")
	res, err := e.st.AppendBatch(e.ctx, []ds.Append{
		mk(gid, epoch, m1, alice.Device),
		mk(gid, epoch, m1, bob.Device),      // replay within the batch
		mk(randomID(), 0, m2, alice.Device), // unknown group
		mk(gid, epoch+1, m2, alice.Device),  // wrong epoch
		mk(gid, epoch, m2, stranger.Device), // not a member
		mk(gid, epoch, m2, bob.Device),
	})
	must(t, "AppendBatch", err)
	for i, want := range []error{nil, ds.ErrReplay, ds.ErrNotFound, ds.ErrStaleEpoch, ds.ErrNotMember, nil} {
		if want == nil && res[i].Err != nil || want != nil && !errors.Is(res[i].Err, want) {
			t.Fatalf("item %d: %v, want %v", i, res[i].Err, want)
		}
	}
	if res[5].Receipt.Seq != res[0].Receipt.Seq+1 || res[5].Receipt.Cursor <= res[0].Receipt.Cursor {
		t.Fatalf("receipts not consecutive: %+v %+v", res[0].Receipt, res[5].Receipt)
	}
	if !slices.Equal(res[0].Recipients, []ds.DeviceID{bob.Device}) || !slices.Equal(res[5].Recipients, []ds.DeviceID{alice.Device}) {
		t.Fatalf("recipients %v %v", res[0].Recipients, res[5].Recipients)
	}
	_ = ap
	_ = time.Second
}

func emptyCommit(gid []byte, epoch uint64, s dstest.Signer) []byte {
	return dstest.Commit(gid, epoch, s, nil)
}
