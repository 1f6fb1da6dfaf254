package policy

import (
	"bytes"
	"strings"
	"testing"
)

func TestGroupPolicyExtension(t *testing.T) {
	id := IDOf([]byte("body"))
	for _, g := range []GroupPolicy{{None: true}, {ID: id}} {
		b := g.Marshal()
		got, err := ParseGroupPolicy(b)
		if err != nil || got != g {
			t.Fatalf("round trip of %v: %v, %v", g, got, err)
		}
	}
	good := GroupPolicy{ID: id}.Marshal()
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"version 2", append([]byte{2}, good[1:]...), "version 2"},
		{"trailing byte", append(bytes.Clone(good), 0), "declared"},
		{"short id", []byte{1, 5, 1, 2, 3, 4, 5}, "want 0 (none) or 32"},
		{"length beyond data", good[:20], "declared"},
	} {
		if _, err := ParseGroupPolicy(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseGroupPolicy(f *testing.F) {
	f.Add(GroupPolicy{None: true}.Marshal())
	f.Add(GroupPolicy{ID: IDOf([]byte("x"))}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGroupPolicy(b)
		if err != nil {
			return
		}
		if !bytes.Equal(g.Marshal(), b) {
			t.Fatalf("re-encoding differs: %x vs %x", g.Marshal(), b)
		}
	})
}
