package group

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// PublicGroup is the delivery server's view of a group: the ratchet tree, the
// GroupContext and the transcript hashes, no secrets. It validates PublicMessage
// proposals and commits with the same code as Group (stagePublic, applyProposals,
// applyPath) and tracks membership. Without the epoch's secrets it cannot check
// membership tags, confirmation tags or PrivateMessage contents; those checks are
// left to the members.
type PublicGroup struct {
	publicState
	proposals []cachedProposal
}

// NewPublicGroup builds the view from an MLSMessage(GroupInfo) and, if the GroupInfo
// has no ratchet_tree extension, the encoded tree. The GroupInfo signature, tree
// hash, parent hashes and leaves are verified (RFC 9420, Section 12.4.3.1).
func NewPublicGroup(groupInfoMsg, ratchetTree []byte) (*PublicGroup, error) {
	return NewPublicGroupWithConfig(PublicConfig{}, groupInfoMsg, ratchetTree)
}

// PublicConfig configures a PublicGroup.
type PublicConfig struct {
	// CredentialValidator, if set, authenticates every leaf's credential the
	// view accepts, as Config.CredentialValidator does for a member: the
	// GroupInfo's tree, Add KeyPackages, Update and UpdatePath leaves. It
	// must be safe for concurrent use.
	CredentialValidator func(cred *wire.Credential, signatureKey []byte) error
}

// NewPublicGroupWithConfig is NewPublicGroup with a configuration: the
// delivery service's view runs the same credential checks as the members.
func NewPublicGroupWithConfig(cfg PublicConfig, groupInfoMsg, ratchetTree []byte) (*PublicGroup, error) {
	gi, tree, s, err := groupView(groupInfoMsg, ratchetTree, cfg.CredentialValidator)
	if err != nil {
		return nil, fmt.Errorf("mls/group: NewPublicGroup: %w", err)
	}
	p := &PublicGroup{publicState: publicState{cs: s, tree: tree, validateCredential: cfg.CredentialValidator}}
	p.setContext(gi.GroupContext)
	p.interim = keyschedule.InterimTranscriptHash(s, gi.GroupContext.ConfirmedTranscriptHash, gi.ConfirmationTag)
	return p, nil
}

// Epoch returns the current epoch.
func (p *PublicGroup) Epoch() uint64 { return p.ctx.Epoch }

// GroupID returns the group id.
func (p *PublicGroup) GroupID() []byte { return clone(p.ctx.GroupID) }

// CipherSuite returns the group's cipher suite.
func (p *PublicGroup) CipherSuite() suite.ID { return p.cs.ID() }

// GroupContext returns the serialized GroupContext of the current epoch
// (RFC 9420, Section 8.1): what a member signs its FramedContent against, so a
// verifier of the epoch's messages (the evidence bundle) needs it.
func (p *PublicGroup) GroupContext() []byte { return clone(p.ctxBytes) }

// LeafCount returns the number of leaves of the ratchet tree (blank ones
// included), which sizes the epoch's secret tree (Section 9).
func (p *PublicGroup) LeafCount() uint32 { return p.tree.nLeaves() }

// Members returns leaf index -> basic-credential identity.
func (p *PublicGroup) Members() map[uint32][]byte {
	out := map[uint32][]byte{}
	for _, l := range p.tree.leaves() {
		out[l] = clone(p.tree.identity(l))
	}
	return out
}

// MemberSignatureKey returns the signature key of leaf l.
func (p *PublicGroup) MemberSignatureKey(l uint32) ([]byte, bool) {
	k := p.tree.signatureKey(l)
	if k == nil {
		return nil, false
	}
	return clone(k), true
}

// PublicStagedCommit is a commit validated by a PublicGroup, not yet merged.
type PublicStagedCommit struct {
	base    *PublicGroup
	epoch   uint64
	stage   *publicStage
	interim []byte
}

// Added, Removed and NewEpoch describe the staged commit.
func (sc *PublicStagedCommit) Added() []uint32   { return append([]uint32(nil), sc.stage.a.added...) }
func (sc *PublicStagedCommit) Removed() []uint32 { return append([]uint32(nil), sc.stage.a.removed...) }
func (sc *PublicStagedCommit) NewEpoch() uint64  { return sc.stage.newCtx.Epoch }

// PublicReceived is what PublicGroup.Process found.
type PublicReceived struct {
	Kind   MessageKind
	Sender framing.Sender
	Staged *PublicStagedCommit // KindCommit
}

// Process validates a handshake MLSMessage of the current epoch. A PublicMessage
// proposal is checked and cached; a PublicMessage commit is validated and staged.
// A PrivateMessage can only be checked for group and epoch; application data and
// encrypted handshakes return their kind without further checks.
func (p *PublicGroup) Process(msg []byte) (*PublicReceived, error) {
	m, err := parseMLSMessage(msg)
	if err != nil {
		return nil, err
	}
	switch m.wireFormat {
	case wireFormatPrivate:
		pm, err := framing.ParsePrivateMessage(m.body)
		if err != nil {
			return nil, err
		}
		if err := p.checkEpoch(pm.GroupID, pm.Epoch); err != nil {
			return nil, err
		}
		kind := KindApplication
		switch pm.ContentType {
		case framing.ContentProposal:
			kind = KindProposal
		case framing.ContentCommit:
			kind = KindCommit
		}
		return &PublicReceived{Kind: kind}, nil
	case wireFormatPublic:
	default:
		return nil, fmt.Errorf("%w: wire format %d carries no framed content", ErrInvalid, m.wireFormat)
	}
	pm, err := framing.ParsePublicMessage(m.body, bodyParser)
	if err != nil {
		return nil, err
	}
	if err := p.checkEpoch(pm.Content.GroupID, pm.Content.Epoch); err != nil {
		return nil, err
	}
	// The membership tag needs the membership key, which the server lacks.
	ac := &framing.AuthenticatedContent{WireFormat: framing.WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth}
	if err := p.verifySender(ac); err != nil {
		return nil, err
	}
	out := &PublicReceived{Sender: ac.Content.Sender}
	switch ac.Content.ContentType {
	case framing.ContentProposal:
		pr, err := parseProposal(ac.Content.Body)
		if err != nil {
			return nil, err
		}
		if err := p.checkProposal(pr, ac.Content.Sender); err != nil {
			return nil, err
		}
		ref, err := p.proposalRef(ac)
		if err != nil {
			return nil, err
		}
		p.proposals = append(p.proposals, cachedProposal{ref: ref, prop: pr, sender: ac.Content.Sender})
		out.Kind = KindProposal
	case framing.ContentCommit:
		st, err := p.stagePublic(ac, p.proposals)
		if err != nil {
			return nil, err
		}
		out.Kind = KindCommit
		out.Staged = &PublicStagedCommit{base: p, epoch: p.ctx.Epoch, stage: st,
			interim: keyschedule.InterimTranscriptHash(p.cs, st.newCtx.ConfirmedTranscriptHash, ac.Auth.ConfirmationTag)}
	default:
		return nil, fmt.Errorf("%w: application data in a PublicMessage", ErrInvalid)
	}
	return out, nil
}

// Merge applies a staged commit to the view.
func (p *PublicGroup) Merge(sc *PublicStagedCommit) error {
	if sc == nil || sc.base != p || sc.epoch != p.ctx.Epoch {
		return fmt.Errorf("%w: staged commit is not for this group state", ErrInvalid)
	}
	p.tree = sc.stage.a.tree
	p.setContext(sc.stage.newCtx)
	p.interim = sc.interim
	p.proposals = nil
	return nil
}
