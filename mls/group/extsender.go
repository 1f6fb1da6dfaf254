package group

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// ExternalSigner is a party outside the group, listed in the group's
// external_senders extension, that sends proposals (RFC 9420, Sections 12.1.8,
// 12.1.8.1), e.g. the delivery service.
type ExternalSigner struct {
	cfg     Config
	cs      *suite.Suite
	sigPriv []byte
	sender  wire.ExternalSender
}

// NewExternalSigner creates a signer with a fresh signature key and a basic
// credential for identity.
func NewExternalSigner(cfg Config, cs suite.ID, identity []byte) (*ExternalSigner, error) {
	s, err := suite.Lookup(cs)
	if err != nil {
		return nil, fmt.Errorf("mls/group: NewExternalSigner: %w", err)
	}
	priv, pub, err := s.GenerateSignatureKey(cfg.rand())
	if err != nil {
		return nil, err
	}
	return &ExternalSigner{cfg: cfg, cs: s, sigPriv: priv, sender: wire.ExternalSender{SignatureKey: pub, Credential: credential{Type: credentialBasic, Identity: clone(identity)}}}, nil
}

// ExternalSender returns the encoded ExternalSender entry for the
// external_senders extension.
func (x *ExternalSigner) ExternalSender() []byte {
	return x.sender.Append(nil)
}

// ProposeAddExternalSender proposes a GroupContextExtensions that appends the
// encoded ExternalSender to the external_senders extension.
func (g *Group) ProposeAddExternalSender(encoded []byte) ([]byte, error) {
	es, err := wire.ParseExternalSender(encoded)
	if err != nil {
		return nil, fmt.Errorf("mls/group: ExternalSender: %w", err)
	}
	var exts []Extension
	var list []wire.ExternalSender
	for _, e := range g.ctx.Extensions {
		if e.Type == extExternalSenders {
			if list, err = wire.ParseExternalSenders(e.Data); err != nil {
				return nil, fmt.Errorf("mls/group: external_senders: %w", err)
			}
			continue
		}
		exts = append(exts, Extension{Type: uint16(e.Type), Data: e.Data})
	}
	list = append(slices.Clip(list), *es)
	exts = append(exts, Extension{Type: extExternalSenders, Data: wire.AppendExternalSenders(nil, list)})
	return g.Propose(ProposalSpec{Type: ProposalGroupContextExtensions, Extensions: exts})
}

// groupView is what an outsider learns from a GroupInfo (and tree).
func groupView(groupInfoMsg, ratchetTree []byte, validate func(*wire.Credential, []byte) error) (*groupInfo, *ratchetTree, *suite.Suite, error) {
	m, err := parseMLSMessage(groupInfoMsg)
	if err != nil {
		return nil, nil, nil, err
	}
	if m.groupInfo == nil {
		return nil, nil, nil, fmt.Errorf("%w: message is not a GroupInfo", ErrInvalid)
	}
	s, err := suite.Lookup(suite.ID(m.groupInfo.GroupContext.CipherSuite))
	if err != nil {
		return nil, nil, nil, err
	}
	tree, err := treeFromGroupInfo(s, m.groupInfo, ratchetTree)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := verifyGroupInfoAndTree(s, m.groupInfo, tree, validate); err != nil {
		return nil, nil, nil, err
	}
	return m.groupInfo, tree, s, nil
}

// Propose creates a proposal from this external sender for the group described by
// the GroupInfo (RFC 9420, Section 12.1.8). The signer must be listed in the
// group's external_senders extension.
func (x *ExternalSigner) Propose(groupInfoMsg, ratchetTree []byte, spec ProposalSpec) ([]byte, error) {
	gi, tree, s, err := groupView(groupInfoMsg, ratchetTree, x.cfg.CredentialValidator)
	if err != nil {
		return nil, fmt.Errorf("mls/group: ExternalSigner.Propose: %w", err)
	}
	if s.ID() != x.cs.ID() {
		return nil, fmt.Errorf("mls/group: ExternalSigner.Propose: group uses suite %d", s.ID())
	}
	ps := publicState{cs: s, tree: tree, validateCredential: x.cfg.CredentialValidator}
	ps.setContext(gi.GroupContext)
	senders, err := ps.externalSenders()
	if err != nil {
		return nil, err
	}
	index := -1
	for i, e := range senders {
		if bytes.Equal(e.SignatureKey, x.sender.SignatureKey) {
			index = i
		}
	}
	if index < 0 {
		return nil, fmt.Errorf("%w: signer is not in external_senders", ErrInvalid)
	}
	tmp := &Group{cfg: x.cfg, publicState: ps}
	pr, _, err := tmp.buildProposal(spec)
	if err != nil {
		return nil, err
	}
	if pr.Type == propUpdate || pr.Type == propExternalInit {
		return nil, fmt.Errorf("%w: external senders cannot propose type %d", ErrInvalid, pr.Type)
	}
	return signOutsider(s, x.sigPriv, framing.Sender{Type: framing.SenderExternal, Index: uint32(index)}, &gi.GroupContext, pr)
}

func signOutsider(s *suite.Suite, sigPriv []byte, sender framing.Sender, ctx *groupContext, pr *proposal) ([]byte, error) {
	content := framing.FramedContent{GroupID: ctx.GroupID, Epoch: ctx.Epoch, Sender: sender, ContentType: framing.ContentProposal, Body: pr.Marshal()}
	ac, err := framing.Sign(s, sigPriv, framing.WireFormatPublicMessage, content, nil)
	if err != nil {
		return nil, err
	}
	pm, err := framing.ProtectPublic(ac, nil, nil)
	if err != nil {
		return nil, err
	}
	return publicMessageBytes(pm)
}

// NewMemberAddProposal creates a KeyPackage for identity and an Add proposal for it
// signed by the joiner itself (sender new_member_proposal, RFC 9420, Section
// 12.1.8). The bundle later joins with the Welcome of the commit that includes it.
func NewMemberAddProposal(cfg Config, groupInfoMsg []byte, identity []byte) (*KeyPackageBundle, []byte, error) {
	gi, _, s, err := groupView(groupInfoMsg, nil, cfg.CredentialValidator)
	if err != nil {
		return nil, nil, fmt.Errorf("mls/group: NewMemberAddProposal: %w", err)
	}
	kp, err := NewKeyPackage(cfg, s.ID(), identity)
	if err != nil {
		return nil, nil, err
	}
	msg, err := signOutsider(s, kp.SignaturePriv, framing.Sender{Type: framing.SenderNewMemberProposal}, &gi.GroupContext, &proposal{Type: propAdd, KeyPackage: kp.kp})
	if err != nil {
		return nil, nil, err
	}
	return kp, msg, nil
}
