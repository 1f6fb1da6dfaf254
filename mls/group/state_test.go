package group

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/suite"
)

const cs1 = suite.X25519AES128GCMSHA256Ed25519

// threeMembers returns alice (leaf 0), bob (1) and charlie (2) in one group, plus
// charlie's KeyPackage.
func threeMembers(t *testing.T, cfg Config) (alice, bob, charlie *Group, charlieKP *KeyPackageBundle) {
	t.Helper()
	alice, err := Create(cfg, cs1, []byte("state-test"), []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	bobKP, _ := NewKeyPackage(cfg, cs1, []byte("bob"))
	charlieKP, _ = NewKeyPackage(cfg, cs1, []byte("charlie"))
	res, err := alice.Commit(CommitOptions{ByValue: []ProposalSpec{{Type: ProposalAdd, KeyPackage: bobKP.Message}, {Type: ProposalAdd, KeyPackage: charlieKP.Message}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	if bob, err = Join(cfg, bobKP, res.Welcome, nil); err != nil {
		t.Fatal(err)
	}
	if charlie, err = Join(cfg, charlieKP, res.Welcome, nil); err != nil {
		t.Fatal(err)
	}
	return alice, bob, charlie, charlieKP
}

func save(t *testing.T, g *Group) []byte {
	t.Helper()
	b, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStateRoundTrip: a saved and restored member keeps working: it decrypts,
// processes a commit and agrees on the epoch authenticator; the encoding is
// canonical (restore then save gives the same bytes).
func TestStateRoundTrip(t *testing.T) {
	cfg := Config{}
	alice, bob, _, _ := threeMembers(t, cfg)
	ct, err := alice.Protect(nil, []byte("before save"))
	if err != nil {
		t.Fatal(err)
	}
	saved := save(t, bob)
	bob2, err := UnmarshalGroup(cfg, saved)
	if err != nil {
		t.Fatal(err)
	}
	if again := save(t, bob2); !bytes.Equal(again, saved) {
		t.Fatal("restore then save changed the encoding")
	}
	if r, err := bob2.Process(ct); err != nil || string(r.ApplicationData) != "before save" {
		t.Fatalf("restored member cannot decrypt: %v", err)
	}
	res, err := alice.Commit(CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	alice.MergePendingCommit()
	r, err := bob2.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob2.Merge(r.Staged); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bob2.EpochAuthenticator(), alice.EpochAuthenticator()) {
		t.Fatal("restored member disagrees after a commit")
	}
	for i := range saved {
		if _, err := UnmarshalGroup(cfg, saved[:i]); err == nil {
			t.Fatalf("truncated state (%d of %d bytes) restored", i, len(saved))
		}
	}
	if _, err := UnmarshalGroup(cfg, append(saved, 0)); err == nil {
		t.Fatal("state with a trailing byte restored")
	}
}

// forge frames c as a PublicMessage commit from g with a valid signature and
// membership tag; tag is the confirmation tag (a wrong one unless taken from a
// real commit).
func forge(t *testing.T, g *Group, c *commit, tag []byte) []byte {
	t.Helper()
	content := framing.FramedContent{GroupID: g.ctx.GroupID, Epoch: g.ctx.Epoch, Sender: framing.Sender{Type: framing.SenderMember, Index: g.own},
		ContentType: framing.ContentCommit, Body: c.Marshal()}
	ac, err := framing.Sign(g.cs, g.sigPriv, framing.WireFormatPublicMessage, content, g.ctxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if tag == nil {
		tag = bytes.Repeat([]byte{7}, g.cs.Nh())
	}
	ac.Auth.ConfirmationTag = tag
	pm, err := framing.ProtectPublic(ac, g.secrets.Membership, g.ctxBytes)
	if err != nil {
		t.Fatal(err)
	}
	body, err := pm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return mlsMessageBytes(wireFormatPublic, func(w *codec.Builder) { w.Raw(body) })
}

// realCommit returns bob's genuine full commit, decoded.
func realCommit(t *testing.T, bob *Group) *commit {
	t.Helper()
	saved := save(t, bob)
	res, err := bob.Commit(CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	bob.pending = nil
	m, _ := parseMLSMessage(res.Commit)
	pm, err := framing.ParsePublicMessage(m.body, bodyParser)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCommit(pm.Content.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(save(t, bob), saved) {
		t.Fatal("creating a commit changed the committed state")
	}
	return c
}

// TestRejectedCommitLeavesStateUnchanged attempts a catalogue of malformed
// commits (each validly signed and MACed by a member) and checks that each is
// rejected and that the receiver's saved state is byte-identical afterwards
// (RFC 9420, Sections 12.2, 12.4.2, 7.9.2).
func TestRejectedCommitLeavesStateUnchanged(t *testing.T) {
	cfg := Config{PSKs: PSKStore{"k": []byte("secret")}}
	alice, bob, _, charlieKP := threeMembers(t, cfg)
	otherSuiteKP, _ := NewKeyPackage(cfg, suite.X25519ChaCha20Poly1305SHA256Ed25519, []byte("dora"))
	badSigKP, _ := NewKeyPackage(cfg, cs1, []byte("eve"))
	badSigKP.kp.Signature[0] ^= 1
	daveKP, _ := NewKeyPackage(cfg, cs1, []byte("dave"))
	nonce := bytes.Repeat([]byte{1}, alice.cs.Nh())
	psk := &pskID{Type: pskExternal, PSKID: []byte("k"), Nonce: nonce}
	upd := *bob.tree.leaf(1)
	upd.Source = leafSourceUpdate
	real := realCommit(t, bob)
	brokenParentHash := *real
	bp := *real.Path
	bp.LeafNode.ParentHash = bytes.Repeat([]byte{9}, len(bp.LeafNode.ParentHash))
	brokenParentHash.Path = &bp
	shortPath := *real
	sp := *real.Path
	sp.Nodes = sp.Nodes[:len(sp.Nodes)-1]
	shortPath.Path = &sp
	v := func(p *proposal) proposalOrRef { return proposalOrRef{Proposal: p} }
	cases := map[string]*commit{
		"empty commit without path":        {},
		"remove the committer":             {Proposals: []proposalOrRef{v(&proposal{Type: propRemove, Removed: 1})}, Path: real.Path},
		"remove a blank leaf":              {Proposals: []proposalOrRef{v(&proposal{Type: propRemove, Removed: 7})}, Path: real.Path},
		"unknown proposal reference":       {Proposals: []proposalOrRef{{Reference: bytes.Repeat([]byte{1}, 32)}}},
		"two GroupContextExtensions":       {Proposals: []proposalOrRef{v(&proposal{Type: propGCE}), v(&proposal{Type: propGCE})}, Path: real.Path},
		"ExternalInit in a member commit":  {Proposals: []proposalOrRef{v(&proposal{Type: propExternalInit, KEMOutput: []byte{1}})}, Path: real.Path},
		"Add of another cipher suite":      {Proposals: []proposalOrRef{v(&proposal{Type: propAdd, KeyPackage: otherSuiteKP.kp})}},
		"Add with a bad KeyPackage sig":    {Proposals: []proposalOrRef{v(&proposal{Type: propAdd, KeyPackage: badSigKP.kp})}},
		"Add of an existing member's keys": {Proposals: []proposalOrRef{v(&proposal{Type: propAdd, KeyPackage: charlieKP.kp})}},
		"the same KeyPackage added twice":  {Proposals: []proposalOrRef{v(&proposal{Type: propAdd, KeyPackage: daveKP.kp}), v(&proposal{Type: propAdd, KeyPackage: daveKP.kp})}},
		"duplicate PSK proposals":          {Proposals: []proposalOrRef{v(&proposal{Type: propPSK, PSK: psk}), v(&proposal{Type: propPSK, PSK: psk})}},
		"Update from the committer":        {Proposals: []proposalOrRef{v(&proposal{Type: propUpdate, LeafNode: &upd})}, Path: real.Path},
		"ReInit with other proposals":      {Proposals: []proposalOrRef{v(&proposal{Type: propReInit, ReInit: &reInit{GroupID: []byte("x"), Version: 1, CipherSuite: 1}}), v(&proposal{Type: propPSK, PSK: psk})}},
		"path leaf parent_hash broken":     &brokenParentHash,
		"path one node short":              &shortPath,
		"wrong confirmation tag":           real,
	}
	before := save(t, alice)
	for name, c := range cases {
		msg := forge(t, bob, c, nil)
		r, err := alice.Process(msg)
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: accepted (%v)", name, r.Kind)
			continue
		}
		if !bytes.Equal(save(t, alice), before) {
			t.Fatalf("%s: rejected commit changed the receiver's state", name)
		}
	}
	// The genuine commit is still accepted afterwards.
	res, err := bob.Commit(CommitOptions{ForcePath: true})
	if err != nil {
		t.Fatal(err)
	}
	bob.MergePendingCommit()
	r, err := alice.Process(res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Merge(r.Staged); err != nil || !bytes.Equal(alice.EpochAuthenticator(), bob.EpochAuthenticator()) {
		t.Fatalf("genuine commit after the catalogue: %v", err)
	}
}
