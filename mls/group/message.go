package group

import (
	"bytes"
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/wire"
)

// bodyParser finds the end of a serialized Proposal or Commit for mls/framing.
func bodyParser(ct framing.ContentType, data []byte) (int, error) {
	r := codec.NewReader(data)
	var err error
	switch ct {
	case framing.ContentProposal:
		p := wire.DecodeProposal(r)
		if r.Err() == nil {
			err = checkKnownProposal(p)
		}
	case framing.ContentCommit:
		c := wire.DecodeCommit(r)
		if r.Err() == nil {
			err = checkKnownProposals(c)
		}
	default:
		return 0, fmt.Errorf("mls/group: no body parser for %v", ct)
	}
	if r.Err() != nil {
		return 0, r.Err()
	}
	if err != nil {
		return 0, err
	}
	return r.Offset(), nil
}

// decoded is a verified-framing handshake or application message.
type decoded struct {
	ac         *framing.AuthenticatedContent
	wireFormat uint16
}

// decode unprotects an MLSMessage(PublicMessage or PrivateMessage) of the current
// epoch (RFC 9420, Sections 6.2, 6.3) and verifies the signature of member and
// external senders. A new_member_commit signature is verified by the commit code,
// which knows the joiner's key from the UpdatePath.
func (g *Group) decode(msg []byte) (*decoded, error) {
	m, err := parseMLSMessage(msg)
	if err != nil {
		return nil, err
	}
	var ac *framing.AuthenticatedContent
	switch m.wireFormat {
	case wireFormatPublic:
		pm, err := framing.ParsePublicMessage(m.body, bodyParser)
		if err != nil {
			return nil, err
		}
		if err := g.checkEpoch(pm.Content.GroupID, pm.Content.Epoch); err != nil {
			return nil, err
		}
		membership := g.secrets.Membership
		if ac, err = framing.UnprotectPublic(pm, membership, g.ctxBytes); err != nil {
			return nil, err
		}
	case wireFormatPrivate:
		pm, err := framing.ParsePrivateMessage(m.body)
		if err != nil {
			return nil, err
		}
		pub, st, sd := &g.publicState, g.secretTree, g.secrets.SenderData
		if err := g.checkEpoch(pm.GroupID, pm.Epoch); err != nil {
			// A late application message of a recent epoch (never a handshake).
			found := false
			for _, pe := range g.past {
				if pe.pub.checkEpoch(pm.GroupID, pm.Epoch) == nil && pm.ContentType == framing.ContentApplication {
					pub, st, sd, found = &pe.pub, pe.secretTree, pe.senderData, true
				}
			}
			if !found {
				return nil, err
			}
		}
		ac, err = framing.UnprotectPrivate(g.cs, pm, st, sd, framing.UnprotectOptions{
			Body: bodyParser,
			LeafOK: func(l uint32) error {
				if !pub.tree.hasLeaf(l) {
					return fmt.Errorf("%w: sender leaf %d is blank", ErrInvalid, l)
				}
				return nil
			},
		})
		if err != nil {
			return nil, err
		}
		if err := pub.verifySender(ac); err != nil {
			return nil, err
		}
		return &decoded{ac: ac, wireFormat: m.wireFormat}, nil
	default:
		return nil, fmt.Errorf("%w: wire format %d carries no framed content", ErrInvalid, m.wireFormat)
	}
	if err := g.publicState.verifySender(ac); err != nil {
		return nil, err
	}
	return &decoded{ac: ac, wireFormat: m.wireFormat}, nil
}

func (p *publicState) checkEpoch(groupID []byte, epoch uint64) error {
	if !bytes.Equal(groupID, p.ctx.GroupID) {
		return fmt.Errorf("%w: group_id does not match", ErrInvalid)
	}
	if epoch != p.ctx.Epoch {
		return fmt.Errorf("%w: message epoch %d, group epoch %d", ErrWrongEpoch, epoch, p.ctx.Epoch)
	}
	return nil
}

// verifySender checks the FramedContent signature with the key the sender type
// designates (RFC 9420, Section 6.1), except for new_member_commit.
func (p *publicState) verifySender(ac *framing.AuthenticatedContent) error {
	var pub []byte
	switch snd := ac.Content.Sender; snd.Type {
	case framing.SenderMember:
		pub = p.tree.signatureKey(snd.Index)
		if pub == nil {
			return fmt.Errorf("%w: sender leaf %d is blank", ErrInvalid, snd.Index)
		}
	case framing.SenderExternal:
		senders, err := p.externalSenders()
		if err != nil {
			return err
		}
		if int(snd.Index) >= len(senders) {
			return fmt.Errorf("%w: external sender index %d", ErrInvalid, snd.Index)
		}
		pub = senders[snd.Index].SignatureKey
	case framing.SenderNewMemberProposal:
		if ac.Content.ContentType != framing.ContentProposal {
			return fmt.Errorf("%w: new_member_proposal sender on non-proposal", ErrInvalid)
		}
		pr, err := parseProposal(ac.Content.Body)
		if err != nil {
			return err
		}
		if pr.Type != propAdd {
			return fmt.Errorf("%w: new_member_proposal must be an Add", ErrInvalid)
		}
		pub = pr.KeyPackage.LeafNode.SignatureKey
	case framing.SenderNewMemberCommit:
		return nil
	default:
		return fmt.Errorf("%w: sender type %d", ErrInvalid, snd.Type)
	}
	if err := ac.VerifySignature(p.cs, pub, p.ctxBytes); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (p *publicState) externalSenders() ([]wire.ExternalSender, error) {
	data, ok := findExtension(p.ctx.Extensions, extExternalSenders)
	if !ok {
		return nil, fmt.Errorf("%w: external sender but no external_senders extension", ErrInvalid)
	}
	out, err := wire.ParseExternalSenders(data)
	if err != nil {
		return nil, fmt.Errorf("mls/group: external_senders: %w", err)
	}
	return out, nil
}

// proposalRef implements MakeProposalRef (RFC 9420, Section 5.2).
func (p *publicState) proposalRef(ac *framing.AuthenticatedContent) ([]byte, error) {
	b, err := ac.Marshal()
	if err != nil {
		return nil, err
	}
	return p.cs.RefHash(refProposal, b), nil
}

// ReceiveProposal processes a proposal message of the current epoch and caches it
// for a later Commit that references it (RFC 9420, Section 12.1). Messages this
// Group sent itself are recognised and not decrypted again.
func (g *Group) ReceiveProposal(msg []byte) error {
	r, err := g.Process(msg)
	if err != nil {
		return err
	}
	if r.Kind != KindProposal {
		return fmt.Errorf("%w: expected a proposal, got a %v", ErrInvalid, r.Kind)
	}
	return nil
}

// Process unprotects a message of the current epoch. Application data is returned;
// a proposal is validated and cached; a commit is validated and returned staged,
// to be applied with Merge. A commit that fails leaves the Group unchanged.
func (g *Group) Process(msg []byte) (*Received, error) {
	if g.removed {
		return nil, fmt.Errorf("%w: this member was removed from the group", ErrInvalid)
	}
	if ref, ok := g.sent[string(msg)]; ok {
		for _, cp := range g.proposals {
			if bytes.Equal(cp.ref, ref) {
				return &Received{Kind: KindProposal, Sender: g.own}, nil
			}
		}
		return nil, fmt.Errorf("%w: own message is not a proposal of this epoch", ErrInvalid)
	}
	d, err := g.decode(msg)
	if err != nil {
		return nil, fmt.Errorf("mls/group: Process: %w", err)
	}
	ac := d.ac
	out := &Received{Sender: ac.Content.Sender.Index, AuthenticatedData: clone(ac.Content.AuthenticatedData)}
	switch ac.Content.ContentType {
	case framing.ContentApplication:
		out.Kind = KindApplication
		out.ApplicationData = clone(ac.Content.Body)
		return out, nil
	case framing.ContentProposal:
		pr, err := parseProposal(ac.Content.Body)
		if err != nil {
			return nil, err
		}
		if err := g.checkProposal(pr, ac.Content.Sender); err != nil {
			return nil, fmt.Errorf("mls/group: Process: proposal: %w", err)
		}
		ref, err := g.proposalRef(ac)
		if err != nil {
			return nil, err
		}
		g.cacheProposal(cachedProposal{ref: ref, prop: pr, sender: ac.Content.Sender})
		out.Kind = KindProposal
		return out, nil
	case framing.ContentCommit:
		sc, err := g.stageReceived(ac)
		if err != nil {
			return nil, fmt.Errorf("mls/group: Process: commit: %w", err)
		}
		out.Kind = KindCommit
		out.Staged = sc
		return out, nil
	}
	return nil, fmt.Errorf("%w: content type %v", ErrInvalid, ac.Content.ContentType)
}

func (g *Group) cacheProposal(cp cachedProposal) {
	for _, c := range g.proposals {
		if bytes.Equal(c.ref, cp.ref) {
			return
		}
	}
	g.proposals = append(g.proposals, cp)
}

// checkProposal runs the checks of Section 12.1 that do not depend on the rest of
// the commit: senders allowed per type (Section 12.1.8), Update leaf validity.
func (p *publicState) checkProposal(pr *proposal, sender framing.Sender) error {
	switch sender.Type {
	case framing.SenderMember:
		if pr.Type == propExternalInit {
			return fmt.Errorf("%w: ExternalInit proposal sent standalone", ErrInvalid)
		}
	case framing.SenderExternal:
		switch pr.Type {
		case propAdd, propRemove, propPSK, propReInit, propGCE:
		default:
			return fmt.Errorf("%w: proposal type %d from an external sender", ErrInvalid, pr.Type)
		}
	case framing.SenderNewMemberProposal:
		if pr.Type != propAdd {
			return fmt.Errorf("%w: new_member_proposal of type %d", ErrInvalid, pr.Type)
		}
	default:
		return fmt.Errorf("%w: proposal from sender type %d", ErrInvalid, sender.Type)
	}
	switch pr.Type {
	case propAdd:
		return p.verifyKeyPackage(pr.KeyPackage)
	case propUpdate:
		if err := p.checkLeaf(pr.LeafNode, leafSourceUpdate, sender.Index, &p.ctx); err != nil {
			return err
		}
	case propRemove:
		if !p.tree.hasLeaf(pr.Removed) {
			return fmt.Errorf("%w: Remove of blank leaf %d", ErrInvalid, pr.Removed)
		}
	case propPSK:
		return checkPSKProposal(p, pr.PSK)
	}
	return nil
}
