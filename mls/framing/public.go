package framing

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/keyschedule"
)

// PublicMessage is PublicMessage (RFC 9420, Section 6.2). MembershipTag is
// present exactly when the sender is a member.
type PublicMessage struct {
	Content       FramedContent
	Auth          FramedContentAuthData
	MembershipTag []byte
}

func (pm *PublicMessage) check() error {
	if err := pm.Content.check(); err != nil {
		return err
	}
	if pm.Content.ContentType == ContentApplication {
		return fmt.Errorf("%w: PublicMessage carries application data (RFC 9420, Section 6: application messages MUST use PrivateMessage)", ErrInvalid)
	}
	if pm.Content.Sender.Type == SenderMember && len(pm.MembershipTag) == 0 {
		return fmt.Errorf("%w: PublicMessage.membership_tag missing for a member sender", ErrInvalid)
	}
	if pm.Content.Sender.Type != SenderMember && pm.MembershipTag != nil {
		return fmt.Errorf("%w: PublicMessage.membership_tag for a non-member sender", ErrInvalid)
	}
	if pm.Content.ContentType == ContentCommit && len(pm.Auth.ConfirmationTag) == 0 {
		return fmt.Errorf("%w: commit without confirmation_tag", ErrInvalid)
	}
	return nil
}

// Marshal returns the PublicMessage encoding (without the MLSMessage
// version and wire_format header).
func (pm *PublicMessage) Marshal() ([]byte, error) {
	if err := pm.check(); err != nil {
		return nil, err
	}
	b := pm.Content.appendTo(nil)
	b = pm.Auth.appendTo(b, pm.Content.ContentType)
	if pm.Content.Sender.Type == SenderMember {
		b = codec.AppendOpaque(b, pm.MembershipTag)
	}
	return b, nil
}

// ParsePublicMessage decodes a PublicMessage strictly (the bytes after the
// MLSMessage header) and rejects application content.
func ParsePublicMessage(data []byte, parse BodyParser) (*PublicMessage, error) {
	r := codec.NewReader(data)
	var pm PublicMessage
	pm.Content = readFramedContent(r, parse)
	pm.Auth = readAuthData(r, "PublicMessage.auth", pm.Content.ContentType)
	if pm.Content.Sender.Type == SenderMember {
		pm.MembershipTag = r.Opaque("PublicMessage.membership_tag")
	}
	if err := r.Finish("mls/framing: PublicMessage"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := pm.check(); err != nil {
		return nil, err
	}
	return &pm, nil
}

// authenticatedContentTBM returns AuthenticatedContentTBM (RFC 9420,
// Section 6.2).
func authenticatedContentTBM(c *FramedContent, a *FramedContentAuthData, groupContext []byte) []byte {
	b := framedContentTBS(WireFormatPublicMessage, c, groupContext)
	return a.appendTo(b, c.ContentType)
}

// ProtectPublic encodes ac as a PublicMessage (RFC 9420, Section 6.2). For a
// member sender it sets membership_tag = MAC(membership_key,
// AuthenticatedContentTBM); membership may be nil for other senders.
// Application data is refused.
func ProtectPublic(ac *AuthenticatedContent, membership *keyschedule.MembershipKey, groupContext []byte) (*PublicMessage, error) {
	if ac.WireFormat != WireFormatPublicMessage {
		return nil, fmt.Errorf("%w: content signed for wire format %d, not PublicMessage", ErrInvalid, ac.WireFormat)
	}
	if err := ac.check(); err != nil {
		return nil, err
	}
	pm := &PublicMessage{Content: ac.Content, Auth: ac.Auth}
	if ac.Content.Sender.Type == SenderMember {
		if membership == nil {
			return nil, fmt.Errorf("%w: member PublicMessage needs the membership key", ErrInvalid)
		}
		pm.MembershipTag = membership.Tag(authenticatedContentTBM(&pm.Content, &pm.Auth, groupContext))
	}
	if err := pm.check(); err != nil {
		return nil, err
	}
	return pm, nil
}

// UnprotectPublic checks a decoded PublicMessage and returns its
// AuthenticatedContent (RFC 9420, Section 6.2). For a member sender it
// verifies membership_tag in constant time (ErrMembershipTag). It does not
// verify the signature (the caller looks up the sender's key and calls
// AuthenticatedContent.VerifySignature) nor the confirmation tag (which needs
// the next epoch's key), and does not check group_id or epoch.
func UnprotectPublic(pm *PublicMessage, membership *keyschedule.MembershipKey, groupContext []byte) (*AuthenticatedContent, error) {
	if err := pm.check(); err != nil {
		return nil, err
	}
	if pm.Content.Sender.Type == SenderMember {
		if membership == nil {
			return nil, fmt.Errorf("%w: member PublicMessage needs the membership key", ErrInvalid)
		}
		if !membership.Verify(authenticatedContentTBM(&pm.Content, &pm.Auth, groupContext), pm.MembershipTag) {
			return nil, fmt.Errorf("%w: PublicMessage.membership_tag", ErrMembershipTag)
		}
	}
	return &AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth}, nil
}
