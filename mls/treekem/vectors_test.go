package treekem

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/wire"
)

type treekemVector struct {
	CipherSuite             uint16           `json:"cipher_suite"`
	GroupID                 testkit.HexBytes `json:"group_id"`
	Epoch                   uint64           `json:"epoch"`
	ConfirmedTranscriptHash testkit.HexBytes `json:"confirmed_transcript_hash"`
	RatchetTree             testkit.HexBytes `json:"ratchet_tree"`
	LeavesPrivate           []struct {
		Index          uint32           `json:"index"`
		EncryptionPriv testkit.HexBytes `json:"encryption_priv"`
		SignaturePriv  testkit.HexBytes `json:"signature_priv"`
		PathSecrets    []struct {
			Node       uint32           `json:"node"`
			PathSecret testkit.HexBytes `json:"path_secret"`
		} `json:"path_secrets"`
	} `json:"leaves_private"`
	UpdatePaths []struct {
		Sender        uint32              `json:"sender"`
		UpdatePath    testkit.HexBytes    `json:"update_path"`
		PathSecrets   []*testkit.HexBytes `json:"path_secrets"`
		CommitSecret  testkit.HexBytes    `json:"commit_secret"`
		TreeHashAfter testkit.HexBytes    `json:"tree_hash_after"`
	} `json:"update_paths"`
}

func groupContext(v *treekemVector, treeHash []byte) []byte {
	gc := wire.GroupContext{Version: wire.MLS10, CipherSuite: wire.CipherSuite(v.CipherSuite), GroupID: v.GroupID,
		Epoch: v.Epoch, TreeHash: treeHash, ConfirmedTranscriptHash: v.ConfirmedTranscriptHash}
	return gc.Marshal()
}

// TestTreeKEMVectors runs every case of every suite in treekem.json (RFC
// 9420, Sections 7.4-7.6, 7.9): load each member's private state, merge and
// decrypt every UpdatePath (path secret learned, commit_secret, tree hash
// after merge), then create a fresh UpdatePath from each sender that every
// other member processes to the same commit secret and tree.
func TestTreeKEMVectors(t *testing.T) {
	var vs []treekemVector
	testkit.LoadVectors(t, "treekem.json", &vs)
	perSuite := map[uint16]int{}
	paths := 0
	for ci := range vs {
		v := &vs[ci]
		s, err := suite.Lookup(suite.ID(v.CipherSuite))
		if err != nil {
			t.Fatalf("case %d: suite %d: %v", ci, v.CipherSuite, err)
		}
		base, err := tree.Parse(s, v.RatchetTree)
		if err != nil {
			t.Fatalf("case %d: %v", ci, err)
		}
		privs := map[LeafIndex]*PrivateState{}
		signers := map[LeafIndex]*suite.Signer{}
		for _, lp := range v.LeavesPrivate {
			l := LeafIndex(lp.Index)
			ps := NewPrivateState(s, l, lp.EncryptionPriv)
			if pub, err := s.HPKEPublicKey(lp.EncryptionPriv); err != nil || !bytes.Equal(pub, base.EncryptionKey(l.Node())) {
				t.Fatalf("case %d leaf %d: encryption_priv does not match the tree (%v)", ci, l, err)
			}
			for _, p := range lp.PathSecrets {
				if err := ps.SetPathSecret(base, NodeIndex(p.Node), p.PathSecret); err != nil {
					t.Fatalf("case %d leaf %d node %d: %v", ci, l, p.Node, err)
				}
			}
			privs[l] = ps
			signers[l], err = s.NewSigner(lp.SignaturePriv)
			if err != nil {
				t.Fatal(err)
			}
		}
		for ui, u := range v.UpdatePaths {
			sender := LeafIndex(u.Sender)
			up, err := wire.ParseUpdatePath(u.UpdatePath)
			if err != nil {
				t.Fatalf("case %d path %d: %v", ci, ui, err)
			}
			tr := base.Clone()
			if err := tr.ValidateLeafNode(&up.LeafNode, tree.LeafCheck{Source: wire.LeafNodeSourceCommit, GroupID: v.GroupID, Leaf: sender}); err != nil {
				t.Fatalf("case %d path %d: leaf: %v", ci, ui, err)
			}
			if err := Merge(tr, sender, up, nil); err != nil {
				t.Fatalf("case %d path %d: merge: %v", ci, ui, err)
			}
			if !bytes.Equal(tr.TreeHash(), u.TreeHashAfter) {
				t.Fatalf("case %d path %d: tree hash after merge", ci, ui)
			}
			if err := tr.VerifyParentHashes(); err != nil {
				t.Fatalf("case %d path %d: %v", ci, ui, err)
			}
			gc := groupContext(v, u.TreeHashAfter)
			for l, ps := range privs {
				if l == sender {
					continue
				}
				want := u.PathSecrets[l]
				if want == nil {
					t.Fatalf("case %d path %d: no expected path secret for leaf %d", ci, ui, l)
				}
				got, _, err := ps.DecryptPathSecret(tr, sender, up, gc, nil)
				if err != nil || !bytes.Equal(got, *want) {
					t.Fatalf("case %d path %d leaf %d: path secret %x, %v", ci, ui, l, got, err)
				}
				c := ps.Clone()
				cs, err := c.Decrypt(tr, sender, up, gc, nil)
				if err != nil {
					t.Fatalf("case %d path %d leaf %d: %v", ci, ui, l, err)
				}
				if !bytes.Equal(cs, u.CommitSecret) {
					t.Fatalf("case %d path %d leaf %d: commit secret", ci, ui, l)
				}
			}
			// A fresh UpdatePath from the same sender, processed by everyone else.
			st := base.Clone()
			tmpl := up.LeafNode
			pend, err := Create(st, PathParams{Leaf: sender, LeafNode: &tmpl, Signer: signers[sender], GroupID: v.GroupID, Rand: rand.Reader})
			if err != nil {
				t.Fatalf("case %d path %d: create: %v", ci, ui, err)
			}
			gc2 := groupContext(v, st.TreeHash())
			up2, err := pend.Encrypt(gc2)
			if err != nil {
				t.Fatal(err)
			}
			up2, err = wire.ParseUpdatePath(up2.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.VerifyParentHashes(); err != nil {
				t.Fatalf("case %d path %d: created path: %v", ci, ui, err)
			}
			for l, ps := range privs {
				if l == sender {
					continue
				}
				rt := base.Clone()
				if err := rt.ValidateLeafNode(&up2.LeafNode, tree.LeafCheck{Source: wire.LeafNodeSourceCommit, GroupID: v.GroupID, Leaf: sender}); err != nil {
					t.Fatalf("case %d path %d: created leaf: %v", ci, ui, err)
				}
				if err := Merge(rt, sender, up2, nil); err != nil {
					t.Fatalf("case %d path %d leaf %d: merge created: %v", ci, ui, l, err)
				}
				if !bytes.Equal(rt.TreeHash(), st.TreeHash()) {
					t.Fatalf("case %d path %d leaf %d: tree hash differs from the committer's", ci, ui, l)
				}
				cs, err := ps.Clone().Decrypt(rt, sender, up2, gc2, nil)
				if err != nil {
					t.Fatalf("case %d path %d leaf %d: decrypt created: %v", ci, ui, l, err)
				}
				if !bytes.Equal(cs, pend.CommitSecret()) {
					t.Fatalf("case %d path %d leaf %d: commit secret of created path", ci, ui, l)
				}
			}
			paths++
		}
		perSuite[v.CipherSuite]++
	}
	for id := uint16(1); id <= 7; id++ {
		if perSuite[id] != 11 {
			t.Errorf("suite %d: %d cases run, want 11", id, perSuite[id])
		}
	}
	t.Logf("cases per suite %v, %d update paths", perSuite, paths)
}
