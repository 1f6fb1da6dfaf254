package treekem

import (
	"runtime"
	"testing"

	"github.com/daylight-im/daylight/mls/tree"
)

// TestTreeMemoryPerMember checks the ratchet tree of a full 1,000-member
// group (every parent set, hash cache warm, decoded from the ratchet_tree
// extension as a joiner does) stays within 1 KiB per member, the group
// state budget.
func TestTreeMemoryPerMember(t *testing.T) {
	const n = 1000
	f := newFixture(t, n, true)
	enc := f.tree.Marshal()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := append([]byte(nil), enc...)
	tr, err := tree.Parse(f.s, buf)
	if err != nil {
		t.Fatal(err)
	}
	tr.TreeHash()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perMember := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	runtime.KeepAlive(tr)
	runtime.KeepAlive(f)
	runtime.KeepAlive(enc)
	t.Logf("ratchet tree: %d bytes encoded, %.0f bytes of heap per member (n=%d)", len(enc), perMember, n)
	if perMember <= 0 || perMember > 1024 {
		t.Fatalf("tree uses %.0f bytes per member, budget 1024", perMember)
	}
}
