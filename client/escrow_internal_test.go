package client

import (
	"strings"
	"testing"
	"time"

	"github.com/daylight-im/daylight/policy/policytest"
)

// TestAttackT11_CommitTimeChecked: a member that escrows flags a commit whose
// signed time is missing, malformed or far from the DS's acceptance time, and
// accepts one within MaxCommitSkew.
func TestAttackT11_CommitTimeChecked(t *testing.T) {
	pol := policytest.New(t, 1, 1, []uint32{0}, nil)
	c := &Client{cfg: Config{Escrow: &EscrowPolicy{Policy: pol.Verified}}}
	recv := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name string
		ad   []byte
		want string // substring of the warning; "" for none
	}{
		{"in time", encodeCommitTime(recv.Add(-time.Minute)), ""},
		{"missing", nil, "no signed time"},
		{"malformed", []byte{1, 2, 3}, "no signed time"},
		{"unknown version", append([]byte{2}, encodeCommitTime(recv)[1:]...), "no signed time"},
		{"backdated a day", encodeCommitTime(recv.Add(-24 * time.Hour)), "from when the server accepted it"},
		{"in the future", encodeCommitTime(recv.Add(time.Hour)), "from when the server accepted it"},
	}
	for _, tc := range cases {
		got := c.commitTimeWarning(tc.ad, recv)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: warning %q, want %q", tc.name, got, tc.want)
		}
	}
	if tm, ok := parseCommitTime(encodeCommitTime(recv)); !ok || !tm.Equal(recv) {
		t.Fatalf("round trip: %v %v", tm, ok)
	}
	if (&Client{}).commitTimeWarning(nil, recv) != "" {
		t.Fatal("a client without escrow flagged a commit")
	}
}
