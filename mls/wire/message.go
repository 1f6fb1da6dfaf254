package wire

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
)

// Sender (RFC 9420, Section 6). Index is leaf_index for member senders and
// sender_index for external senders; unused otherwise.
type Sender struct {
	Type  SenderType
	Index uint32
}

// Append encodes the Sender.
func (s Sender) Append(b []byte) []byte {
	b = codec.AppendUint8(b, uint8(s.Type))
	if s.Type == SenderTypeMember || s.Type == SenderTypeExternal {
		b = codec.AppendUint32(b, s.Index)
	}
	return b
}

func (s *Sender) decode(r *codec.Reader) {
	s.Type = SenderType(r.Uint8("sender_type"))
	switch s.Type {
	case SenderTypeMember:
		s.Index = r.Uint32("leaf_index")
	case SenderTypeExternal:
		s.Index = r.Uint32("sender_index")
	case SenderTypeNewMemberProposal, SenderTypeNewMemberCommit:
	default:
		if r.Err() == nil {
			badEnum(r, "sender_type", uint64(s.Type))
		}
	}
}

// FramedContent (RFC 9420, Section 6). The field matching ContentType is set.
type FramedContent struct {
	GroupID           []byte
	Epoch             uint64
	Sender            Sender
	AuthenticatedData []byte
	ContentType       ContentType
	ApplicationData   []byte    // application
	Proposal          *Proposal // proposal
	Commit            *Commit   // commit

	// Raw is the encoding this content was parsed from (nil if built).
	Raw []byte
}

// Append encodes the FramedContent.
func (c *FramedContent) Append(b []byte) []byte {
	b = codec.AppendOpaque(b, c.GroupID)
	b = codec.AppendUint64(b, c.Epoch)
	b = c.Sender.Append(b)
	b = codec.AppendOpaque(b, c.AuthenticatedData)
	return c.appendBody(codec.AppendUint8(b, uint8(c.ContentType)))
}

// appendBody encodes the content-type-selected body (shared with
// PrivateMessageContent).
func (c *FramedContent) appendBody(b []byte) []byte {
	switch c.ContentType {
	case ContentTypeApplication:
		return codec.AppendOpaque(b, c.ApplicationData)
	case ContentTypeProposal:
		return c.Proposal.Append(b)
	case ContentTypeCommit:
		return c.Commit.Append(b)
	}
	panic(fmt.Sprintf("mls/wire: cannot encode content_type %d", c.ContentType))
}

// Marshal returns the encoding of the FramedContent.
func (c *FramedContent) Marshal() []byte { return c.Append(nil) }

func (c *FramedContent) decodeBody(r *codec.Reader) {
	switch c.ContentType {
	case ContentTypeApplication:
		c.ApplicationData = r.Opaque("application_data")
	case ContentTypeProposal:
		c.Proposal = new(Proposal)
		r.Enter("proposal")
		c.Proposal.decode(r)
		r.Leave()
	case ContentTypeCommit:
		c.Commit = new(Commit)
		r.Enter("commit")
		c.Commit.decode(r)
		r.Leave()
	default:
		if r.Err() == nil {
			badEnum(r, "content_type", uint64(c.ContentType))
		}
	}
}

func (c *FramedContent) decode(r *codec.Reader) {
	start := r.Offset()
	c.GroupID = r.Opaque("group_id")
	c.Epoch = r.Uint64("epoch")
	r.Enter("sender")
	c.Sender.decode(r)
	r.Leave()
	c.AuthenticatedData = r.Opaque("authenticated_data")
	c.ContentType = ContentType(r.Uint8("content_type"))
	c.decodeBody(r)
	c.Raw = r.Since(start)
}

// ParseFramedContent decodes a FramedContent.
func ParseFramedContent(b []byte) (*FramedContent, error) {
	return parse("FramedContent", b, func(c *FramedContent, r *codec.Reader) { c.decode(r) })
}

// FramedContentAuthData (RFC 9420, Section 6.1). ConfirmationTag is present
// only for commits.
type FramedContentAuthData struct {
	Signature       []byte
	ConfirmationTag []byte
}

// Append encodes the auth data for content type ct.
func (a *FramedContentAuthData) Append(b []byte, ct ContentType) []byte {
	b = codec.AppendOpaque(b, a.Signature)
	if ct == ContentTypeCommit {
		b = codec.AppendOpaque(b, a.ConfirmationTag)
	}
	return b
}

func (a *FramedContentAuthData) decode(r *codec.Reader, ct ContentType) {
	a.Signature = r.Opaque("signature")
	if ct == ContentTypeCommit {
		a.ConfirmationTag = r.Opaque("confirmation_tag")
	}
}

// AppendFramedContentTBS encodes FramedContentTBS (RFC 9420, Section 6.1);
// groupContext is the serialized GroupContext, included for member and
// new_member_commit senders.
func AppendFramedContentTBS(b []byte, wf WireFormat, c *FramedContent, groupContext []byte) []byte {
	b = codec.AppendUint16(b, uint16(MLS10))
	b = codec.AppendUint16(b, uint16(wf))
	b = appendContent(b, c)
	if c.Sender.Type == SenderTypeMember || c.Sender.Type == SenderTypeNewMemberCommit {
		b = append(b, groupContext...)
	}
	return b
}

// appendContent re-encodes the content: strict decoding makes the encoding
// canonical, and re-encoding never signs stale Raw bytes of an edited value.
func appendContent(b []byte, c *FramedContent) []byte { return c.Append(b) }

// AuthenticatedContent (RFC 9420, Section 6.1).
type AuthenticatedContent struct {
	WireFormat WireFormat
	Content    FramedContent
	Auth       FramedContentAuthData
}

// Append encodes the AuthenticatedContent (the input of ProposalRef and of
// the confirmed transcript hash).
func (a *AuthenticatedContent) Append(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(a.WireFormat))
	b = appendContent(b, &a.Content)
	return a.Auth.Append(b, a.Content.ContentType)
}

// Marshal returns the encoding of the AuthenticatedContent.
func (a *AuthenticatedContent) Marshal() []byte { return a.Append(nil) }

// ParseAuthenticatedContent decodes an AuthenticatedContent.
func ParseAuthenticatedContent(b []byte) (*AuthenticatedContent, error) {
	return parse("AuthenticatedContent", b, func(a *AuthenticatedContent, r *codec.Reader) {
		a.WireFormat = WireFormat(r.Uint16("wire_format"))
		r.Enter("content")
		a.Content.decode(r)
		r.Leave()
		r.Enter("auth")
		a.Auth.decode(r, a.Content.ContentType)
		r.Leave()
	})
}

// AppendConfirmedTranscriptHashInput encodes ConfirmedTranscriptHashInput
// (RFC 9420, Section 8.2).
func AppendConfirmedTranscriptHashInput(b []byte, wf WireFormat, c *FramedContent, signature []byte) []byte {
	b = codec.AppendUint16(b, uint16(wf))
	b = appendContent(b, c)
	return codec.AppendOpaque(b, signature)
}

// PublicMessage (RFC 9420, Section 6.2). MembershipTag is present only for
// member senders.
type PublicMessage struct {
	Content       FramedContent
	Auth          FramedContentAuthData
	MembershipTag []byte
}

// Append encodes the PublicMessage.
func (p *PublicMessage) Append(b []byte) []byte {
	b = p.Content.Append(b)
	b = p.Auth.Append(b, p.Content.ContentType)
	if p.Content.Sender.Type == SenderTypeMember {
		b = codec.AppendOpaque(b, p.MembershipTag)
	}
	return b
}

// Marshal returns the encoding of the PublicMessage.
func (p *PublicMessage) Marshal() []byte { return p.Append(nil) }

func (p *PublicMessage) decode(r *codec.Reader) {
	r.Enter("content")
	p.Content.decode(r)
	r.Leave()
	r.Enter("auth")
	p.Auth.decode(r, p.Content.ContentType)
	r.Leave()
	if p.Content.Sender.Type == SenderTypeMember {
		p.MembershipTag = r.Opaque("membership_tag")
	}
}

// ParsePublicMessage decodes a PublicMessage.
func ParsePublicMessage(b []byte) (*PublicMessage, error) {
	return parse("PublicMessage", b, func(p *PublicMessage, r *codec.Reader) { p.decode(r) })
}

// PrivateMessage (RFC 9420, Section 6.3).
type PrivateMessage struct {
	GroupID             []byte
	Epoch               uint64
	ContentType         ContentType
	AuthenticatedData   []byte
	EncryptedSenderData []byte
	Ciphertext          []byte
}

// Append encodes the PrivateMessage.
func (p *PrivateMessage) Append(b []byte) []byte {
	b = codec.AppendOpaque(b, p.GroupID)
	b = codec.AppendUint64(b, p.Epoch)
	b = codec.AppendUint8(b, uint8(p.ContentType))
	b = codec.AppendOpaque(b, p.AuthenticatedData)
	b = codec.AppendOpaque(b, p.EncryptedSenderData)
	return codec.AppendOpaque(b, p.Ciphertext)
}

// Marshal returns the encoding of the PrivateMessage.
func (p *PrivateMessage) Marshal() []byte { return p.Append(nil) }

func (p *PrivateMessage) decode(r *codec.Reader) {
	p.GroupID = r.Opaque("group_id")
	p.Epoch = r.Uint64("epoch")
	p.ContentType = ContentType(r.Uint8("content_type"))
	if (p.ContentType < ContentTypeApplication || p.ContentType > ContentTypeCommit) && r.Err() == nil {
		badEnum(r, "content_type", uint64(p.ContentType))
	}
	p.AuthenticatedData = r.Opaque("authenticated_data")
	p.EncryptedSenderData = r.Opaque("encrypted_sender_data")
	p.Ciphertext = r.Opaque("ciphertext")
}

// ParsePrivateMessage decodes a PrivateMessage.
func ParsePrivateMessage(b []byte) (*PrivateMessage, error) {
	return parse("PrivateMessage", b, func(p *PrivateMessage, r *codec.Reader) { p.decode(r) })
}

// AppendSenderDataAAD encodes SenderDataAAD (RFC 9420, Section 6.3.2).
func AppendSenderDataAAD(b []byte, groupID []byte, epoch uint64, ct ContentType) []byte {
	b = codec.AppendOpaque(b, groupID)
	b = codec.AppendUint64(b, epoch)
	return codec.AppendUint8(b, uint8(ct))
}

// AppendPrivateContentAAD encodes PrivateContentAAD (RFC 9420, Section 6.3.1).
func AppendPrivateContentAAD(b []byte, groupID []byte, epoch uint64, ct ContentType, authenticatedData []byte) []byte {
	return codec.AppendOpaque(AppendSenderDataAAD(b, groupID, epoch, ct), authenticatedData)
}

// SenderData (RFC 9420, Section 6.3.2).
type SenderData struct {
	LeafIndex  uint32
	Generation uint32
	ReuseGuard [4]byte
}

// Append encodes the SenderData.
func (s *SenderData) Append(b []byte) []byte {
	b = codec.AppendUint32(b, s.LeafIndex)
	b = codec.AppendUint32(b, s.Generation)
	return append(b, s.ReuseGuard[:]...)
}

// ParseSenderData decodes a SenderData.
func ParseSenderData(b []byte) (*SenderData, error) {
	return parse("SenderData", b, func(s *SenderData, r *codec.Reader) {
		s.LeafIndex = r.Uint32("leaf_index")
		s.Generation = r.Uint32("generation")
		copy(s.ReuseGuard[:], r.Fixed("reuse_guard", 4))
	})
}

// PrivateMessageContent (RFC 9420, Section 6.3.1): the content body and
// auth data of a PrivateMessage, followed by zero padding. Content has only
// ContentType and the body field set.
type PrivateMessageContent struct {
	Content FramedContent
	Auth    FramedContentAuthData
	Padding int
}

// Append encodes the PrivateMessageContent with Padding zero bytes.
func (p *PrivateMessageContent) Append(b []byte) []byte {
	b = p.Content.appendBody(b)
	b = p.Auth.Append(b, p.Content.ContentType)
	return append(b, make([]byte, p.Padding)...)
}

// ParsePrivateMessageContent decodes a PrivateMessageContent of content type
// ct; the padding must be all zero (RFC 9420, Section 6.3.1).
func ParsePrivateMessageContent(b []byte, ct ContentType) (*PrivateMessageContent, error) {
	return parse("PrivateMessageContent", b, func(p *PrivateMessageContent, r *codec.Reader) {
		p.Content.ContentType = ct
		p.Content.decodeBody(r)
		r.Enter("auth")
		p.Auth.decode(r, ct)
		r.Leave()
		pad := r.Fixed("padding", r.Len())
		for _, c := range pad {
			if c != 0 {
				r.Fail("padding", fmt.Errorf("%w: non-zero padding byte", codec.ErrInvalid))
				return
			}
		}
		p.Padding = len(pad)
	})
}

// MLSMessage (RFC 9420, Section 6): exactly the field matching WireFormat is
// set. Version must be mls10.
type MLSMessage struct {
	Version    ProtocolVersion
	WireFormat WireFormat
	Public     *PublicMessage
	Private    *PrivateMessage
	Welcome    *Welcome
	GroupInfo  *GroupInfo
	KeyPackage *KeyPackage
}

// Append encodes the MLSMessage.
func (m *MLSMessage) Append(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(m.Version))
	b = codec.AppendUint16(b, uint16(m.WireFormat))
	switch m.WireFormat {
	case WireFormatPublicMessage:
		return m.Public.Append(b)
	case WireFormatPrivateMessage:
		return m.Private.Append(b)
	case WireFormatWelcome:
		return m.Welcome.Append(b)
	case WireFormatGroupInfo:
		return m.GroupInfo.Append(b)
	case WireFormatKeyPackage:
		return m.KeyPackage.Append(b)
	}
	panic(fmt.Sprintf("mls/wire: cannot encode wire_format %d", m.WireFormat))
}

// Marshal returns the encoding of the MLSMessage.
func (m *MLSMessage) Marshal() []byte { return m.Append(nil) }

// ParseMLSMessage decodes an MLSMessage; versions other than mls10 and
// unknown wire formats are rejected.
func ParseMLSMessage(b []byte) (*MLSMessage, error) {
	return parse("MLSMessage", b, func(m *MLSMessage, r *codec.Reader) {
		m.Version = ProtocolVersion(r.Uint16("version"))
		if m.Version != MLS10 && r.Err() == nil {
			badEnum(r, "version", uint64(m.Version))
			return
		}
		m.WireFormat = WireFormat(r.Uint16("wire_format"))
		switch m.WireFormat {
		case WireFormatPublicMessage:
			m.Public = new(PublicMessage)
			r.Enter("public_message")
			m.Public.decode(r)
		case WireFormatPrivateMessage:
			m.Private = new(PrivateMessage)
			r.Enter("private_message")
			m.Private.decode(r)
		case WireFormatWelcome:
			m.Welcome = new(Welcome)
			r.Enter("welcome")
			m.Welcome.decode(r)
		case WireFormatGroupInfo:
			m.GroupInfo = new(GroupInfo)
			r.Enter("group_info")
			m.GroupInfo.decode(r)
		case WireFormatKeyPackage:
			m.KeyPackage = new(KeyPackage)
			r.Enter("key_package")
			m.KeyPackage.decode(r)
		default:
			if r.Err() == nil {
				badEnum(r, "wire_format", uint64(m.WireFormat))
			}
			return
		}
		r.Leave()
	})
}
