package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/policy/policytest"
)

// TestEscrowPolicyEnv: a $DAYLIGHT_ESCROW_POLICY that is not a fully signed
// policy is refused before anything is done; a valid one lets the client
// register, create a group and send (escrowing the epoch first).
func TestEscrowPolicyEnv(t *testing.T) {
	c := &cli{t: t, url: startServer(t), dir: t.TempDir()}
	bad := filepath.Join(c.dir, "bad.policy")
	os.WriteFile(bad, []byte("not a policy"), 0o600)
	t.Setenv("DAYLIGHT_ESCROW_POLICY", bad)
	if _, err := c.run("alice", "register", "alice"); err == nil || !strings.Contains(err.Error(), "DAYLIGHT_ESCROW_POLICY") {
		t.Fatalf("garbage policy: %v", err)
	}
	now := uint64(time.Now().Unix())
	cur := uint32((now - policytest.Genesis) / policytest.PeriodLength)
	f := policytest.New(t, 3, 5, []uint32{cur - 1, cur, cur + 1}, nil)
	pb, err := f.Signed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(c.dir, "policy.bin")
	os.WriteFile(good, pb, 0o600)
	t.Setenv("DAYLIGHT_ESCROW_POLICY", good)
	c.ok("alice", "register", "alice")
	c.ok("bob", "register", "bob")
	c.ok("alice", "group", "create", "team", "bob")
	c.ok("alice", "send", "team", "hello")
	c.ok("bob", "sync")
}
