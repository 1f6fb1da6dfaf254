package group

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/treekem"
	"github.com/daylight-im/daylight/mls/wire"
)

// pendingCommit is a Commit this member created and has not merged yet.
type pendingCommit struct {
	staged *StagedCommit
}

// Commit creates a Commit covering every proposal cached in this epoch (received
// or sent, except this member's own Updates) plus opts.ByValue, and the Welcome
// for added members (RFC 9420, Section 12.4.1). The Group stays in the current
// epoch until MergePendingCommit; calling Commit again replaces the pending one.
func (g *Group) Commit(opts CommitOptions) (*CommitResult, error) {
	if err := g.checkActive("Commit"); err != nil {
		return nil, err
	}
	res, sc, err := g.createCommit(opts, nil)
	if err != nil {
		return nil, fmt.Errorf("mls/group: Commit: %w", err)
	}
	g.pending = &pendingCommit{staged: sc}
	return res, nil
}

// MergePendingCommit enters the epoch of the Commit created by Commit.
func (g *Group) MergePendingCommit() error {
	if g.pending == nil {
		return ErrNoPendingCommit
	}
	g.apply(g.pending.staged)
	return nil
}

// externalJoinInput carries what ExternalJoin adds to a commit.
type externalJoinInput struct {
	init  *keyschedule.InitSecret
	leaf  *leafNode
	extra []*proposal // ExternalInit, then an optional Remove of the prior self
}

func (g *Group) createCommit(opts CommitOptions, ext *externalJoinInput) (*CommitResult, *StagedCommit, error) {
	committer := framing.Sender{Type: framing.SenderMember, Index: g.own}
	if ext != nil {
		committer = framing.Sender{Type: framing.SenderNewMemberCommit}
	}
	var c commit
	var list []resolvedProposal
	if ext == nil {
		for _, cp := range g.proposals {
			if cp.sender.Type == framing.SenderMember && cp.sender.Index == g.own && cp.prop.Type == propUpdate {
				continue // Section 12.2: the committer cannot commit its own Update.
			}
			c.Proposals = append(c.Proposals, proposalOrRef{Reference: cp.ref})
			list = append(list, resolvedProposal{prop: cp.prop, sender: cp.sender, ref: cp.ref})
		}
	}
	if ext != nil {
		for _, pr := range ext.extra {
			c.Proposals = append(c.Proposals, proposalOrRef{Proposal: pr})
			list = append(list, resolvedProposal{prop: pr, sender: committer})
		}
	}
	for i, spec := range opts.ByValue {
		var pr *proposal
		if spec.Type == ProposalAdd {
			// Parsed here, verified by applyProposals with the other Adds on every core.
			kp, err := parseKeyPackageAny(spec.KeyPackage)
			if err != nil {
				return nil, nil, fmt.Errorf("by_value[%d]: %w", i, err)
			}
			pr = &proposal{Type: propAdd, KeyPackage: kp}
		} else {
			var err error
			if pr, _, err = g.buildProposal(spec); err != nil {
				return nil, nil, fmt.Errorf("by_value[%d]: %w", i, err)
			}
		}
		c.Proposals = append(c.Proposals, proposalOrRef{Proposal: pr})
		list = append(list, resolvedProposal{prop: pr, sender: committer})
	}
	a, err := applyProposals(&g.publicState, list, committer)
	if err != nil {
		return nil, nil, err
	}
	sc := &StagedCommit{base: g, baseEpoch: g.ctx.Epoch, a: a, tree: a.tree, reinit: a.reinit, own: g.own}
	newCtx := a.ctx
	newCtx.Epoch = g.ctx.Epoch + 1
	commitSecret := keyschedule.ZeroCommitSecret(g.cs)
	var pend *treekem.Pending
	if a.pathRequired || opts.ForcePath || ext != nil {
		sender := g.own
		if ext != nil {
			if sender, err = a.tree.addLeaf(ext.leaf); err != nil {
				return nil, nil, err
			}
			sc.own = sender
		}
		var cs []byte
		c.Path, pend, cs, err = g.createPath(a, sender, &newCtx, ext)
		if err != nil {
			return nil, nil, err
		}
		defer pend.Destroy()
		commitSecret, err = keyschedule.NewCommitSecret(g.cs, cs)
		clear(cs)
		if err != nil {
			return nil, nil, err
		}
	}
	// Our keys in the new epoch: with a path, the new leaf and path keys of
	// treekem.Create (the rest of our direct path is blanked by it); without, a
	// copy of the current ones minus the nodes the proposals blanked.
	if pend != nil {
		sc.priv = pend.Private()
	} else {
		sc.priv = g.priv.Clone()
	}
	sc.priv.Prune(a.tree.t)
	sc.committer = sc.own
	newCtx.TreeHash = a.tree.rootHash()

	// Frame and sign with the old GroupContext (Section 12.4.1).
	wf := g.handshakeWireFormat()
	if ext != nil {
		wf = framing.WireFormatPublicMessage
	}
	content := framing.FramedContent{GroupID: g.ctx.GroupID, Epoch: g.ctx.Epoch, Sender: committer, AuthenticatedData: clone(opts.AuthenticatedData), ContentType: framing.ContentCommit, Body: c.Marshal()}
	ac, err := g.signContent(wf, content)
	if err != nil {
		return nil, nil, err
	}
	input, err := ac.ConfirmedTranscriptHashInput()
	if err != nil {
		return nil, nil, err
	}
	newCtx.ConfirmedTranscriptHash = keyschedule.ConfirmedTranscriptHash(g.cs, g.interim, input)
	sc.ctx = newCtx
	var init *keyschedule.InitSecret
	if ext != nil {
		init = ext.init
	} else {
		init = g.secrets.Init
	}
	psk, err := g.pskSecret(a.psks, nil)
	if err != nil {
		return nil, nil, err
	}
	ctxBytes := newCtx.Marshal()
	joiner, err := init.JoinerSecret(commitSecret, ctxBytes)
	if err != nil {
		return nil, nil, err
	}
	es, err := joiner.EpochSecret(psk, ctxBytes)
	if err != nil {
		return nil, nil, err
	}
	sc.secrets = es.Derive()
	es.Destroy()
	sc.confTag = sc.secrets.Confirmation.Tag(newCtx.ConfirmedTranscriptHash)
	sc.interim = keyschedule.InterimTranscriptHash(g.cs, newCtx.ConfirmedTranscriptHash, sc.confTag)
	ac.Auth.ConfirmationTag = sc.confTag
	var msg []byte
	if ext != nil {
		pm, err := framing.ProtectPublic(ac, nil, g.ctxBytes)
		if err != nil {
			return nil, nil, err
		}
		body, err := pm.Marshal()
		if err != nil {
			return nil, nil, err
		}
		msg = mlsMessageBytes(wireFormatPublic, func(w *codec.Builder) { w.Raw(body) })
	} else if msg, err = g.protect(ac); err != nil {
		return nil, nil, err
	}
	res := &CommitResult{Commit: msg}
	// The staged epoch's secret tree.
	sc.escrowEnc = g.escrowCopy(sc.secrets)
	if sc.secretTree, err = secrettree.New(g.cs, sc.secrets.Encryption, a.tree.nLeaves(), g.secretTreeConfig()); err != nil {
		return nil, nil, err
	}
	if opts.ExternalTree {
		res.RatchetTree = a.tree.marshal()
	}
	if len(a.added) > 0 {
		gi := &groupInfo{GroupContext: newCtx, ConfirmationTag: sc.confTag, Signer: sc.own}
		if !opts.ExternalTree {
			gi.Extensions = append(gi.Extensions, wire.Extension{Type: extRatchetTree, Data: a.tree.marshal()})
		}
		if gi.Signature, err = g.signWithLabel(labelGroupInfoTBS, gi.AppendTBS(nil)); err != nil {
			return nil, nil, err
		}
		ws, err := joiner.WelcomeSecret(psk)
		if err != nil {
			return nil, nil, err
		}
		encGI, err := ws.SealGroupInfo(gi.Marshal())
		ws.Destroy()
		if err != nil {
			return nil, nil, err
		}
		w := welcome{CipherSuite: wire.CipherSuite(g.cs.ID()), EncryptedGroupInfo: encGI, Secrets: make([]encryptedGroupSecrets, len(a.added))}
		plain := make([][]byte, len(a.added))
		for i, l := range a.added {
			gs := groupSecrets{JoinerSecret: joiner.Bytes(), PSKs: a.psks}
			if pend != nil {
				if ps, _, ok := pend.PathSecretFor(tree.LeafIndex(l)); ok {
					gs.PathSecret = ps
				}
			}
			plain[i] = gs.Marshal()
			clear(gs.JoinerSecret)
		}
		// One HPKE encryption per joiner, all with encrypted_group_info as their
		// context (Section 12.4.3.1): the context is hashed once (it holds the
		// whole tree, so hashing it per joiner would be quadratic), and the
		// encryptions are independent, so spread over every core.
		seal, err := g.cs.PrepareEncryption(labelWelcome, encGI)
		if err != nil {
			return nil, nil, err
		}
		err = parallelFor(len(a.added), func(i int) error {
			kp := a.addedKPs[i]
			kem, ct, err := seal.EncryptWithLabel(kp.InitKey, plain[i])
			clear(plain[i])
			if err != nil {
				return err
			}
			w.Secrets[i] = encryptedGroupSecrets{NewMember: g.cs.RefHash(refKeyPackage, kp.Raw), EncryptedGroupSecrets: hpkeCiphertext{KEMOutput: kem, Ciphertext: ct}}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		res.Welcome = mlsMessageBytes(wireFormatWelcome, func(b *codec.Builder) { b.Append(w.Append) })
	}
	joiner.Destroy()
	return res, sc, nil
}

// createPath runs TreeKEM for the committer with mls/treekem (Sections 7.4-7.6):
// a new leaf key pair and path secrets merged into a.tree with parent hashes and
// the signed commit leaf, then the path secrets encrypted (in parallel) to the
// copath resolutions under the provisional GroupContext. It returns the
// UpdatePath, the pending path (for the Welcome's path secrets; Destroy it) and
// the commit_secret; pend.Private() holds the committer's new private keys.
func (g *Group) createPath(a *applied, sender uint32, newCtx *groupContext, ext *externalJoinInput) (*updatePath, *treekem.Pending, []byte, error) {
	t := a.tree
	var tmpl *wire.LeafNode
	if ext != nil {
		tmpl = ext.leaf
	} else if tmpl = t.wireLeaf(sender); tmpl == nil {
		return nil, nil, nil, fmt.Errorf("%w: committer leaf %d is blank", ErrInvalid, sender)
	}
	signer, err := g.signing()
	if err != nil {
		return nil, nil, nil, err
	}
	pend, err := treekem.Create(t.t, treekem.PathParams{Leaf: tree.LeafIndex(sender), LeafNode: tmpl, Signer: signer,
		GroupID: g.ctx.GroupID, Exclude: leafIndices(a.added), Rand: g.cfg.rand()})
	if err != nil {
		return nil, nil, nil, err
	}
	prov := *newCtx
	prov.TreeHash = t.rootHash()
	prov.ConfirmedTranscriptHash = g.ctx.ConfirmedTranscriptHash
	wup, err := pend.Encrypt(prov.Marshal())
	if err != nil {
		pend.Destroy()
		return nil, nil, nil, err
	}
	return wup, pend, pend.CommitSecret(), nil
}
