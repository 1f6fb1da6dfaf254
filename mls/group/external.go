package group

import (
	"bytes"
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// GroupInfo returns a signed MLSMessage(GroupInfo) for the current epoch with the
// external_pub extension, so that new members can join by external commit (RFC 9420,
// Sections 12.4.3, 12.4.3.2). With externalTree the ratchet_tree extension is left out
// and the encoded tree is returned separately.
func (g *Group) GroupInfo(externalTree bool) (groupInfoMsg, ratchetTree []byte, err error) {
	if err := g.checkActive("GroupInfo"); err != nil {
		return nil, nil, err
	}
	_, pub, err := g.secrets.External.KeyPair()
	if err != nil {
		return nil, nil, err
	}
	gi := &groupInfo{GroupContext: g.ctx, ConfirmationTag: g.confTag, Signer: g.own, Extensions: wire.Extensions{{Type: extExternalPub, Data: wire.AppendExternalPub(nil, pub)}}}
	tree := g.tree.marshal()
	if externalTree {
		ratchetTree = tree
	} else {
		gi.Extensions = append(gi.Extensions, wire.Extension{Type: extRatchetTree, Data: tree})
	}
	if gi.Signature, err = g.signWithLabel(labelGroupInfoTBS, gi.AppendTBS(nil)); err != nil {
		return nil, nil, err
	}
	body := gi.Marshal()
	return mlsMessageBytes(wireFormatGroupInfo, func(w *codec.Builder) { w.Raw(body) }), ratchetTree, nil
}

// ExternalJoin joins a group through an external Commit built from its GroupInfo
// (RFC 9420, Section 12.4.3.2). It returns the new member's Group, already in the
// new epoch, and the MLSMessage(PublicMessage) Commit to send to the group.
func ExternalJoin(cfg Config, groupInfoMsg []byte, opts ExternalJoinOptions) (*Group, []byte, error) {
	g, msg, err := externalJoin(cfg, groupInfoMsg, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/group: ExternalJoin: %w", err)
	}
	return g, msg, nil
}

func externalJoin(cfg Config, groupInfoMsg []byte, opts ExternalJoinOptions) (*Group, []byte, error) {
	m, err := parseMLSMessage(groupInfoMsg)
	if err != nil {
		return nil, nil, err
	}
	if m.groupInfo == nil {
		return nil, nil, fmt.Errorf("%w: message is not a GroupInfo", ErrInvalid)
	}
	gi := m.groupInfo
	s, err := suite.Lookup(suite.ID(gi.GroupContext.CipherSuite))
	if err != nil {
		return nil, nil, err
	}
	tree, err := treeFromGroupInfo(s, gi, opts.RatchetTree)
	if err != nil {
		return nil, nil, err
	}
	if err := verifyGroupInfoAndTree(s, gi, tree, cfg.CredentialValidator); err != nil {
		return nil, nil, err
	}
	epData, ok := findExtension(gi.Extensions, extExternalPub)
	if !ok {
		return nil, nil, fmt.Errorf("%w: GroupInfo has no external_pub extension", ErrInvalid)
	}
	externalPub, err := wire.ParseExternalPub(epData)
	if err != nil {
		return nil, nil, err
	}
	g := &Group{cfg: cfg, publicState: publicState{cs: s, tree: tree, validateCredential: cfg.CredentialValidator}, pendingUpdates: map[string]keyPair{},
		resumption: map[uint64][]byte{}, sent: map[string][]byte{}}
	g.setContext(gi.GroupContext)
	g.confTag = clone(gi.ConfirmationTag)
	g.interim = keyschedule.InterimTranscriptHash(s, gi.GroupContext.ConfirmedTranscriptHash, gi.ConfirmationTag)
	kemOutput, init, err := keyschedule.ExternalInit(s, externalPub)
	if err != nil {
		return nil, nil, err
	}
	kp, err := NewKeyPackage(cfg, s.ID(), opts.Identity)
	if err != nil {
		return nil, nil, err
	}
	g.sigPriv = kp.SignaturePriv
	leaf := kp.kp.LeafNode
	ext := &externalJoinInput{init: init, leaf: &leaf, extra: []*proposal{{Type: propExternalInit, KEMOutput: kemOutput}}}
	if opts.RemovePrior {
		found := false
		for _, l := range tree.leaves() {
			if bytes.Equal(tree.identity(l), opts.Identity) {
				ext.extra = append(ext.extra, &proposal{Type: propRemove, Removed: l})
				found = true
				break
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("%w: no prior member with identity %q to remove", ErrInvalid, opts.Identity)
		}
	}
	if opts.removeLeaf != nil {
		ext.extra = append(ext.extra, &proposal{Type: propRemove, Removed: *opts.removeLeaf})
	}
	var specs []ProposalSpec
	for _, id := range opts.PSKIDs {
		specs = append(specs, ProposalSpec{Type: ProposalExternalPSK, PSKID: id})
	}
	res, sc, err := g.createCommit(CommitOptions{ByValue: specs}, ext)
	if err != nil {
		return nil, nil, err
	}
	g.own = sc.own
	g.apply(sc)
	return g, res.Commit, nil
}
