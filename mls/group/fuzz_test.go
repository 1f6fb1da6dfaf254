package group

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/suite"
)

// seedMessages builds a small group and returns a commit body, a ratchet tree and a
// saved state, to seed the fuzz targets.
func seedMessages(f *testing.F) (commitBody, tree, state []byte) {
	cfg := Config{}
	alice, err := Create(cfg, cs1, []byte("fuzz"), []byte("alice"))
	if err != nil {
		f.Fatal(err)
	}
	kp, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	res, err := alice.Commit(CommitOptions{ForcePath: true, ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: kp.Message}}})
	if err != nil {
		f.Fatal(err)
	}
	alice.MergePendingCommit()
	m, _ := parseMLSMessage(res.Commit)
	pm, err := framing.ParsePublicMessage(m.body, bodyParser)
	if err != nil {
		f.Fatal(err)
	}
	state, err = alice.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	return pm.Content.Body, alice.tree.marshal(), state
}

// FuzzParseCommit: a Commit that parses re-encodes to the same bytes.
func FuzzParseCommit(f *testing.F) {
	c, _, _ := seedMessages(f)
	f.Add(c)
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCommit(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzParseRatchetTree: a ratchet tree that parses re-encodes to the same bytes.
func FuzzParseRatchetTree(f *testing.F) {
	_, tree, _ := seedMessages(f)
	f.Add(tree)
	s, err := suite.Lookup(cs1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rt, err := parseRatchetTree(s, b)
		if err != nil {
			return
		}
		if !bytes.Equal(rt.marshal(), b) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzUnmarshalGroup: a saved state that restores saves to the same bytes.
func FuzzUnmarshalGroup(f *testing.F) {
	_, _, state := seedMessages(f)
	f.Add(state)
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := UnmarshalGroup(Config{}, b)
		if err != nil {
			return
		}
		out, err := g.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzUnmarshalPublicGroup: a saved server view that restores saves to the same bytes.
func FuzzUnmarshalPublicGroup(f *testing.F) {
	cfg := Config{}
	alice, _ := Create(cfg, cs1, []byte("fuzz"), []byte("alice"))
	gi, _, _ := alice.GroupInfo(false)
	pg, err := NewPublicGroup(gi, nil)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := pg.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalPublicGroup(b)
		if err != nil {
			return
		}
		out, _ := p.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatal("round trip differs")
		}
	})
}
