// Package treekem implements TreeKEM (RFC 9420, Sections 7.4-7.6): creating
// an UpdatePath (path secrets, node key pairs, parent hashes, the signed
// commit leaf, and the path secrets encrypted to the resolution of each
// copath child), merging and decrypting a received UpdatePath, the
// commit_secret, and the private key state a member holds for its path.
package treekem

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

type (
	NodeIndex = treemath.NodeIndex
	LeafIndex = treemath.LeafIndex
)

// Sentinel errors.
var (
	ErrInvalidPath = errors.New("mls/treekem: invalid UpdatePath")
	ErrNoKey       = errors.New("mls/treekem: no private key to decrypt the UpdatePath")
	ErrKeyMismatch = errors.New("mls/treekem: derived public key does not match")
)

const labelUpdatePathNode = "UpdatePathNode"

// nodeKeyPair derives the key pair of a path secret: node_secret =
// DeriveSecret(path_secret, "node"); KEM.DeriveKeyPair(node_secret)
// (Section 7.4).
func nodeKeyPair(s *suite.Suite, pathSecret []byte) (priv, pub []byte, err error) {
	ns := s.DeriveSecret(pathSecret, "node")
	defer clear(ns)
	return s.DeriveKeyPair(ns)
}

// nextPathSecret is path_secret[n] = DeriveSecret(path_secret[n-1], "path").
func nextPathSecret(s *suite.Suite, pathSecret []byte) []byte {
	return s.DeriveSecret(pathSecret, "path")
}

// PrivateState holds the HPKE private keys a member has for nodes of the
// tree: its own leaf and the nodes of its direct path it learned (Section
// 7.4, tree invariant). Entries are kept sorted by node index in one small
// slice.
type PrivateState struct {
	s     *suite.Suite
	leaf  LeafIndex
	nodes []NodeIndex
	keys  [][]byte
}

// NewPrivateState returns the state of the member at leaf holding the leaf
// private key leafPriv.
func NewPrivateState(s *suite.Suite, leaf LeafIndex, leafPriv []byte) *PrivateState {
	p := &PrivateState{s: s, leaf: leaf}
	p.set(leaf.Node(), slices.Clone(leafPriv))
	return p
}

// Leaf returns the member's leaf index.
func (p *PrivateState) Leaf() LeafIndex { return p.leaf }

// Key returns the private key held for node x (not to be modified).
func (p *PrivateState) Key(x NodeIndex) ([]byte, bool) {
	i, ok := slices.BinarySearch(p.nodes, x)
	if !ok {
		return nil, false
	}
	return p.keys[i], true
}

// Nodes returns the nodes a key is held for, in index order.
func (p *PrivateState) Nodes() []NodeIndex { return slices.Clone(p.nodes) }

func (p *PrivateState) set(x NodeIndex, priv []byte) {
	i, ok := slices.BinarySearch(p.nodes, x)
	if ok {
		clear(p.keys[i])
		p.keys[i] = priv
		return
	}
	p.nodes = slices.Insert(p.nodes, i, x)
	p.keys = slices.Insert(p.keys, i, priv)
}

func (p *PrivateState) remove(x NodeIndex) {
	i, ok := slices.BinarySearch(p.nodes, x)
	if !ok {
		return
	}
	clear(p.keys[i])
	p.nodes = slices.Delete(p.nodes, i, i+1)
	p.keys = slices.Delete(p.keys, i, i+1)
}

// Clone returns an independent copy (for staging a commit).
func (p *PrivateState) Clone() *PrivateState {
	c := &PrivateState{s: p.s, leaf: p.leaf, nodes: slices.Clone(p.nodes), keys: make([][]byte, len(p.keys))}
	for i, k := range p.keys {
		c.keys[i] = slices.Clone(k)
	}
	return c
}

// Destroy zeroes every private key (RFC 9420, Section 7.5: delete outdated
// key material).
func (p *PrivateState) Destroy() {
	for _, k := range p.keys {
		clear(k)
	}
	p.nodes, p.keys = nil, nil
}

// SetPathSecret derives the key pair of pathSecret for node x, checks the
// public key equals the tree's key for x, and stores the private key (used
// by a joiner with the Welcome's path_secret, Section 12.4.3.1).
func (p *PrivateState) SetPathSecret(t *tree.Tree, x NodeIndex, pathSecret []byte) error {
	priv, pub, err := nodeKeyPair(p.s, pathSecret)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(pub, t.EncryptionKey(x)) != 1 {
		clear(priv)
		return fmt.Errorf("%w: node %d", ErrKeyMismatch, x)
	}
	p.set(x, priv)
	return nil
}

// ImportPathSecret stores the keys derived from pathSecret, given for node x
// of sender's filtered direct path, and for every node above x on that path
// (Section 12.4.3.1: a joiner's path_secret from the Welcome). It returns
// the commit secret the chain leads to.
func (p *PrivateState) ImportPathSecret(t *tree.Tree, sender LeafIndex, x NodeIndex, pathSecret []byte) ([]byte, error) {
	fdp := t.FilteredDirectPath(sender)
	k := slices.Index(fdp, x)
	if k < 0 {
		return nil, fmt.Errorf("%w: node %d is not on the committer's filtered direct path", ErrInvalidPath, x)
	}
	return p.derivePath(t, fdp[k:], pathSecret)
}

// derivePath derives and checks keys for nodes from pathSecret (for
// nodes[0]) upward and returns the commit secret.
func (p *PrivateState) derivePath(t *tree.Tree, nodes []NodeIndex, pathSecret []byte) ([]byte, error) {
	ps := slices.Clone(pathSecret)
	privs := make([][]byte, len(nodes))
	for i, x := range nodes {
		priv, pub, err := nodeKeyPair(p.s, ps)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(pub, t.EncryptionKey(x)) != 1 {
			clear(priv)
			for _, k := range privs[:i] {
				clear(k)
			}
			return nil, fmt.Errorf("%w: node %d", ErrKeyMismatch, x)
		}
		privs[i] = priv
		next := nextPathSecret(p.s, ps)
		clear(ps)
		ps = next
	}
	for i, x := range nodes {
		p.set(x, privs[i])
	}
	return ps, nil
}

// Prune drops keys for nodes that are blank or whose public key changed
// (after Update, Remove or a merged path blanked them).
func (p *PrivateState) Prune(t *tree.Tree) {
	for i := len(p.nodes) - 1; i >= 0; i-- {
		x := p.nodes[i]
		if x == p.leaf.Node() {
			continue
		}
		if t.IsBlank(x) {
			p.remove(x)
		}
	}
}

// PathParams describes the UpdatePath to create.
type PathParams struct {
	// Leaf is the committer's leaf.
	Leaf LeafIndex
	// LeafNode is the template of the committer's new leaf: credential,
	// signature key, capabilities and extensions are kept; encryption_key,
	// leaf_node_source (commit), parent_hash and signature are set here.
	LeafNode *wire.LeafNode
	// Signer signs the new leaf (LeafNodeTBS with GroupID and Leaf).
	Signer  *suite.Signer
	GroupID []byte
	// Exclude lists the leaves added by the same Commit: they receive no
	// ciphertext (Section 7.6).
	Exclude []LeafIndex
	// Rand supplies the leaf secret; nil means crypto/rand.
	Rand io.Reader
}

// Pending is an UpdatePath whose tree side is applied but whose path
// secrets are not yet encrypted: the caller computes the new tree hash and
// the provisional GroupContext, then calls Encrypt.
type Pending struct {
	s            *suite.Suite
	t            *tree.Tree
	leaf         LeafIndex
	exclude      []LeafIndex
	leafNode     *wire.LeafNode
	fdp          []NodeIndex
	pub          [][]byte
	pathSecrets  [][]byte
	commitSecret []byte
	priv         *PrivateState
}

// Create generates a fresh leaf key pair and path secrets for p.Leaf,
// merges the new public keys and parent hashes into t (Section 7.5 steps
// 1-4) and sets the signed commit leaf. t is modified: pass a clone when
// staging a commit.
func Create(t *tree.Tree, p PathParams) (*Pending, error) {
	s := t.Suite()
	r := p.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, ok := t.Leaf(p.Leaf); !ok {
		return nil, fmt.Errorf("mls/treekem: committer leaf %d is blank", p.Leaf)
	}
	leafSecret := make([]byte, s.Nh())
	if _, err := io.ReadFull(r, leafSecret); err != nil {
		return nil, fmt.Errorf("mls/treekem: leaf secret: %w", err)
	}
	defer clear(leafSecret)
	return create(t, p, leafSecret)
}

func create(t *tree.Tree, p PathParams, leafSecret []byte) (*Pending, error) {
	s := t.Suite()
	leafPriv, leafPub, err := nodeKeyPair(s, leafSecret)
	if err != nil {
		return nil, err
	}
	fdp := t.FilteredDirectPath(p.Leaf)
	pend := &Pending{s: s, t: t, leaf: p.Leaf, exclude: slices.Clone(p.Exclude), fdp: fdp,
		pub: make([][]byte, len(fdp)), pathSecrets: make([][]byte, len(fdp))}
	priv := NewPrivateState(s, p.Leaf, leafPriv)
	clear(leafPriv)
	ps := nextPathSecret(s, leafSecret)
	for i, x := range fdp {
		pend.pathSecrets[i] = ps
		nodePriv, nodePub, err := nodeKeyPair(s, ps)
		if err != nil {
			return nil, err
		}
		priv.set(x, nodePriv)
		pend.pub[i] = nodePub
		ps = nextPathSecret(s, ps)
	}
	pend.commitSecret = ps
	leafPH, err := t.MergePath(p.Leaf, pend.pub)
	if err != nil {
		return nil, err
	}
	ln := *p.LeafNode
	ln.Raw = nil
	ln.EncryptionKey = leafPub
	ln.Source = wire.LeafNodeSourceCommit
	ln.Lifetime = wire.Lifetime{}
	ln.ParentHash = leafPH
	if err := tree.SignLeafNode(p.Signer, &ln, p.GroupID, p.Leaf); err != nil {
		return nil, err
	}
	if err := t.SetLeaf(p.Leaf, &ln); err != nil {
		return nil, err
	}
	pend.leafNode = &ln
	pend.priv = priv
	return pend, nil
}

// CommitSecret returns commit_secret = path_secret[n] (RFC 9420, Section
// 12.4.2). The slice is the caller's to keep.
func (p *Pending) CommitSecret() []byte { return slices.Clone(p.commitSecret) }

// Private returns the committer's new private state (leaf and path keys).
func (p *Pending) Private() *PrivateState { return p.priv }

// LeafNode returns the committer's new signed leaf.
func (p *Pending) LeafNode() *wire.LeafNode { return p.leafNode }

// PathSecretFor returns the path secret a new member at leaf learns from the
// Welcome (GroupSecrets.path_secret): the one for the lowest node of the
// committer's filtered direct path that is an ancestor of leaf, and that
// node (Section 12.4.3.1). ok is false if there is none.
func (p *Pending) PathSecretFor(leaf LeafIndex) (secret []byte, node NodeIndex, ok bool) {
	for i, x := range p.fdp {
		if treemath.IsInSubtree(leaf.Node(), x) {
			return slices.Clone(p.pathSecrets[i]), x, true
		}
	}
	return nil, 0, false
}

// Destroy zeroes the path secrets (call once the Welcome is built).
func (p *Pending) Destroy() {
	for _, s := range p.pathSecrets {
		clear(s)
	}
	clear(p.commitSecret)
}

// parallelThreshold is the number of encryptions from which Encrypt spreads
// the work over GOMAXPROCS goroutines (each costs tens of microseconds).
const parallelThreshold = 32

type encJob struct {
	node, slot int
	pub        []byte
}

// Encrypt encrypts each path secret to the resolution of its copath child,
// excluding new members (Sections 7.5, 7.6), using the serialized provisional
// GroupContext, and returns the UpdatePath.
func (p *Pending) Encrypt(groupContext []byte) (*wire.UpdatePath, error) {
	up := &wire.UpdatePath{LeafNode: *p.leafNode, Nodes: make([]wire.UpdatePathNode, len(p.fdp))}
	var jobs []encJob
	var res []NodeIndex
	for i, x := range p.fdp {
		res = p.t.ResolutionExcluding(res[:0], tree.CopathChild(x, p.leaf), p.exclude)
		up.Nodes[i] = wire.UpdatePathNode{EncryptionKey: p.pub[i], EncryptedPathSecret: make([]wire.HPKECiphertext, len(res))}
		for j, r := range res {
			jobs = append(jobs, encJob{node: i, slot: j, pub: p.t.EncryptionKey(r)})
		}
	}
	encrypt := func(j encJob) error {
		kem, ct, err := p.s.EncryptWithLabel(j.pub, labelUpdatePathNode, groupContext, p.pathSecrets[j.node])
		if err != nil {
			return fmt.Errorf("mls/treekem: encrypting path secret for node %d: %w", p.fdp[j.node], err)
		}
		up.Nodes[j.node].EncryptedPathSecret[j.slot] = wire.HPKECiphertext{KEMOutput: kem, Ciphertext: ct}
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs)/parallelThreshold+1)
	if workers < 2 {
		for _, j := range jobs {
			if err := encrypt(j); err != nil {
				return nil, err
			}
		}
		return up, nil
	}
	// Workers take jobs from a shared counter, so a core slowed by other
	// load does not hold back the rest.
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				if err := encrypt(jobs[i]); err != nil {
					errs[w] = err
					next.Store(int64(len(jobs)))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return up, nil
}

// Merge merges the public part of a received UpdatePath from sender into t
// (Section 7.5): it checks the path length against the filtered direct path
// and each node's ciphertext count against the copath resolution without
// the new members in exclude, blanks the sender's direct path, sets the new
// keys, recomputes parent hashes and checks that the new leaf's parent_hash
// matches (Section 7.9.2), then sets the sender's leaf. The caller must
// validate up.LeafNode first (tree.ValidateLeafNode with source commit). On
// error t may be partially modified: merge into a clone.
func Merge(t *tree.Tree, sender LeafIndex, up *wire.UpdatePath, exclude []LeafIndex) error {
	if _, ok := t.Leaf(sender); !ok {
		return fmt.Errorf("%w: sender leaf %d is blank", ErrInvalidPath, sender)
	}
	if up.LeafNode.Source != wire.LeafNodeSourceCommit {
		return fmt.Errorf("%w: leaf_node_source %d, want commit", ErrInvalidPath, up.LeafNode.Source)
	}
	fdp := t.FilteredDirectPath(sender)
	if len(up.Nodes) != len(fdp) {
		return fmt.Errorf("%w: %d nodes for a filtered direct path of %d", ErrInvalidPath, len(up.Nodes), len(fdp))
	}
	var res []NodeIndex
	keys := make([][]byte, len(fdp))
	for i, x := range fdp {
		res = t.ResolutionExcluding(res[:0], tree.CopathChild(x, sender), exclude)
		if len(up.Nodes[i].EncryptedPathSecret) != len(res) {
			return fmt.Errorf("%w: node %d has %d ciphertexts for a resolution of %d", ErrInvalidPath, x, len(up.Nodes[i].EncryptedPathSecret), len(res))
		}
		if err := t.Suite().ValidateHPKEPublicKey(up.Nodes[i].EncryptionKey); err != nil {
			return fmt.Errorf("%w: node %d encryption_key: %w", ErrInvalidPath, x, err)
		}
		keys[i] = up.Nodes[i].EncryptionKey
	}
	ph, err := t.MergePath(sender, keys)
	if err != nil {
		return err
	}
	if !bytes.Equal(ph, up.LeafNode.ParentHash) {
		return fmt.Errorf("%w: leaf parent_hash does not match the path (%w)", ErrInvalidPath, tree.ErrInvalidParentHash)
	}
	return t.SetLeaf(sender, &up.LeafNode)
}

// Decrypt processes a merged UpdatePath for the member holding p (Section
// 7.5, "decrypts the path secrets"): it finds the lowest node of the
// sender's filtered direct path above the member, decrypts the path secret
// with a private key it holds for the copath child's resolution, derives the
// keys up to the root checking each against the tree, replaces outdated keys
// and returns the commit secret. t must be the tree after Merge (the
// resolution of copath children is unchanged by the merge); groupContext is
// the serialized provisional GroupContext.
func (p *PrivateState) Decrypt(t *tree.Tree, sender LeafIndex, up *wire.UpdatePath, groupContext []byte, exclude []LeafIndex) ([]byte, error) {
	if sender == p.leaf {
		return nil, fmt.Errorf("%w: own UpdatePath", ErrInvalidPath)
	}
	fdp := t.FilteredDirectPath(sender)
	if len(up.Nodes) != len(fdp) {
		return nil, fmt.Errorf("%w: %d nodes for a filtered direct path of %d", ErrInvalidPath, len(up.Nodes), len(fdp))
	}
	k := -1
	for i, x := range fdp {
		if treemath.IsInSubtree(p.leaf.Node(), x) {
			k = i
			break
		}
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: member leaf %d is below no path node", ErrNoKey, p.leaf)
	}
	res := t.ResolutionExcluding(nil, tree.CopathChild(fdp[k], sender), exclude)
	cts := up.Nodes[k].EncryptedPathSecret
	if len(cts) != len(res) {
		return nil, fmt.Errorf("%w: node %d has %d ciphertexts for a resolution of %d", ErrInvalidPath, fdp[k], len(cts), len(res))
	}
	var pathSecret []byte
	found := false
	for j, r := range res {
		priv, ok := p.Key(r)
		if !ok {
			continue
		}
		found = true
		ps, err := p.s.DecryptWithLabel(priv, labelUpdatePathNode, groupContext, cts[j].KEMOutput, cts[j].Ciphertext)
		if err != nil {
			return nil, fmt.Errorf("mls/treekem: decrypting path secret at node %d: %w", fdp[k], err)
		}
		pathSecret = ps
		break
	}
	if !found {
		return nil, fmt.Errorf("%w: no key for the resolution of node %d", ErrNoKey, tree.CopathChild(fdp[k], sender))
	}
	defer clear(pathSecret)
	// Work on a copy so a failure leaves p unchanged. Outdated keys on the
	// sender's direct path are replaced (Section 7.5).
	c := p.Clone()
	for _, x := range treemath.DirectPath(nil, sender.Node(), t.NumLeaves()) {
		c.remove(x)
	}
	commitSecret, err := c.derivePath(t, fdp[k:], pathSecret)
	if err != nil {
		c.Destroy()
		return nil, err
	}
	p.Destroy()
	*p = *c
	return commitSecret, nil
}

// DecryptPathSecret is Decrypt without state changes: it returns the path
// secret the member learns and the node it belongs to (for tests and
// diagnostics).
func (p *PrivateState) DecryptPathSecret(t *tree.Tree, sender LeafIndex, up *wire.UpdatePath, groupContext []byte, exclude []LeafIndex) ([]byte, NodeIndex, error) {
	c := p.Clone()
	fdp := t.FilteredDirectPath(sender)
	for i, x := range fdp {
		if !treemath.IsInSubtree(p.leaf.Node(), x) {
			continue
		}
		res := t.ResolutionExcluding(nil, tree.CopathChild(x, sender), exclude)
		if i >= len(up.Nodes) || len(up.Nodes[i].EncryptedPathSecret) != len(res) {
			return nil, 0, ErrInvalidPath
		}
		for j, r := range res {
			if priv, ok := c.Key(r); ok {
				ps, err := p.s.DecryptWithLabel(priv, labelUpdatePathNode, groupContext, up.Nodes[i].EncryptedPathSecret[j].KEMOutput, up.Nodes[i].EncryptedPathSecret[j].Ciphertext)
				return ps, x, err
			}
		}
		return nil, 0, ErrNoKey
	}
	return nil, 0, ErrNoKey
}
