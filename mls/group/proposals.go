package group

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/mls/framing"
)

// resolvedProposal is a committed proposal with its sender (Section 12.4).
type resolvedProposal struct {
	prop   *proposal
	sender framing.Sender
	ref    []byte // nil when by value
}

// applied is the outcome of applying a proposal list (Section 12.3).
type applied struct {
	tree          *ratchetTree
	ctx           groupContext
	added         []uint32 // leaf indices of new members, in Add order
	addedKPs      []*keyPackage
	removed       []uint32
	removedLeaves []*leafNode
	updated       []uint32
	psks          []pskID
	externalInit  []byte // kem_output
	reinit        *reInit
	pathRequired  bool
}

// applyProposals validates the committed proposal list (Section 12.2) and applies it
// to a copy of the tree and GroupContext (Section 12.3). committer is the sender
// of the Commit; for an external commit its Type is SenderNewMemberCommit.
// It is used by members creating and processing commits and by PublicGroup.
func applyProposals(p *publicState, list []resolvedProposal, committer framing.Sender) (*applied, error) {
	s := p.cs
	external := committer.Type == framing.SenderNewMemberCommit
	a := &applied{tree: p.tree.clone(), ctx: p.ctx}
	a.ctx.Extensions = slices.Clone(p.ctx.Extensions)
	var nGCE, nExtInit, nReInit, nRemove int
	touched := map[uint32]bool{}
	pskKeys := map[string]bool{}
	if len(list) == 0 {
		a.pathRequired = true
	}
	// Pass 1: per-type validation of the list (Section 12.2).
	for i, rp := range list {
		pr := rp.prop
		if external {
			switch pr.Type {
			case propExternalInit, propRemove, propPSK:
			default:
				return nil, fmt.Errorf("%w: external commit carries proposal type %d", ErrInvalid, pr.Type)
			}
			if rp.ref != nil {
				return nil, fmt.Errorf("%w: external commit includes a proposal by reference", ErrInvalid)
			}
		}
		switch pr.Type {
		case propAdd:
		case propUpdate:
			a.pathRequired = true
			if rp.sender.Type != framing.SenderMember {
				return nil, fmt.Errorf("%w: proposals[%d]: Update from a non-member", ErrInvalid, i)
			}
			if committer.Type == framing.SenderMember && rp.sender.Index == committer.Index {
				return nil, fmt.Errorf("%w: proposals[%d]: Update from the committer", ErrInvalid, i)
			}
			if touched[rp.sender.Index] {
				return nil, fmt.Errorf("%w: proposals[%d]: several Update/Remove for leaf %d", ErrInvalid, i, rp.sender.Index)
			}
			touched[rp.sender.Index] = true
		case propRemove:
			a.pathRequired = true
			nRemove++
			if p.tree.leaf(pr.Removed) == nil {
				return nil, fmt.Errorf("%w: proposals[%d]: Remove of blank or absent leaf %d", ErrInvalid, i, pr.Removed)
			}
			if committer.Type == framing.SenderMember && pr.Removed == committer.Index {
				return nil, fmt.Errorf("%w: proposals[%d]: Remove of the committer", ErrInvalid, i)
			}
			if touched[pr.Removed] {
				return nil, fmt.Errorf("%w: proposals[%d]: several Update/Remove for leaf %d", ErrInvalid, i, pr.Removed)
			}
			touched[pr.Removed] = true
		case propPSK:
			if err := checkPSKProposal(p, pr.PSK); err != nil {
				return nil, fmt.Errorf("proposals[%d]: %w", i, err)
			}
			k := pskKey(pr.PSK)
			if pskKeys[k] {
				return nil, fmt.Errorf("%w: proposals[%d]: duplicate PreSharedKeyID", ErrInvalid, i)
			}
			pskKeys[k] = true
		case propReInit:
			nReInit++
			if pr.ReInit.Version < mls10 {
				return nil, fmt.Errorf("%w: proposals[%d]: ReInit.version below the group's", ErrInvalid, i)
			}
		case propExternalInit:
			a.pathRequired = true
			nExtInit++
			if !external {
				return nil, fmt.Errorf("%w: proposals[%d]: ExternalInit in a member commit", ErrInvalid, i)
			}
		case propGCE:
			a.pathRequired = true
			nGCE++
		default:
			return nil, fmt.Errorf("%w: proposals[%d]: unsupported proposal type %d", ErrInvalid, i, pr.Type)
		}
	}
	if nGCE > 1 {
		return nil, fmt.Errorf("%w: several GroupContextExtensions proposals", ErrInvalid)
	}
	if nReInit > 0 && len(list) != 1 {
		return nil, fmt.Errorf("%w: ReInit together with other proposals", ErrInvalid)
	}
	if external && (nExtInit != 1 || nRemove > 1) {
		return nil, fmt.Errorf("%w: external commit needs exactly one ExternalInit and at most one Remove", ErrInvalid)
	}
	// KeyPackages of Adds (Section 12.2, 10.1): independent signature checks,
	// run on every core before the list is applied.
	var adds []int
	for i, rp := range list {
		if rp.prop.Type == propAdd {
			adds = append(adds, i)
		}
	}
	if err := parallelFor(len(adds), func(k int) error {
		if err := p.verifyKeyPackage(list[adds[k]].prop.KeyPackage); err != nil {
			return fmt.Errorf("%w: proposals[%d]: Add: %w", ErrInvalid, adds[k], err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Pass 2: apply in the order of Section 12.3.
	for _, rp := range list {
		if rp.prop.Type == propGCE {
			a.ctx.Extensions = rp.prop.Extensions
			// Section 12.1.7: every member must support the new extensions.
			for _, l := range a.tree.leaves() {
				if err := checkLeafCapabilities(a.tree.leaf(l), &a.ctx); err != nil {
					return nil, fmt.Errorf("%w: GroupContextExtensions unsupported by leaf %d: %w", ErrInvalid, l, err)
				}
			}
		}
	}
	for i, rp := range list {
		if rp.prop.Type != propUpdate {
			continue
		}
		ln := rp.prop.LeafNode
		old := a.tree.leaf(rp.sender.Index)
		if old == nil {
			return nil, fmt.Errorf("%w: proposals[%d]: Update from blank leaf", ErrInvalid, i)
		}
		if err := p.checkLeaf(ln, leafSourceUpdate, rp.sender.Index, &a.ctx); err != nil {
			return nil, fmt.Errorf("proposals[%d]: Update: %w", i, err)
		}
		if bytes.Equal(ln.EncryptionKey, old.EncryptionKey) {
			return nil, fmt.Errorf("%w: proposals[%d]: Update keeps the encryption key", ErrInvalid, i)
		}
		if err := a.tree.updateLeaf(rp.sender.Index, ln); err != nil {
			return nil, fmt.Errorf("proposals[%d]: Update: %w", i, err)
		}
		a.updated = append(a.updated, rp.sender.Index)
	}
	for _, rp := range list {
		if rp.prop.Type != propRemove {
			continue
		}
		a.removedLeaves = append(a.removedLeaves, a.tree.leaf(rp.prop.Removed))
		if err := a.tree.removeLeaf(rp.prop.Removed); err != nil {
			return nil, err
		}
		a.removed = append(a.removed, rp.prop.Removed)
	}
	var keys *treeKeys // built on the first Add: uniqueness in O(1) per Add
	for i, rp := range list {
		if rp.prop.Type != propAdd {
			continue
		}
		if keys == nil {
			keys = indexTreeKeys(a.tree)
		}
		kp := rp.prop.KeyPackage
		if err := checkLeafCapabilities(&kp.LeafNode, &a.ctx); err != nil {
			return nil, fmt.Errorf("%w: proposals[%d]: Add: %w", ErrInvalid, i, err)
		}
		if err := keys.unique(&kp.LeafNode); err != nil {
			return nil, fmt.Errorf("proposals[%d]: Add: %w", i, err)
		}
		l, err := a.tree.addLeaf(&kp.LeafNode)
		if err != nil {
			return nil, fmt.Errorf("proposals[%d]: Add: %w", i, err)
		}
		keys.add(&kp.LeafNode, l)
		a.added = append(a.added, l)
		a.addedKPs = append(a.addedKPs, kp)
	}
	for _, rp := range list {
		switch rp.prop.Type {
		case propPSK:
			a.psks = append(a.psks, *rp.prop.PSK)
		case propExternalInit:
			a.externalInit = rp.prop.KEMOutput
		case propReInit:
			a.reinit = rp.prop.ReInit
		}
	}
	_ = s
	return a, nil
}

// uniqueLeaf checks that ln's signature and encryption keys appear in no other leaf
// (Section 7.3) and no parent node.
func uniqueLeaf(t *ratchetTree, ln *leafNode, except uint32) error {
	for _, l := range t.leaves() {
		if l == except {
			continue
		}
		o := t.wireLeaf(l)
		if bytes.Equal(o.SignatureKey, ln.SignatureKey) {
			return fmt.Errorf("%w: signature key already used by leaf %d", ErrInvalid, l)
		}
		if bytes.Equal(o.EncryptionKey, ln.EncryptionKey) {
			return fmt.Errorf("%w: encryption key already used by leaf %d", ErrInvalid, l)
		}
	}
	for i := uint32(1); i < t.width(); i += 2 {
		if pub := t.encKey(i); pub != nil && bytes.Equal(pub, ln.EncryptionKey) {
			return fmt.Errorf("%w: encryption key already used by parent node %d", ErrInvalid, i)
		}
	}
	return nil
}

// treeKeys indexes the signature keys of the leaves and the encryption keys of
// every node, so that a commit adding many members checks each new leaf's
// uniqueness (Section 7.3) in constant time.
type treeKeys struct {
	sig map[string]uint32 // signature key -> leaf
	enc map[string]uint32 // encryption key -> node
}

func indexTreeKeys(t *ratchetTree) *treeKeys {
	k := &treeKeys{sig: map[string]uint32{}, enc: map[string]uint32{}}
	for x := uint32(0); x < t.width(); x++ {
		if pub := t.encKey(x); pub != nil {
			k.enc[string(pub)] = x
		}
		if isLeafNode(x) {
			if sk := t.signatureKey(x / 2); sk != nil {
				k.sig[string(sk)] = x / 2
			}
		}
	}
	return k
}

func (k *treeKeys) unique(ln *leafNode) error {
	if l, ok := k.sig[string(ln.SignatureKey)]; ok {
		return fmt.Errorf("%w: signature key already used by leaf %d", ErrInvalid, l)
	}
	if x, ok := k.enc[string(ln.EncryptionKey)]; ok {
		if isLeafNode(x) {
			return fmt.Errorf("%w: encryption key already used by leaf %d", ErrInvalid, x/2)
		}
		return fmt.Errorf("%w: encryption key already used by parent node %d", ErrInvalid, x)
	}
	return nil
}

func (k *treeKeys) add(ln *leafNode, l uint32) {
	k.sig[string(ln.SignatureKey)] = l
	k.enc[string(ln.EncryptionKey)] = 2 * l
}

func checkPSKProposal(p *publicState, id *pskID) error {
	if len(id.Nonce) != p.cs.Nh() {
		return fmt.Errorf("%w: psk_nonce length %d, want %d", ErrInvalid, len(id.Nonce), p.cs.Nh())
	}
	// Branch and reinit PSKs appear only in the first commit of a new group
	// (Sections 11.2, 11.3).
	if id.Type == pskResumption && id.Usage != usageApplication && p.ctx.Epoch != 0 {
		return fmt.Errorf("%w: resumption PSK proposal with usage %d", ErrInvalid, id.Usage)
	}
	return nil
}
