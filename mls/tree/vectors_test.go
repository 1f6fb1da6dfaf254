package tree

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

type treeValidationVector struct {
	CipherSuite uint16             `json:"cipher_suite"`
	Tree        testkit.HexBytes   `json:"tree"`
	GroupID     testkit.HexBytes   `json:"group_id"`
	TreeHashes  []testkit.HexBytes `json:"tree_hashes"`
	Resolutions [][]uint32         `json:"resolutions"`
}

func lookupSuite(t testing.TB, id uint16) *suite.Suite {
	t.Helper()
	s, err := suite.Lookup(suite.ID(id))
	if err != nil {
		t.Fatalf("suite %d: %v", id, err)
	}
	return s
}

// TestTreeValidationVectors checks, for every case of every suite in
// tree-validation.json, the resolution and tree hash of every node (RFC
// 9420, Sections 4.1.1 and 7.8), that every non-blank parent is parent-hash
// valid (Section 7.9.2) and that every leaf signature verifies (Section 7.2).
func TestTreeValidationVectors(t *testing.T) {
	var vs []treeValidationVector
	testkit.LoadVectors(t, "tree-validation.json", &vs)
	perSuite := map[uint16]int{}
	for i, v := range vs {
		s := lookupSuite(t, v.CipherSuite)
		tr, err := Parse(s, v.Tree)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(tr.Marshal(), v.Tree) {
			t.Fatalf("case %d: tree does not re-encode identically", i)
		}
		if int(tr.Width()) != len(v.TreeHashes) || len(v.Resolutions) != len(v.TreeHashes) {
			t.Fatalf("case %d: width %d, vector has %d nodes", i, tr.Width(), len(v.TreeHashes))
		}
		for x := range v.TreeHashes {
			if got := tr.NodeTreeHash(NodeIndex(x)); !bytes.Equal(got, v.TreeHashes[x]) {
				t.Fatalf("case %d (suite %d): tree hash of node %d: got %x want %x", i, v.CipherSuite, x, got, []byte(v.TreeHashes[x]))
			}
			res := tr.Resolution(nil, NodeIndex(x))
			want := v.Resolutions[x]
			if len(res) != len(want) {
				t.Fatalf("case %d: resolution of %d: got %v want %v", i, x, res, want)
			}
			for k := range res {
				if uint32(res[k]) != want[k] {
					t.Fatalf("case %d: resolution of %d: got %v want %v", i, x, res, want)
				}
			}
		}
		if err := tr.VerifyParentHashes(); err != nil {
			t.Fatalf("case %d (suite %d): %v", i, v.CipherSuite, err)
		}
		leaves := 0
		tr.Members(func(l LeafIndex, ln *wire.LeafNode) bool {
			if err := VerifyLeafSignature(s, ln, v.GroupID, l); err != nil {
				t.Fatalf("case %d leaf %d: %v", i, l, err)
			}
			leaves++
			return true
		})
		if err := tr.Validate(TreeCheck{GroupID: v.GroupID, TreeHash: v.TreeHashes[tr.Root()]}); err != nil {
			t.Fatalf("case %d (suite %d): Validate: %v", i, v.CipherSuite, err)
		}
		perSuite[v.CipherSuite]++
	}
	for id := uint16(1); id <= 7; id++ {
		if perSuite[id] != 14 {
			t.Errorf("suite %d: %d cases run, want 14", id, perSuite[id])
		}
	}
	t.Logf("cases per suite: %v", perSuite)
}

// TestTreeValidationRejectsTamperedParentHash flips one byte of a parent
// node's parent_hash and of a parent's encryption key in every vector tree
// that has non-blank parents; VerifyParentHashes must fail (Section 7.9.2).
func TestTreeValidationRejectsTamperedParentHash(t *testing.T) {
	var vs []treeValidationVector
	testkit.LoadVectors(t, "tree-validation.json", &vs)
	tried := 0
	for i, v := range vs {
		s := lookupSuite(t, v.CipherSuite)
		rt, err := wire.ParseRatchetTree(v.Tree)
		if err != nil {
			t.Fatal(err)
		}
		for x, n := range rt {
			if n == nil || n.Parent == nil {
				continue
			}
			for _, field := range []string{"parent_hash", "encryption_key"} {
				rt2, _ := wire.ParseRatchetTree(bytes.Clone(v.Tree))
				p := rt2[x].Parent
				if field == "parent_hash" {
					if len(p.ParentHash) == 0 {
						continue
					}
					p.ParentHash = bytes.Clone(p.ParentHash)
					p.ParentHash[0] ^= 1
				} else {
					p.EncryptionKey = bytes.Clone(p.EncryptionKey)
					p.EncryptionKey[len(p.EncryptionKey)-1] ^= 1
				}
				tr, err := FromWire(s, rt2)
				if err != nil {
					t.Fatal(err)
				}
				if tr.VerifyParentHashes() == nil {
					t.Fatalf("case %d node %d: tampered %s accepted", i, x, field)
				}
				tried++
			}
		}
	}
	if tried == 0 {
		t.Fatal("no parent nodes to tamper with")
	}
}

// TestTreeValidationRejectsBadLeafSignature checks a leaf signature over a
// different group id fails (Section 7.2 LeafNodeTBS binds group_id and leaf
// index).
func TestTreeValidationRejectsBadLeafSignature(t *testing.T) {
	var vs []treeValidationVector
	testkit.LoadVectors(t, "tree-validation.json", &vs)
	for i, v := range vs {
		s := lookupSuite(t, v.CipherSuite)
		tr, err := Parse(s, v.Tree)
		if err != nil {
			t.Fatal(err)
		}
		otherGroup := append(bytes.Clone(v.GroupID), 0)
		if err := tr.Validate(TreeCheck{GroupID: otherGroup}); err == nil {
			// Only trees whose leaves are all key_package-sourced sign no group id.
			allKP := true
			tr.Members(func(_ LeafIndex, ln *wire.LeafNode) bool {
				allKP = allKP && ln.Source == wire.LeafNodeSourceKeyPackage
				return true
			})
			if !allKP {
				t.Fatalf("case %d: leaf signatures verified under a different group id", i)
			}
		}
	}
}

// TestTreeOperationsVectors applies each proposal of tree-operations.json
// (Add, Update, Remove; RFC 9420, Sections 12.1.1-12.1.3) and checks the
// resulting tree bytes and tree hashes before and after.
func TestTreeOperationsVectors(t *testing.T) {
	var vs []struct {
		CipherSuite    uint16           `json:"cipher_suite"`
		Proposal       testkit.HexBytes `json:"proposal"`
		ProposalSender uint32           `json:"proposal_sender"`
		TreeBefore     testkit.HexBytes `json:"tree_before"`
		TreeAfter      testkit.HexBytes `json:"tree_after"`
		TreeHashBefore testkit.HexBytes `json:"tree_hash_before"`
		TreeHashAfter  testkit.HexBytes `json:"tree_hash_after"`
	}
	testkit.LoadVectors(t, "tree-operations.json", &vs)
	if len(vs) != 5 {
		t.Fatalf("%d cases, want 5", len(vs))
	}
	kinds := map[wire.ProposalType]int{}
	for i, v := range vs {
		s := lookupSuite(t, v.CipherSuite)
		tr, err := Parse(s, v.TreeBefore)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tr.TreeHash(), v.TreeHashBefore) {
			t.Fatalf("case %d: tree hash before", i)
		}
		p, err := wire.ParseProposal(v.Proposal)
		if err != nil {
			t.Fatal(err)
		}
		switch p.Type {
		case wire.ProposalTypeAdd:
			_, err = tr.AddLeaf(&p.KeyPackage.LeafNode)
		case wire.ProposalTypeUpdate:
			err = tr.UpdateLeaf(LeafIndex(v.ProposalSender), p.LeafNode)
		case wire.ProposalTypeRemove:
			err = tr.RemoveLeaf(LeafIndex(p.Removed))
		default:
			t.Fatalf("case %d: unexpected proposal type %d", i, p.Type)
		}
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		kinds[p.Type]++
		if got := tr.Marshal(); !bytes.Equal(got, v.TreeAfter) {
			t.Fatalf("case %d (%d): tree after differs", i, p.Type)
		}
		if !bytes.Equal(tr.TreeHash(), v.TreeHashAfter) {
			t.Fatalf("case %d: tree hash after", i)
		}
		// The cache must agree with a fresh computation.
		fresh, _ := Parse(s, v.TreeAfter)
		if !bytes.Equal(fresh.TreeHash(), tr.TreeHash()) {
			t.Fatalf("case %d: cached tree hash differs from fresh", i)
		}
	}
	if kinds[wire.ProposalTypeAdd] == 0 || kinds[wire.ProposalTypeUpdate] == 0 || kinds[wire.ProposalTypeRemove] == 0 {
		t.Fatalf("proposal kinds covered: %v", kinds)
	}
}

// TestParseRejectsMalformedTrees checks the structural rules of the
// ratchet_tree extension (RFC 9420, Section 12.4.3.3).
func TestParseRejectsMalformedTrees(t *testing.T) {
	var vs []treeValidationVector
	testkit.LoadVectors(t, "tree-validation.json", &vs)
	s := lookupSuite(t, vs[0].CipherSuite)
	rt, err := wire.ParseRatchetTree(vs[0].Tree)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromWire(s, append(append(wire.RatchetTree{}, rt...), nil, nil)); err == nil {
		t.Error("trailing blank accepted")
	}
	if _, err := FromWire(s, wire.RatchetTree{}); err == nil {
		t.Error("empty tree accepted")
	}
	var leaf, parent *wire.Node
	for _, n := range rt {
		if n != nil && n.Leaf != nil && leaf == nil {
			leaf = n
		}
		if n != nil && n.Parent != nil && parent == nil {
			parent = n
		}
	}
	if _, err := FromWire(s, wire.RatchetTree{leaf, leaf, leaf}); err == nil {
		t.Error("leaf at a parent position accepted")
	}
	if parent != nil {
		if _, err := FromWire(s, wire.RatchetTree{parent}); err == nil {
			t.Error("parent at a leaf position accepted")
		}
	}
	_ = treemath.Root
}

// FuzzParse decodes a ratchet_tree extension into a Tree and requires the
// re-encoding to be identical (seeded with the tree-validation trees).
func FuzzParse(f *testing.F) {
	var vs []treeValidationVector
	testkit.LoadVectors(f, "tree-validation.json", &vs)
	for _, v := range vs {
		if v.CipherSuite == 1 {
			f.Add([]byte(v.Tree))
		}
	}
	s := lookupSuite(f, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := Parse(s, data)
		if err != nil {
			return
		}
		if got := tr.Marshal(); !bytes.Equal(got, data) {
			t.Fatalf("tree re-encoding differs\n in %x\nout %x", data, got)
		}
		_ = tr.TreeHash()
		_ = tr.VerifyParentHashes()
	})
}

// TestParseEvenLengthTree checks a tree whose last listed node sits at an
// odd (parent) position is padded to cover it instead of overflowing.
func TestParseEvenLengthTree(t *testing.T) {
	var vs []treeValidationVector
	testkit.LoadVectors(t, "tree-validation.json", &vs)
	s := lookupSuite(t, vs[0].CipherSuite)
	rt, err := wire.ParseRatchetTree(vs[0].Tree)
	if err != nil {
		t.Fatal(err)
	}
	var parent *wire.Node
	for _, n := range rt {
		if n != nil && n.Parent != nil {
			parent = n
			break
		}
	}
	if parent == nil {
		t.Fatal("no parent node in the first vector tree")
	}
	tr, err := FromWire(s, wire.RatchetTree{rt[0], parent})
	if err != nil {
		t.Fatal(err)
	}
	if tr.NumLeaves() != 2 || tr.IsBlank(1) {
		t.Fatalf("leaves %d, node 1 blank %v", tr.NumLeaves(), tr.IsBlank(1))
	}
}
