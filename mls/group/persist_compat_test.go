package group

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestUnmarshalStateVersion2 reads states saved by the version 2 encoding
// (node_keys with public keys, before the private keys moved to
// mls/treekem's PrivateState): four members of one group, whose keys came
// from a Welcome path secret, an own commit and a decrypted UpdatePath. The
// restored members process a new commit with a path (each must decrypt its
// path secret with a restored key), agree on the epoch authenticator, and
// save as version 3 states that restore to the same bytes.
func TestUnmarshalStateVersion2(t *testing.T) {
	data, err := os.ReadFile("testdata/state-v2.hex")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{}
	var members []*Group
	for i, line := range strings.Fields(string(data)) {
		st, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		if st[0] != 2 {
			t.Fatalf("fixture %d has version %d", i, st[0])
		}
		g, err := UnmarshalGroup(cfg, st)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		members = append(members, g)
	}
	if len(members) != 4 {
		t.Fatalf("%d fixtures, want 4", len(members))
	}
	for committer := range members {
		res, err := members[committer].Commit(CommitOptions{ForcePath: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := members[committer].MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
		for i, g := range members {
			if i == committer {
				continue
			}
			r, err := g.Process(res.Commit)
			if err != nil {
				t.Fatalf("commit by %d, member %d: %v", committer, i, err)
			}
			if err := g.Merge(r.Staged); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.EpochAuthenticator(), members[committer].EpochAuthenticator()) {
				t.Fatalf("commit by %d, member %d: epoch authenticators differ", committer, i)
			}
		}
	}
	for i, g := range members {
		st := save(t, g)
		if st[0] != stateVersion {
			t.Fatalf("member %d saved as version %d", i, st[0])
		}
		g2, err := UnmarshalGroup(cfg, st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(save(t, g2), st) {
			t.Fatalf("member %d: version 3 state does not round-trip", i)
		}
	}
}
