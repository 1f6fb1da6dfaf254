package framing

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
)

// PrivateMessage is PrivateMessage (RFC 9420, Section 6.3).
type PrivateMessage struct {
	GroupID             []byte
	Epoch               uint64
	ContentType         ContentType
	AuthenticatedData   []byte
	EncryptedSenderData []byte
	Ciphertext          []byte
}

// Marshal returns the PrivateMessage encoding (without the MLSMessage
// header).
func (pm *PrivateMessage) Marshal() ([]byte, error) {
	if !pm.ContentType.valid() {
		return nil, fmt.Errorf("%w: PrivateMessage.content_type %d", ErrMalformed, pm.ContentType)
	}
	for _, f := range []struct {
		name string
		v    []byte
	}{{"group_id", pm.GroupID}, {"authenticated_data", pm.AuthenticatedData}, {"encrypted_sender_data", pm.EncryptedSenderData}, {"ciphertext", pm.Ciphertext}} {
		if err := checkLen("PrivateMessage."+f.name, f.v); err != nil {
			return nil, err
		}
	}
	b := pm.senderDataAAD(make([]byte, 0, 32+len(pm.GroupID)+len(pm.AuthenticatedData)+len(pm.EncryptedSenderData)+len(pm.Ciphertext)))
	b = codec.AppendOpaque(b, pm.AuthenticatedData)
	b = codec.AppendOpaque(b, pm.EncryptedSenderData)
	return codec.AppendOpaque(b, pm.Ciphertext), nil
}

// ParsePrivateMessage decodes a PrivateMessage strictly.
func ParsePrivateMessage(data []byte) (*PrivateMessage, error) {
	r := codec.NewReader(data)
	var pm PrivateMessage
	pm.GroupID = r.Opaque("PrivateMessage.group_id")
	pm.Epoch = r.Uint64("PrivateMessage.epoch")
	pm.ContentType = ContentType(r.Uint8("PrivateMessage.content_type"))
	if r.Err() == nil && !pm.ContentType.valid() {
		r.Fail("PrivateMessage.content_type", fmt.Errorf("unknown value %d", pm.ContentType))
	}
	pm.AuthenticatedData = r.Opaque("PrivateMessage.authenticated_data")
	pm.EncryptedSenderData = r.Opaque("PrivateMessage.encrypted_sender_data")
	pm.Ciphertext = r.Opaque("PrivateMessage.ciphertext")
	if err := r.Finish("mls/framing: PrivateMessage"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &pm, nil
}

// senderDataAAD appends SenderDataAAD{group_id, epoch, content_type}
// (RFC 9420, Section 6.3.2).
func (pm *PrivateMessage) senderDataAAD(b []byte) []byte {
	b = codec.AppendOpaque(b, pm.GroupID)
	e := pm.Epoch
	b = append(b, byte(e>>56), byte(e>>48), byte(e>>40), byte(e>>32), byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
	return append(b, byte(pm.ContentType))
}

// contentAAD returns PrivateContentAAD{group_id, epoch, content_type,
// authenticated_data} (RFC 9420, Section 6.3.1).
func (pm *PrivateMessage) contentAAD() []byte {
	b := pm.senderDataAAD(make([]byte, 0, 16+len(pm.GroupID)+len(pm.AuthenticatedData)))
	return codec.AppendOpaque(b, pm.AuthenticatedData)
}

// senderDataLen is the size of SenderData{uint32 leaf_index; uint32
// generation; opaque reuse_guard[4]}.
const senderDataLen = 12

// ratchetFor maps a content type to its ratchet (RFC 9420, Section 6.3.1).
func ratchetFor(ct ContentType) secrettree.RatchetType {
	if ct == ContentApplication {
		return secrettree.Application
	}
	return secrettree.Handshake
}

// PrivateOptions configures ProtectPrivate.
type PrivateOptions struct {
	// Rand supplies the reuse guard; nil means crypto/rand.
	Rand io.Reader
	// PadBlock pads the PrivateMessageContent with zero bytes to a multiple
	// of PadBlock bytes, hiding the exact content length; 0 or 1 means no
	// padding.
	PadBlock int
}

// ProtectPrivate encrypts ac as a PrivateMessage (RFC 9420, Section 6.3): it
// takes the next key of the sender's handshake or application ratchet,
// XORs a fresh random reuse guard into the nonce, encrypts
// PrivateMessageContent (content, auth, zero padding) under
// PrivateContentAAD, then encrypts SenderData with the key and nonce derived
// from sender_data_secret and the ciphertext sample. The sender must be a
// member and ac must have been signed for WireFormatPrivateMessage.
func ProtectPrivate(s *suite.Suite, ac *AuthenticatedContent, tree *secrettree.Tree, senderData *keyschedule.SenderDataSecret, opts PrivateOptions) (*PrivateMessage, error) {
	if ac.WireFormat != WireFormatPrivateMessage {
		return nil, fmt.Errorf("%w: content signed for wire format %d, not PrivateMessage", ErrInvalid, ac.WireFormat)
	}
	if err := ac.check(); err != nil {
		return nil, err
	}
	c := &ac.Content
	if c.Sender.Type != SenderMember {
		// RFC 9420, Section 6.3.2: the sender MUST verify sender_type is member.
		return nil, fmt.Errorf("%w: PrivateMessage sender type %d is not member", ErrInvalid, c.Sender.Type)
	}
	pm := &PrivateMessage{GroupID: c.GroupID, Epoch: c.Epoch, ContentType: c.ContentType, AuthenticatedData: c.AuthenticatedData}

	// PrivateMessageContent.
	pt := make([]byte, 0, len(c.Body)+len(ac.Auth.Signature)+len(ac.Auth.ConfirmationTag)+16+opts.PadBlock)
	pt = appendBody(pt, c.ContentType, c.Body)
	pt = ac.Auth.appendTo(pt, c.ContentType)
	if opts.PadBlock > 1 {
		if rem := len(pt) % opts.PadBlock; rem != 0 {
			pt = append(pt, make([]byte, opts.PadBlock-rem)...)
		}
	}

	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	err := sealPrivate(s, pm, c.Sender.Index, pt, tree, senderData, rnd)
	clear(pt)
	if err != nil {
		return nil, err
	}
	return pm, nil
}

// sealPrivate encrypts the PrivateMessageContent pt from leaf into pm
// (ciphertext and encrypted_sender_data).
func sealPrivate(s *suite.Suite, pm *PrivateMessage, leaf uint32, pt []byte, tree *secrettree.Tree, senderData *keyschedule.SenderDataSecret, rnd io.Reader) error {
	var guard [4]byte
	if _, err := io.ReadFull(rnd, guard[:]); err != nil {
		return fmt.Errorf("mls/framing: reuse guard: %w", err)
	}
	gen, key, nonce, err := tree.Next(leaf, ratchetFor(pm.ContentType))
	if err != nil {
		return fmt.Errorf("mls/framing: sender ratchet: %w", err)
	}
	// RFC 9420, Section 6.3.1: XOR the reuse guard into the first four
	// bytes of the nonce.
	for i := range guard {
		nonce[i] ^= guard[i]
	}
	pm.Ciphertext, err = s.Seal(key, nonce, pm.contentAAD(), pt)
	clear(key)
	clear(nonce)
	if err != nil {
		return fmt.Errorf("mls/framing: content encryption: %w", err)
	}
	sd := make([]byte, 0, senderDataLen)
	sd = append(sd, byte(leaf>>24), byte(leaf>>16), byte(leaf>>8), byte(leaf))
	sd = append(sd, byte(gen>>24), byte(gen>>16), byte(gen>>8), byte(gen))
	sd = append(sd, guard[:]...)
	sdKey, sdNonce := senderData.KeyNonce(pm.Ciphertext)
	pm.EncryptedSenderData, err = s.Seal(sdKey, sdNonce, pm.senderDataAAD(nil), sd)
	clear(sdKey)
	if err != nil {
		return fmt.Errorf("mls/framing: sender data encryption: %w", err)
	}
	return nil
}

// UnprotectOptions configures UnprotectPrivate.
type UnprotectOptions struct {
	// Body finds the end of a Proposal or Commit body; required for
	// handshake messages.
	Body BodyParser
	// LeafOK, if set, is called with SenderData.leaf_index before any
	// content key is derived; it must fail unless the leaf is a non-blank
	// leaf of the ratchet tree (RFC 9420, Section 6.3.2).
	LeafOK func(leaf uint32) error
}

// UnprotectPrivate decrypts a PrivateMessage of the current epoch (RFC 9420,
// Section 6.3): sender data, then the content with the sender's ratchet key
// for SenderData.generation and the reuse guard, then decodes
// PrivateMessageContent strictly, rejecting non-zero padding. The content key
// is consumed only if all of this succeeds. It does not verify the signature
// (AuthenticatedContent.VerifySignature) nor check group_id and epoch against
// the group state.
//
// Errors wrap ErrDecrypt (sender data or content does not decrypt),
// ErrMalformed, ErrInvalid, or the secrettree sentinels
// (ErrGenerationConsumed for a replay, ErrTooFarAhead, ErrLeafOutOfRange).
func UnprotectPrivate(s *suite.Suite, pm *PrivateMessage, tree *secrettree.Tree, senderData *keyschedule.SenderDataSecret, opts UnprotectOptions) (*AuthenticatedContent, error) {
	if !pm.ContentType.valid() {
		return nil, fmt.Errorf("%w: PrivateMessage.content_type %d", ErrMalformed, pm.ContentType)
	}
	sdKey, sdNonce := senderData.KeyNonce(pm.Ciphertext)
	sd, err := s.Open(sdKey, sdNonce, pm.senderDataAAD(nil), pm.EncryptedSenderData)
	clear(sdKey)
	if err != nil {
		return nil, fmt.Errorf("%w: PrivateMessage.encrypted_sender_data", ErrDecrypt)
	}
	if len(sd) != senderDataLen {
		return nil, fmt.Errorf("%w: SenderData is %d bytes, want %d", ErrMalformed, len(sd), senderDataLen)
	}
	r := codec.NewReader(sd)
	leaf := r.Uint32("SenderData.leaf_index")
	gen := r.Uint32("SenderData.generation")
	guard := r.Fixed("SenderData.reuse_guard", 4)
	if opts.LeafOK != nil {
		if err := opts.LeafOK(leaf); err != nil {
			return nil, fmt.Errorf("%w: SenderData.leaf_index %d: %w", ErrInvalid, leaf, err)
		}
	}

	ac := &AuthenticatedContent{
		WireFormat: WireFormatPrivateMessage,
		Content: FramedContent{
			GroupID:           pm.GroupID,
			Epoch:             pm.Epoch,
			Sender:            Sender{Type: SenderMember, Index: leaf},
			AuthenticatedData: pm.AuthenticatedData,
			ContentType:       pm.ContentType,
		},
	}
	aad := pm.contentAAD()
	err = tree.Open(leaf, ratchetFor(pm.ContentType), gen, func(key, nonce []byte) error {
		n := append([]byte(nil), nonce...)
		defer clear(n)
		for i := range 4 {
			n[i] ^= guard[i]
		}
		pt, err := s.Open(key, n, aad, pm.Ciphertext)
		if err != nil {
			return fmt.Errorf("%w: PrivateMessage.ciphertext", ErrDecrypt)
		}
		return parsePrivateMessageContent(pt, ac, opts.Body)
	})
	if err != nil {
		if errors.Is(err, ErrDecrypt) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("mls/framing: PrivateMessage from leaf %d generation %d: %w", leaf, gen, err)
	}
	return ac, nil
}

// parsePrivateMessageContent decodes PrivateMessageContent (RFC 9420,
// Section 6.3.1) into ac: the content select, the auth data, then padding
// that MUST be all zero bytes.
func parsePrivateMessageContent(pt []byte, ac *AuthenticatedContent, parse BodyParser) error {
	r := codec.NewReader(pt)
	ct := ac.Content.ContentType
	body := readBody(r, "PrivateMessageContent", ct, parse)
	auth := readAuthData(r, "PrivateMessageContent.auth", ct)
	if r.Err() != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, r.Err())
	}
	var acc byte
	for _, x := range r.Rest() {
		acc |= x
	}
	if acc != 0 {
		return fmt.Errorf("%w: PrivateMessageContent.padding has non-zero bytes", ErrMalformed)
	}
	// Copy out of the plaintext buffer, which the caller may reuse.
	ac.Content.Body = append([]byte(nil), body...)
	ac.Auth.Signature = append([]byte(nil), auth.Signature...)
	if ct == ContentCommit {
		ac.Auth.ConfirmationTag = append([]byte(nil), auth.ConfirmationTag...)
	}
	if err := ac.check(); err != nil {
		return err
	}
	return nil
}
