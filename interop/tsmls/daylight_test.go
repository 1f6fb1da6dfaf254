package tsmls

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// TestTSMLSDaylightInterop: for suites 1 and 3, in both directions (Daylight creates
// and adds ts-mls; ts-mls creates and adds Daylight), with handshake messages as
// PublicMessage and PrivateMessage: the joiner agrees on the epoch authenticator,
// application messages flow both ways, and each side processes the other's commits.
// ts-mls 1.6.4 has no suite 0x004D (its X-Wing suites are 83/84 with SHA-512), so
// the X-Wing suite cannot be exercised against it.
func TestTSMLSDaylightInterop(t *testing.T) {
	node := requirePeer(t)
	for _, cs := range []int{1, 3} {
		for _, private := range []bool{false, true} {
			for _, daylightCreates := range []bool{true, false} {
				name := fmt.Sprintf("suite%d/private=%v/daylightCreates=%v", cs, private, daylightCreates)
				t.Run(name, func(t *testing.T) { interop(t, node, cs, private, daylightCreates) })
			}
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func interop(t *testing.T, node string, cs int, private, daylightCreates bool) {
	ts := startPeer(t, node, cs)
	cfg := group.Config{EncryptHandshake: private}
	gid := []byte(fmt.Sprintf("tsmls-%d-%v-%v", cs, private, daylightCreates))
	var dl *group.Group
	if daylightCreates {
		var err error
		if dl, err = group.Create(cfg, suite.ID(cs), gid, []byte("daylight")); err != nil {
			t.Fatal(err)
		}
		kp := String(call(t, ts, "keyPackage", map[string]any{"identity": "ts-mls"}), "keyPackage")
		res, err := dl.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: mustHex(t, kp)}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := dl.MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
		call(t, ts, "join", map[string]any{"welcome": hex.EncodeToString(res.Welcome)})
	} else {
		call(t, ts, "createGroup", map[string]any{"groupId": hex.EncodeToString(gid), "identity": "ts-mls"})
		kp, err := group.NewKeyPackage(cfg, suite.ID(cs), []byte("daylight"))
		if err != nil {
			t.Fatal(err)
		}
		add := call(t, ts, "add", map[string]any{"keyPackage": hex.EncodeToString(kp.Message), "public": !private})
		if dl, err = group.Join(cfg, kp, mustHex(t, String(add, "welcome")), nil); err != nil {
			t.Fatal(err)
		}
	}
	agree(t, dl, ts, "after join")

	// Application messages both ways.
	ct, err := dl.Protect([]byte("ad"), []byte("from daylight"))
	if err != nil {
		t.Fatal(err)
	}
	if got := String(call(t, ts, "unprotect", map[string]any{"message": hex.EncodeToString(ct)}), "plaintext"); got != hex.EncodeToString([]byte("from daylight")) {
		t.Fatalf("ts-mls decrypted %q", got)
	}
	msg := String(call(t, ts, "protect", map[string]any{"plaintext": hex.EncodeToString([]byte("from ts-mls")), "aad": "00"}), "message")
	r, err := dl.Process(mustHex(t, msg))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != group.KindApplication || !bytes.Equal(r.ApplicationData, []byte("from ts-mls")) {
		t.Fatalf("daylight got %v %q", r.Kind, r.ApplicationData)
	}

	// A Daylight commit (full path) processed by ts-mls.
	res, err := dl.Commit(group.CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := dl.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	call(t, ts, "process", map[string]any{"message": hex.EncodeToString(res.Commit)})
	agree(t, dl, ts, "after daylight commit")

	// A ts-mls commit processed by Daylight.
	c := String(call(t, ts, "commit", map[string]any{"public": !private}), "commit")
	r, err = dl.Process(mustHex(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != group.KindCommit {
		t.Fatalf("daylight got %v, want commit", r.Kind)
	}
	if err := dl.Merge(r.Staged); err != nil {
		t.Fatal(err)
	}
	agree(t, dl, ts, "after ts-mls commit")

	// Exporters agree.
	ex, err := dl.Export("interop", []byte("ctx"), 32)
	if err != nil {
		t.Fatal(err)
	}
	if got := String(call(t, ts, "export", map[string]any{"label": "interop", "context": hex.EncodeToString([]byte("ctx")), "length": 32}), "secret"); got != hex.EncodeToString(ex) {
		t.Fatalf("exporter differs")
	}
	// One more message each way in the new epoch.
	ct, err = dl.Protect(nil, []byte("again"))
	if err != nil {
		t.Fatal(err)
	}
	call(t, ts, "unprotect", map[string]any{"message": hex.EncodeToString(ct)})
}

func agree(t *testing.T, dl *group.Group, ts *Peer, when string) {
	t.Helper()
	st := call(t, ts, "state", nil)
	if uint64(st["epoch"].(float64)) != dl.Epoch() || String(st, "epochAuthenticator") != hex.EncodeToString(dl.EpochAuthenticator()) {
		t.Fatalf("%s: ts-mls epoch %v auth %s, daylight epoch %d auth %x", when, st["epoch"], String(st, "epochAuthenticator"), dl.Epoch(), dl.EpochAuthenticator())
	}
}
