package group

import (
	"bytes"
	"fmt"
	"io"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/treekem"
	"github.com/daylight-im/daylight/mls/wire"
)

// StagedCommit is a validated Commit that has not been merged: inspect it, then
// Merge it (RFC 9420, Section 12.4.2, "stage then merge").
type StagedCommit struct {
	base      *Group
	baseEpoch uint64

	ctx        groupContext
	tree       *ratchetTree
	interim    []byte
	confTag    []byte
	own        uint32
	removed    bool
	priv       *treekem.PrivateState // our keys in the new epoch (nil if removed)
	secrets    *keyschedule.EpochSecrets
	secretTree *secrettree.Tree
	escrowEnc  []byte // copy of encryption_secret when Config.KeepEscrowSecrets
	reinit     *reInit
	a          *applied
	committer  uint32
}

// NewEpoch returns the epoch the commit leads to.
func (sc *StagedCommit) NewEpoch() uint64 { return sc.ctx.Epoch }

// Added returns the leaf indices of members the commit adds.
func (sc *StagedCommit) Added() []uint32 { return append([]uint32(nil), sc.a.added...) }

// Removed returns the leaf indices of members the commit removes.
func (sc *StagedCommit) Removed() []uint32 { return append([]uint32(nil), sc.a.removed...) }

// Updated returns the leaf indices whose Update proposals the commit applies.
func (sc *StagedCommit) Updated() []uint32 { return append([]uint32(nil), sc.a.updated...) }

// RemovesSelf reports whether the commit removes the member that staged it.
func (sc *StagedCommit) RemovesSelf() bool { return sc.removed }

// Extensions returns the GroupContext extensions of the new epoch.
func (sc *StagedCommit) Extensions() []Extension {
	return fromWireExtensions(sc.ctx.Extensions)
}

// EpochAuthenticator returns the new epoch's epoch_authenticator (nil if removed).
func (sc *StagedCommit) EpochAuthenticator() []byte {
	if sc.secrets == nil {
		return nil
	}
	return clone(sc.secrets.EpochAuthenticator)
}

// ReInit reports whether the commit carried a ReInit proposal.
func (sc *StagedCommit) ReInit() bool { return sc.reinit != nil }

// resolve turns the Commit's ProposalOrRef list into proposals with senders, from
// the proposals cached in this epoch.
func resolve(cache []cachedProposal, c *commit, committer framing.Sender) ([]resolvedProposal, error) {
	list := make([]resolvedProposal, 0, len(c.Proposals))
	for i, por := range c.Proposals {
		if por.Proposal != nil {
			list = append(list, resolvedProposal{prop: por.Proposal, sender: committer})
			continue
		}
		found := false
		for _, cp := range cache {
			if bytes.Equal(cp.ref, por.Reference) {
				list = append(list, resolvedProposal{prop: cp.prop, sender: cp.sender, ref: cp.ref})
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: proposals[%d]: unknown proposal reference %x", ErrInvalid, i, por.Reference)
		}
	}
	return list, nil
}

// publicStage is the outcome of the validation every party runs on a commit.
type publicStage struct {
	c          *commit
	list       []resolvedProposal
	a          *applied
	senderLeaf uint32
	newCtx     groupContext     // next epoch's context (tree hash, confirmed transcript hash)
	path       *wire.UpdatePath // the merged UpdatePath, if any
}

// stagePublic validates a commit and computes the next tree and GroupContext
// without any secret (RFC 9420, Sections 12.2, 12.3, 12.4.2, 7.9.2). Group and
// PublicGroup both call it: the server validates with the same code as members.
// The signature of member and external senders must already be verified.
func (p *publicState) stagePublic(ac *framing.AuthenticatedContent, cache []cachedProposal) (*publicStage, error) {
	c, err := parseCommit(ac.Content.Body)
	if err != nil {
		return nil, err
	}
	committer := ac.Content.Sender
	list, err := resolve(cache, c, committer)
	if err != nil {
		return nil, err
	}
	a, err := applyProposals(p, list, committer)
	if err != nil {
		return nil, err
	}
	if a.pathRequired && c.Path == nil {
		return nil, fmt.Errorf("%w: commit without path but its proposals require one", ErrInvalid)
	}
	var senderLeaf uint32
	switch committer.Type {
	case framing.SenderMember:
		senderLeaf = committer.Index
		if !a.tree.hasLeaf(senderLeaf) {
			return nil, fmt.Errorf("%w: committer leaf removed", ErrInvalid)
		}
	case framing.SenderNewMemberCommit:
		if c.Path == nil {
			return nil, fmt.Errorf("%w: external commit without path", ErrInvalid)
		}
		// Section 12.4.3.2: signed by the joiner's new leaf.
		if err := ac.VerifySignature(p.cs, c.Path.LeafNode.SignatureKey, p.ctxBytes); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		for _, r := range a.removed {
			// Section 12.4.3.2: a resync removes an old version of the joiner.
			if !a.removedLeavesIdentity(r, &c.Path.LeafNode) {
				return nil, fmt.Errorf("%w: external commit removes another member", ErrInvalid)
			}
		}
		if senderLeaf, err = a.tree.addLeaf(&c.Path.LeafNode); err != nil { // replaced when the path is merged
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: commit from sender type %d", ErrInvalid, committer.Type)
	}
	newCtx := a.ctx
	newCtx.Epoch = p.ctx.Epoch + 1
	var wup *wire.UpdatePath
	if c.Path != nil {
		if wup, err = p.applyPath(a, senderLeaf, c.Path, committer.Type == framing.SenderNewMemberCommit); err != nil {
			return nil, err
		}
	}
	newCtx.TreeHash = a.tree.rootHash()
	input, err := ac.ConfirmedTranscriptHashInput()
	if err != nil {
		return nil, err
	}
	newCtx.ConfirmedTranscriptHash = keyschedule.ConfirmedTranscriptHash(p.cs, p.interim, input)
	return &publicStage{c: c, list: list, a: a, senderLeaf: senderLeaf, newCtx: newCtx, path: wup}, nil
}

// removedLeavesIdentity reports whether removed leaf r had the same identity as ln.
func (a *applied) removedLeavesIdentity(r uint32, ln *leafNode) bool {
	for i, x := range a.removed {
		if x == r {
			return a.removedLeaves[i].Credential.Equal(&ln.Credential)
		}
	}
	return false
}

// stageReceived validates and stages a commit from another member or a joiner.
func (g *Group) stageReceived(ac *framing.AuthenticatedContent) (*StagedCommit, error) {
	committer := ac.Content.Sender
	if committer.Type == framing.SenderMember && committer.Index == g.own {
		return nil, fmt.Errorf("%w: own commit (use MergePendingCommit)", ErrInvalid)
	}
	ps, err := g.publicState.stagePublic(ac, g.proposals)
	if err != nil {
		return nil, err
	}
	a := ps.a
	sc := &StagedCommit{base: g, baseEpoch: g.ctx.Epoch, a: a, tree: a.tree, ctx: ps.newCtx, own: g.own, reinit: a.reinit, committer: ps.senderLeaf}
	// Our own committed Update gives our leaf a new key pair. The private state is
	// staged on a copy: nothing in g changes until Merge.
	var updateKey []byte
	for _, rp := range ps.list {
		if rp.prop.Type == propUpdate && rp.sender.Index == g.own && rp.sender.Type == framing.SenderMember {
			kp, ok := g.pendingUpdates[string(rp.ref)]
			if !ok {
				return nil, fmt.Errorf("%w: commit applies an Update of ours we do not know", ErrInvalid)
			}
			updateKey = kp.priv
		}
	}
	for _, r := range a.removed {
		if r == g.own {
			sc.removed = true
		}
	}
	if sc.removed {
		// A removed member cannot derive the new epoch; the commit is still valid.
		return sc, nil
	}
	priv := g.priv.Clone()
	if updateKey != nil {
		priv.SetLeafKey(updateKey)
	}
	commitSecret := keyschedule.ZeroCommitSecret(g.cs)
	if ps.path != nil {
		// Section 7.5: decrypt our path secret under the provisional GroupContext,
		// derive the path keys to the root and check them against the tree.
		prov := ps.newCtx
		prov.ConfirmedTranscriptHash = g.ctx.ConfirmedTranscriptHash
		secret, err := priv.Decrypt(a.tree.t, tree.LeafIndex(ps.senderLeaf), ps.path, prov.Marshal(), leafIndices(a.added))
		if err != nil {
			priv.Destroy()
			return nil, fmt.Errorf("%w: UpdatePath: %w", ErrInvalid, err)
		}
		commitSecret, err = keyschedule.NewCommitSecret(g.cs, secret)
		clear(secret)
		if err != nil {
			priv.Destroy()
			return nil, err
		}
	}
	// Drop keys for nodes the commit blanked.
	priv.Prune(a.tree.t)
	sc.priv = priv
	init := g.secrets.Init
	if a.externalInit != nil {
		priv, _, err := g.secrets.External.KeyPair()
		if err != nil {
			return nil, err
		}
		if init, err = keyschedule.ExternalInitReceive(g.cs, priv, a.externalInit); err != nil {
			return nil, fmt.Errorf("%w: ExternalInit: %w", ErrInvalid, err)
		}
	}
	if err := g.deriveStaged(sc, init, commitSecret, a.psks); err != nil {
		return nil, err
	}
	if !sc.secrets.Confirmation.Verify(sc.ctx.ConfirmedTranscriptHash, ac.Auth.ConfirmationTag) {
		return nil, fmt.Errorf("%w: confirmation_tag does not verify", ErrInvalid)
	}
	sc.confTag = clone(ac.Auth.ConfirmationTag)
	sc.interim = keyschedule.InterimTranscriptHash(g.cs, sc.ctx.ConfirmedTranscriptHash, sc.confTag)
	return sc, nil
}

// deriveStaged runs the key schedule for the staged epoch (Section 8).
func (g *Group) deriveStaged(sc *StagedCommit, init *keyschedule.InitSecret, commitSecret *keyschedule.CommitSecret, psks []pskID) error {
	psk, err := g.pskSecret(psks, nil)
	if err != nil {
		return err
	}
	ctxBytes := sc.ctx.Marshal()
	joiner, err := init.JoinerSecret(commitSecret, ctxBytes)
	if err != nil {
		return err
	}
	es, err := joiner.EpochSecret(psk, ctxBytes)
	joiner.Destroy()
	if err != nil {
		return err
	}
	sc.secrets = es.Derive()
	es.Destroy()
	sc.escrowEnc = g.escrowCopy(sc.secrets)
	sc.secretTree, err = secrettree.New(g.cs, sc.secrets.Encryption, sc.tree.nLeaves(), g.secretTreeConfig())
	return err
}

// applyPath validates the UpdatePath and merges it into a.tree with
// treekem.Merge (Sections 7.5, 7.9.2, 12.4.2).
func (p *publicState) applyPath(a *applied, sender uint32, up *updatePath, external bool) (*wire.UpdatePath, error) {
	t := a.tree
	if err := p.checkLeaf(&up.LeafNode, leafSourceCommit, sender, &a.ctx); err != nil {
		return nil, fmt.Errorf("UpdatePath.leaf_node: %w", err)
	}
	if !external {
		if old := t.encKey(2 * sender); old != nil && bytes.Equal(old, up.LeafNode.EncryptionKey) {
			return nil, fmt.Errorf("%w: UpdatePath keeps the committer's encryption key", ErrInvalid)
		}
	}
	if err := uniqueLeaf(t, &up.LeafNode, sender); err != nil {
		return nil, err
	}
	path, _ := t.filteredDirectPath(sender)
	if len(path) != len(up.Nodes) {
		return nil, fmt.Errorf("%w: UpdatePath has %d nodes, filtered direct path %d", ErrInvalid, len(up.Nodes), len(path))
	}
	keys := make(map[string]bool, len(up.Nodes)+1)
	keys[string(up.LeafNode.EncryptionKey)] = true
	for _, n := range up.Nodes {
		if keys[string(n.EncryptionKey)] {
			return nil, fmt.Errorf("%w: UpdatePath repeats a public key", ErrInvalid)
		}
		keys[string(n.EncryptionKey)] = true
	}
	for x := uint32(0); x < t.width(); x++ {
		if x == 2*sender {
			continue
		}
		if pub := t.encKey(x); pub != nil && keys[string(pub)] {
			return nil, fmt.Errorf("%w: UpdatePath public key already in the tree", ErrInvalid)
		}
	}
	wup, err := wire.ParseUpdatePath(up.Marshal())
	if err != nil {
		return nil, fmt.Errorf("%w: UpdatePath: %w", ErrInvalid, err)
	}
	// Merge (Section 7.5): ciphertext counts per copath resolution (new members
	// excluded), blank the direct path, set keys, parent hashes, leaf parent_hash.
	if err := treekem.Merge(t.t, tree.LeafIndex(sender), wup, leafIndices(a.added)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return wup, nil
}

// Merge applies a staged commit (RFC 9420, Section 12.4.2), deleting the old epoch's
// secrets (Section 9.2).
func (g *Group) Merge(sc *StagedCommit) error {
	if sc == nil || sc.base != g || sc.baseEpoch != g.ctx.Epoch {
		return fmt.Errorf("%w: staged commit is not for this group state", ErrInvalid)
	}
	g.apply(sc)
	return nil
}

func (g *Group) apply(sc *StagedCommit) {
	if g.secrets != nil && g.secretTree != nil {
		if sd, err := keyschedule.NewSenderDataSecret(g.cs, g.secrets.SenderData.Bytes()); err == nil {
			g.past = append(g.past, &pastEpoch{pub: g.publicState, secretTree: g.secretTree, senderData: sd})
		} else {
			g.secretTree.Destroy()
		}
		for len(g.past) > maxPastEpochs {
			g.past[0].secretTree.Destroy()
			g.past[0].senderData.Destroy()
			g.past = g.past[1:]
		}
	}
	if g.secrets != nil {
		g.secrets.Destroy()
	}
	clear(g.escrowEnc)
	g.escrowEnc = sc.escrowEnc
	// Section 9.2: the replaced private keys are zeroed (sc.priv holds copies).
	if g.priv != nil && g.priv != sc.priv {
		g.priv.Destroy()
	}
	g.tree = sc.tree
	g.setContext(sc.ctx)
	g.interim, g.confTag = sc.interim, sc.confTag
	g.priv = sc.priv
	g.removed = sc.removed
	g.reinit = sc.reinit
	g.proposals = nil
	for _, kp := range g.pendingUpdates {
		clear(kp.priv) // a committed one was copied into g.priv
	}
	g.pendingUpdates = map[string]keyPair{}
	g.sent = map[string][]byte{}
	g.pending = nil
	if sc.removed {
		clear(g.escrowEnc)
		g.secrets, g.secretTree, g.escrowEnc = nil, nil, nil
		return
	}
	g.secrets = sc.secrets
	g.secretTree = sc.secretTree
	g.resumption[g.ctx.Epoch] = g.secrets.Resumption.Bytes()
	g.pruneResumption()
}

// wireFormat is the wire format for handshake messages.
func (g *Group) handshakeWireFormat() framing.WireFormat {
	if g.cfg.EncryptHandshake {
		return framing.WireFormatPrivateMessage
	}
	return framing.WireFormatPublicMessage
}

// protect encodes signed content as an MLSMessage in the content's wire format.
func (g *Group) protect(ac *framing.AuthenticatedContent) ([]byte, error) {
	switch ac.WireFormat {
	case framing.WireFormatPublicMessage:
		pm, err := framing.ProtectPublic(ac, g.secrets.Membership, g.ctxBytes)
		if err != nil {
			return nil, err
		}
		return publicMessageBytes(pm)
	default:
		pm, err := framing.ProtectPrivate(g.cs, ac, g.secretTree, g.secrets.SenderData, framing.PrivateOptions{Rand: g.cfg.rand(), PadBlock: g.cfg.PadBlock})
		if err != nil {
			return nil, err
		}
		body, err := pm.Marshal()
		if err != nil {
			return nil, err
		}
		return mlsMessageBytes(wireFormatPrivate, func(w *codec.Builder) { w.Raw(body) }), nil
	}
}

func (g *Group) checkActive(op string) error {
	if g.removed {
		return fmt.Errorf("mls/group: %s: %w: removed from the group", op, ErrInvalid)
	}
	if g.reinit != nil {
		return fmt.Errorf("mls/group: %s: %w: the group was reinitialised", op, ErrInvalid)
	}
	return nil
}

// Protect encrypts application data as a PrivateMessage (RFC 9420, Section 6.3).
func (g *Group) Protect(aad, plaintext []byte) ([]byte, error) {
	if err := g.checkActive("Protect"); err != nil {
		return nil, err
	}
	if g.pending != nil {
		// Section 12.4: a member with a pending commit still sends in the old epoch.
	}
	content := framing.FramedContent{GroupID: g.ctx.GroupID, Epoch: g.ctx.Epoch, Sender: framing.Sender{Type: framing.SenderMember, Index: g.own},
		AuthenticatedData: clone(aad), ContentType: framing.ContentApplication, Body: clone(plaintext)}
	ac, err := g.signContent(framing.WireFormatPrivateMessage, content)
	if err != nil {
		return nil, err
	}
	return g.protect(ac)
}

// Propose creates a proposal message, caches it for this member's next Commit and
// returns the MLSMessage (RFC 9420, Section 12.1).
func (g *Group) Propose(spec ProposalSpec) ([]byte, error) {
	if err := g.checkActive("Propose"); err != nil {
		return nil, err
	}
	pr, upd, err := g.buildProposal(spec)
	if err != nil {
		return nil, fmt.Errorf("mls/group: Propose: %w", err)
	}
	if pr.Type == propPSK {
		// A member proposes only PSKs it holds (Section 12.1.4).
		if _, err := g.pskSecret([]pskID{*pr.PSK}, nil); err != nil {
			return nil, fmt.Errorf("mls/group: Propose: %w", err)
		}
	}
	content := framing.FramedContent{GroupID: g.ctx.GroupID, Epoch: g.ctx.Epoch, Sender: framing.Sender{Type: framing.SenderMember, Index: g.own},
		ContentType: framing.ContentProposal, Body: pr.Marshal()}
	ac, err := g.signContent(g.handshakeWireFormat(), content)
	if err != nil {
		return nil, err
	}
	ref, err := g.proposalRef(ac)
	if err != nil {
		return nil, err
	}
	msg, err := g.protect(ac)
	if err != nil {
		return nil, err
	}
	if upd != nil {
		g.pendingUpdates[string(ref)] = *upd
	}
	g.cacheProposal(cachedProposal{ref: ref, prop: pr, sender: content.Sender})
	g.sent[string(msg)] = ref
	return msg, nil
}

func (g *Group) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(g.cfg.rand(), b); err != nil {
		return nil, err
	}
	return b, nil
}

// buildProposal turns a ProposalSpec into a Proposal; for an Update it also returns
// the new leaf key pair.
func (g *Group) buildProposal(spec ProposalSpec) (*proposal, *keyPair, error) {
	switch spec.Type {
	case ProposalAdd:
		kp, err := parseKeyPackageAny(spec.KeyPackage)
		if err != nil {
			return nil, nil, err
		}
		if err := g.verifyKeyPackage(kp); err != nil {
			return nil, nil, err
		}
		return &proposal{Type: propAdd, KeyPackage: kp}, nil, nil
	case ProposalUpdate:
		priv, pub, err := g.cs.GenerateKeyPair(g.cfg.rand())
		if err != nil {
			return nil, nil, err
		}
		ln := *g.tree.leaf(g.own)
		ln.EncryptionKey = pub
		ln.Source = leafSourceUpdate
		ln.ParentHash = nil
		ln.Lifetime.NotBefore, ln.Lifetime.NotAfter = 0, 0
		if ln.Signature, err = g.signWithLabel(labelLeafNodeTBS, ln.AppendTBS(nil, g.ctx.GroupID, g.own)); err != nil {
			return nil, nil, err
		}
		return &proposal{Type: propUpdate, LeafNode: &ln}, &keyPair{priv, pub}, nil
	case ProposalRemove:
		leaf := spec.RemovedLeaf
		if spec.RemovedIdentity != nil {
			found := false
			for _, l := range g.tree.leaves() {
				if bytes.Equal(g.tree.identity(l), spec.RemovedIdentity) {
					leaf, found = l, true
					break
				}
			}
			if !found {
				return nil, nil, fmt.Errorf("no member with identity %q", spec.RemovedIdentity)
			}
		}
		if !g.tree.hasLeaf(leaf) {
			return nil, nil, fmt.Errorf("leaf %d is blank", leaf)
		}
		return &proposal{Type: propRemove, Removed: leaf}, nil, nil
	case ProposalExternalPSK, ProposalResumptionPSK:
		nonce, err := g.randomBytes(g.cs.Nh())
		if err != nil {
			return nil, nil, err
		}
		id := &pskID{Type: pskExternal, PSKID: clone(spec.PSKID), Nonce: nonce}
		if spec.Type == ProposalResumptionPSK {
			id = &pskID{Type: pskResumption, Usage: usageApplication, PSKGroupID: clone(g.ctx.GroupID), PSKEpoch: spec.Epoch, Nonce: nonce}
			if spec.pskUsage != 0 {
				id.Usage, id.PSKGroupID = wire.ResumptionPSKUsage(spec.pskUsage), clone(spec.pskGroupID)
			}
		}
		return &proposal{Type: propPSK, PSK: id}, nil, nil
	case ProposalGroupContextExtensions:
		return &proposal{Type: propGCE, Extensions: nonNil(toWireExtensions(spec.Extensions))}, nil, nil
	case ProposalReInit:
		return &proposal{Type: propReInit, ReInit: &reInit{GroupID: clone(spec.GroupID), Version: mls10, CipherSuite: wire.CipherSuite(spec.CipherSuite), Extensions: nonNil(toWireExtensions(spec.Extensions))}}, nil, nil
	}
	return nil, nil, fmt.Errorf("%w: proposal type %d", ErrUnsupported, spec.Type)
}
