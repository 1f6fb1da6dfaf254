package treekem_test

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/treekem"
	"github.com/daylight-im/daylight/mls/wire"
)

// Example shows a commit with an UpdatePath between two members: the
// committer stages the path on a clone of the tree, encrypts it under the
// provisional GroupContext, and the other member merges and decrypts it to
// the same commit secret.
func Example() {
	s, _ := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	groupID := []byte("example group")
	t := tree.New(s)
	var privs []*treekem.PrivateState
	var signers []*suite.Signer
	for i := range 2 {
		encPriv, encPub, _ := s.GenerateKeyPair(rand.Reader)
		sigPriv, sigPub, _ := s.GenerateSignatureKey(rand.Reader)
		signer, _ := s.NewSigner(sigPriv)
		ln := &wire.LeafNode{EncryptionKey: encPub, SignatureKey: sigPub,
			Credential:   wire.Credential{Type: wire.CredentialTypeBasic, Identity: fmt.Appendf(nil, "member %d", i)},
			Capabilities: wire.Capabilities{Versions: []wire.ProtocolVersion{wire.MLS10}, CipherSuites: []wire.CipherSuite{1}, Credentials: []wire.CredentialType{wire.CredentialTypeBasic}},
			Source:       wire.LeafNodeSourceUpdate}
		_ = tree.SignLeafNode(signer, ln, groupID, tree.LeafIndex(i))
		l, _ := t.AddLeaf(ln)
		privs = append(privs, treekem.NewPrivateState(s, l, encPriv))
		signers = append(signers, signer)
	}
	context := func(tr *tree.Tree) []byte { // the provisional GroupContext
		gc := wire.GroupContext{Version: wire.MLS10, CipherSuite: 1, GroupID: groupID, Epoch: 1, TreeHash: tr.TreeHash()}
		return gc.Marshal()
	}

	// Member 0 commits.
	staged := t.Clone()
	template, _ := t.Leaf(0)
	pend, err := treekem.Create(staged, treekem.PathParams{Leaf: 0, LeafNode: template, Signer: signers[0], GroupID: groupID})
	if err != nil {
		panic(err)
	}
	up, err := pend.Encrypt(context(staged))
	if err != nil {
		panic(err)
	}

	// Member 1 validates, merges and decrypts.
	recv := t.Clone()
	if err := recv.ValidateLeafNode(&up.LeafNode, tree.LeafCheck{Source: wire.LeafNodeSourceCommit, GroupID: groupID, Leaf: 0}); err != nil {
		panic(err)
	}
	if err := treekem.Merge(recv, 0, up, nil); err != nil {
		panic(err)
	}
	commitSecret, err := privs[1].Decrypt(recv, 0, up, context(recv), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("same tree:", bytes.Equal(recv.TreeHash(), staged.TreeHash()))
	fmt.Println("same commit secret:", bytes.Equal(commitSecret, pend.CommitSecret()))
	// Output:
	// same tree: true
	// same commit secret: true
}
