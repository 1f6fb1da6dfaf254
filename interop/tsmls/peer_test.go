package tsmls

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"
)

// requirePeer returns the node binary, or skips with the reason unless the ts-mls
// interop run asked for these tests (interop/tsmls/run.sh sets DAYLIGHT_TSMLS=1 after
// npm ci, and then a missing node or node_modules is a failure, not a skip).
func requirePeer(t *testing.T) string {
	t.Helper()
	if os.Getenv("DAYLIGHT_TSMLS") == "" {
		t.Skip("ts-mls peer tests run from interop/tsmls/run.sh (needs node and npm ci); set DAYLIGHT_TSMLS=1 to run them here")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("DAYLIGHT_TSMLS set but node not found: %v", err)
	}
	if _, err := os.Stat("node_modules/ts-mls"); err != nil {
		t.Fatalf("DAYLIGHT_TSMLS set but node_modules/ts-mls missing (hint: npm ci in interop/tsmls): %v", err)
	}
	return node
}

func startPeer(t *testing.T, node string, suite int) *Peer {
	t.Helper()
	p, err := Start(context.Background(), node, ".")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	call(t, p, "init", map[string]any{"suite": suite})
	return p
}

func call(t *testing.T, p *Peer, op string, args map[string]any) map[string]any {
	t.Helper()
	r, err := p.Call(op, args)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTSMLSPeerSelf checks the peer protocol itself: two ts-mls peers build a group
// through it (KeyPackage, Add+Welcome, messages both ways, a commit from each side).
func TestTSMLSPeerSelf(t *testing.T) {
	node := requirePeer(t)
	a, b := startPeer(t, node, 1), startPeer(t, node, 1)
	call(t, a, "createGroup", map[string]any{"groupId": hex.EncodeToString([]byte("g")), "identity": "alice"})
	kp := String(call(t, b, "keyPackage", map[string]any{"identity": "bob"}), "keyPackage")
	add := call(t, a, "add", map[string]any{"keyPackage": kp})
	call(t, b, "join", map[string]any{"welcome": String(add, "welcome")})
	sameState(t, a, b)

	msg := String(call(t, a, "protect", map[string]any{"plaintext": "6869", "aad": ""}), "message")
	if got := String(call(t, b, "unprotect", map[string]any{"message": msg}), "plaintext"); got != "6869" {
		t.Fatalf("b decrypted %q", got)
	}
	c := String(call(t, b, "commit", map[string]any{"public": true}), "commit")
	call(t, a, "process", map[string]any{"message": c})
	sameState(t, a, b)
	c = String(call(t, a, "commit", map[string]any{}), "commit")
	call(t, b, "process", map[string]any{"message": c})
	sameState(t, a, b)
	msg = String(call(t, b, "protect", map[string]any{"plaintext": "796f", "aad": "00"}), "message")
	if got := String(call(t, a, "unprotect", map[string]any{"message": msg}), "plaintext"); got != "796f" {
		t.Fatalf("a decrypted %q", got)
	}
}

func sameState(t *testing.T, a, b *Peer) {
	t.Helper()
	sa, sb := call(t, a, "state", nil), call(t, b, "state", nil)
	if sa["epoch"] != sb["epoch"] || String(sa, "epochAuthenticator") != String(sb, "epochAuthenticator") {
		t.Fatalf("states differ: %v vs %v", sa, sb)
	}
}
