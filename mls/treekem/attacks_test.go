package treekem

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/wire"
)

// committed returns a fixture of n members and a valid UpdatePath from
// leaf 0 with its provisional GroupContext.
func committed(t *testing.T, n int, full bool) (*fixture, *wire.UpdatePath, []byte, *Pending) {
	t.Helper()
	f := newFixture(t, n, full)
	st := f.tree.Clone()
	pend, err := Create(st, f.params(0))
	if err != nil {
		t.Fatal(err)
	}
	gc := provisionalContext(f, st)
	up, err := pend.Encrypt(gc)
	if err != nil {
		t.Fatal(err)
	}
	up, err = wire.ParseUpdatePath(up.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return f, up, gc, pend
}

// TestUpdatePathRoundTrip checks every member of 8-member groups (sparse and
// full) decrypts a created UpdatePath to the committer's commit secret and
// ends with the committer's tree.
func TestUpdatePathRoundTrip(t *testing.T) {
	for _, full := range []bool{false, true} {
		f, up, gc, pend := committed(t, 8, full)
		for l := LeafIndex(1); l < 8; l++ {
			tr := f.tree.Clone()
			if err := Merge(tr, 0, up, nil); err != nil {
				t.Fatal(err)
			}
			cs, err := f.private(l).Decrypt(tr, 0, up, gc, nil)
			if err != nil {
				t.Fatalf("full=%v leaf %d: %v", full, l, err)
			}
			if !bytes.Equal(cs, pend.CommitSecret()) {
				t.Fatalf("full=%v leaf %d: commit secret differs", full, l)
			}
		}
	}
}

// TestMergeRejectsTamperedPathKey changes one public key of an UpdatePath:
// the committer's signed leaf parent hash no longer matches (RFC 9420,
// Sections 7.5 and 7.9.2).
func TestMergeRejectsTamperedPathKey(t *testing.T) {
	f, up, _, _ := committed(t, 8, false)
	for i := range up.Nodes {
		bad := *up
		bad.Nodes = append([]wire.UpdatePathNode(nil), up.Nodes...)
		_, pub, err := f.s.GenerateKeyPair(newSeedReader("evil", i))
		if err != nil {
			t.Fatal(err)
		}
		bad.Nodes[i].EncryptionKey = pub
		if err := Merge(f.tree.Clone(), 0, &bad, nil); !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("node %d: tampered key accepted: %v", i, err)
		}
	}
}

// TestMergeRejectsWrongShape checks an UpdatePath with a missing node or a
// missing ciphertext is rejected (RFC 9420, Section 7.6).
func TestMergeRejectsWrongShape(t *testing.T) {
	f, up, _, _ := committed(t, 8, false)
	short := *up
	short.Nodes = up.Nodes[:len(up.Nodes)-1]
	if err := Merge(f.tree.Clone(), 0, &short, nil); !errors.Is(err, ErrInvalidPath) {
		t.Fatalf("short path: %v", err)
	}
	fewer := *up
	fewer.Nodes = append([]wire.UpdatePathNode(nil), up.Nodes...)
	last := len(fewer.Nodes) - 1
	fewer.Nodes[last].EncryptedPathSecret = fewer.Nodes[last].EncryptedPathSecret[1:]
	if err := Merge(f.tree.Clone(), 0, &fewer, nil); !errors.Is(err, ErrInvalidPath) {
		t.Fatalf("missing ciphertext: %v", err)
	}
}

// TestDecryptRejectsInconsistentPathSecret has a malicious committer send a
// path whose public key for the root does not derive from the path secret
// it encrypted (keys and parent hashes re-signed consistently); receivers
// must detect the mismatch and keep their state (RFC 9420, Section 7.5 step 6).
func TestDecryptRejectsInconsistentPathSecret(t *testing.T) {
	f, up, _, pend := committed(t, 8, false)
	last := len(up.Nodes) - 1
	_, evil, err := f.s.GenerateKeyPair(newSeedReader("evil-root", 0))
	if err != nil {
		t.Fatal(err)
	}
	bad := *up
	bad.Nodes = append([]wire.UpdatePathNode(nil), up.Nodes...)
	bad.Nodes[last].EncryptionKey = evil
	// Re-sign the leaf with the parent hash of the doctored path.
	keys := make([][]byte, len(bad.Nodes))
	for i := range bad.Nodes {
		keys[i] = bad.Nodes[i].EncryptionKey
	}
	scratch := f.tree.Clone()
	ph, err := scratch.MergePath(0, keys)
	if err != nil {
		t.Fatal(err)
	}
	leaf := bad.LeafNode
	leaf.ParentHash = ph
	signer, _ := f.s.NewSigner(f.sigPriv[0])
	if err := tree.SignLeafNode(signer, &leaf, f.groupID, 0); err != nil {
		t.Fatal(err)
	}
	bad.LeafNode = leaf
	tr := f.tree.Clone()
	if err := Merge(tr, 0, &bad, nil); err != nil {
		t.Fatalf("consistently signed path rejected at merge: %v", err)
	}
	gc := provisionalContext(f, tr)
	// The attacker re-encrypts the honest root path secret under the
	// doctored tree's context; it no longer derives the advertised root key.
	rootSecret, rootNode, ok := pend.PathSecretFor(7)
	if !ok || rootNode != tr.Root() {
		t.Fatal("no root path secret")
	}
	res := tr.Resolution(nil, tree.CopathChild(rootNode, 0))
	cts := make([]wire.HPKECiphertext, len(res))
	for i, r := range res {
		kem, ct, err := f.s.EncryptWithLabel(tr.EncryptionKey(r), "UpdatePathNode", gc, rootSecret)
		if err != nil {
			t.Fatal(err)
		}
		cts[i] = wire.HPKECiphertext{KEMOutput: kem, Ciphertext: ct}
	}
	bad.Nodes[last].EncryptedPathSecret = cts
	priv := f.private(7)
	before := priv.Nodes()
	_, err = priv.Decrypt(tr, 0, &bad, gc, nil)
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("inconsistent path: got %v, want ErrKeyMismatch", err)
	}
	if !slicesEqual(before, priv.Nodes()) {
		t.Fatal("private state changed after a failed Decrypt")
	}
}

func slicesEqual(a, b []NodeIndex) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDecryptRejectsWrongContext checks a path secret encrypted under one
// GroupContext does not decrypt under another (RFC 9420, Section 7.6:
// EncryptWithLabel binds the provisional GroupContext).
func TestDecryptRejectsWrongContext(t *testing.T) {
	f, up, gc, _ := committed(t, 4, false)
	tr := f.tree.Clone()
	if err := Merge(tr, 0, up, nil); err != nil {
		t.Fatal(err)
	}
	other := append(bytes.Clone(gc[:len(gc)-1]), gc[len(gc)-1]^1)
	if _, err := f.private(3).Decrypt(tr, 0, up, other, nil); !errors.Is(err, suite.ErrDecrypt) {
		t.Fatalf("wrong context: %v", err)
	}
}

// TestCreateExcludesNewMembers checks leaves added in the same Commit get no
// ciphertext, that the path still covers them, and that the joiner's path
// secret from PathSecretFor imports to the same commit secret (RFC 9420,
// Sections 7.6 and 12.4.3.1).
func TestCreateExcludesNewMembers(t *testing.T) {
	f := newFixture(t, 6, false)
	st := f.tree.Clone()
	p := f.params(0)
	p.Exclude = []LeafIndex{4, 5}
	pend, err := Create(st, p)
	if err != nil {
		t.Fatal(err)
	}
	gc := provisionalContext(f, st)
	up, err := pend.Encrypt(gc)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range up.Nodes {
		total += len(n.EncryptedPathSecret)
	}
	if total != 3 {
		t.Fatalf("%d ciphertexts, want 3 (leaves 1-3)", total)
	}
	if err := Merge(f.tree.Clone(), 0, up, nil); !errors.Is(err, ErrInvalidPath) {
		t.Fatalf("merge without the exclusion list accepted: %v", err)
	}
	tr := f.tree.Clone()
	if err := Merge(tr, 0, up, p.Exclude); err != nil {
		t.Fatal(err)
	}
	secret, node, ok := pend.PathSecretFor(5)
	if !ok {
		t.Fatal("no path secret for the joiner")
	}
	joiner := NewPrivateState(f.s, 5, f.leafPriv[5])
	cs, err := joiner.ImportPathSecret(tr, 0, node, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cs, pend.CommitSecret()) {
		t.Fatal("joiner's commit secret differs")
	}
	if _, err := f.private(5).Decrypt(tr, 0, up, gc, p.Exclude); !errors.Is(err, ErrInvalidPath) && !errors.Is(err, ErrNoKey) {
		t.Fatalf("excluded joiner decrypted a path secret: %v", err)
	}
}
