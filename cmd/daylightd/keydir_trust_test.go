package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
)

// TestKeyDirTrustPinnedByDefault: daylightd with two real witnesses
// (threshold 2) publishes what clients pin at /keydir/v1/trust (its log key,
// both witness keys, w = 2, the directory and VRF keys) and prints its
// fingerprint at start. Clients without a trust file pin it at Register and
// verify every lookup against it through real HTTP: bob's client refuses to
// add a ghost device the DS lists on alice's account, and alice's own
// monitoring finds nothing she did not do.
func TestKeyDirTrustPinnedByDefault(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var kout bytes.Buffer
	if err := run(context.Background(), []string{"log-key", "--data", data, "--log-origin", testOrigin}, func(string) string { return "" }, &kout, io.Discard); err != nil {
		t.Fatalf("log-key: %v", err)
	}
	logVKey := strings.TrimSpace(kout.String())
	u1, w1 := startWitness(t, "witness.test/w1", logVKey)
	u2, w2 := startWitness(t, "witness.test/w2", logVKey)
	url, out := startHTTPDaylightd(t, "--data", data, "--log-origin", testOrigin, "--keydir-epoch", "50ms",
		"--log-witness", u1+"="+w1, "--log-witness", u2+"="+w2, "--log-witness-threshold", "2")

	resp, err := http.Get(url + kdhttp.PathTrust)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	trust, err := kdclient.ParseTrust(raw)
	if err != nil {
		t.Fatalf("published trust: %v\n%s", err, raw)
	}
	if trust.Origin != testOrigin || trust.LogVKey != logVKey || trust.Threshold != 2 || !slices.Equal(trust.Witnesses, []string{w1, w2}) {
		t.Fatalf("published trust does not name the log's key and witnesses:\n%s", raw)
	}
	if !strings.Contains(out.String(), trust.Fingerprint()) {
		t.Fatalf("start-up lines do not print the fingerprint %s: %q", trust.Fingerprint(), out.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	openClient := func(name string) *client.Client {
		c, err := client.Open(client.Config{Home: filepath.Join(home, name), Key: localstore.Key{Raw: make([]byte, 32)}, ServerURL: url, KeyPackages: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice, bob := openClient("alice"), openClient("bob")
	aliceID, err := alice.Register(ctx, "alice", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	id, err := bob.Register(ctx, "bob", "desktop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id.KeyDir, trust.Fingerprint()) || !strings.Contains(id.KeyDir, "2 of 2 witnesses") {
		t.Fatalf("bob's registration: %q", id.KeyDir)
	}
	// A device on alice's DS account that no version of her account holds
	// (enrolled at the DS; the Add record that would vouch for it is never
	// published): to bob it is what a device the provider inserted is.
	other := openClient("other")
	code, err := other.BeginLink("other")
	if err != nil {
		t.Fatal(err)
	}
	ap, err := alice.ApproveCode(code)
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := other.FinishLink(ctx, "alice", ap)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bob.CreateGroup(ctx, "g", []string{"alice"}) // waits for alice's epoch
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || res.Added[0].Device != aliceID.DeviceID || !slices.Equal(res.Refused, []api.DeviceID{ghost.DeviceID}) {
		t.Fatalf("bob's group: added %+v, refused %v (ghost %d)", res.Added, res.Refused, ghost.DeviceID)
	}
	ct, err := bob.AddContact(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct.KeyDir.Status, "verified (directory proofs checked") || !slices.Equal(ct.KeyDir.Unsigned, []api.DeviceID{ghost.DeviceID}) {
		t.Fatalf("bob's view of alice: %+v", ct.KeyDir)
	}
	// Alice's laptop knows the device it approved: her monitoring of the
	// witnessed history is clean.
	as, err := alice.MonitorAccount(ctx)
	if err != nil || len(as) != 0 {
		t.Fatalf("alice's monitor: %v %+v", err, as)
	}
}
