package authority

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// ErrNotApplication is returned by MLSDecrypter for a retained
// PrivateMessage that carries a proposal or commit: Decrypt skips it (the
// bundle is about application messages; membership comes from commits the
// DS keeps in the clear).
var ErrNotApplication = errors.New("authority: not an application message")

// Member is a leaf of a group's ratchet tree in one epoch: who holds it and
// the signature key the leaf carries (with its key-directory proof).
type Member struct {
	Account      string `json:"account"`
	Device       string `json:"device"`
	SignatureKey []byte `json:"signature_key"`
	KeyProof     []byte `json:"key_proof,omitempty"`
}

// EpochState is the public state of one epoch that decryption needs: the
// cipher suite, the number of leaves of the ratchet tree (the secret tree's
// shape), the serialized GroupContext (part of what senders sign), and the
// members by leaf index. The delivery service's PublicGroup holds it from the
// member-signed commits; it is public, so it can be checked independently
// (the GroupContext's tree hash commits to the tree).
type EpochState struct {
	Suite        uint16            `json:"cipher_suite"`
	LeafCount    uint32            `json:"leaf_count"`
	GroupContext []byte            `json:"group_context"`
	Members      map[uint32]Member `json:"members"` // by leaf index
}

// MLSDecrypter implements Decrypter with the MLS engine: for each
// (group, epoch) it builds the secret tree from the recovered
// encryption_secret (RFC 9420, Section 9) and decrypts each retained
// PrivateMessage (Section 6.3) with it and the sender_data_secret, then
// checks the sender's signature over FramedContentTBS (Section 6.1) with the
// leaf's key. A franked message's text is its franking plaintext, checked
// against the commitment in authenticated_data.
type MLSDecrypter struct {
	States func(groupID []byte, epoch uint64) (*EpochState, error)

	mu    sync.Mutex
	trees map[string]*epochKeys
}

type epochKeys struct {
	s          *suite.Suite
	st         *EpochState
	tree       *secrettree.Tree
	senderData *keyschedule.SenderDataSecret
}

// NewMLSDecrypter returns a decrypter that takes epoch states from states.
func NewMLSDecrypter(states func(groupID []byte, epoch uint64) (*EpochState, error)) *MLSDecrypter {
	return &MLSDecrypter{States: states, trees: map[string]*epochKeys{}}
}

func (d *MLSDecrypter) keys(c escrow.Context, p escrow.Secrets) (*epochKeys, error) {
	k := fmt.Sprintf("%x/%d", c.GroupID, c.Epoch)
	if ek, ok := d.trees[k]; ok {
		return ek, nil
	}
	st, err := d.States(c.GroupID, c.Epoch)
	if err != nil {
		return nil, fmt.Errorf("epoch state: %w", err)
	}
	gc, err := wire.ParseGroupContext(st.GroupContext)
	if err != nil {
		return nil, fmt.Errorf("epoch state: GroupContext: %w", err)
	}
	if !bytes.Equal(gc.GroupID, c.GroupID) || gc.Epoch != c.Epoch || uint16(gc.CipherSuite) != st.Suite {
		return nil, errors.New("epoch state: GroupContext is of another group, epoch or suite")
	}
	s, err := suite.Lookup(suite.ID(st.Suite))
	if err != nil {
		return nil, err
	}
	enc, err := keyschedule.NewEncryptionSecret(s, bytes.Clone(p.EncryptionSecret))
	if err != nil {
		return nil, err
	}
	tree, err := secrettree.New(s, enc, st.LeafCount, secrettree.Config{MaxForwardDistance: 1 << 16})
	if err != nil {
		return nil, err
	}
	sd, err := keyschedule.NewSenderDataSecret(s, bytes.Clone(p.SenderDataSecret))
	if err != nil {
		return nil, err
	}
	ek := &epochKeys{s: s, st: st, tree: tree, senderData: sd}
	d.trees[k] = ek
	return ek, nil
}

// Decrypt implements Decrypter. m.Ciphertext is a PrivateMessage, bare or
// inside an MLSMessage (version mls10, wire_format mls_private_message).
func (d *MLSDecrypter) Decrypt(c escrow.Context, p escrow.Secrets, m Retained) (*evidence.Message, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	raw := m.Ciphertext
	if len(raw) > 4 && raw[0] == 0 && raw[1] == 1 && raw[2] == 0 && raw[3] == byte(framing.WireFormatPrivateMessage) {
		raw = raw[4:]
	}
	pm, err := framing.ParsePrivateMessage(raw)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pm.GroupID, c.GroupID) || pm.Epoch != c.Epoch {
		return nil, errors.New("PrivateMessage is of another group or epoch")
	}
	if pm.ContentType != framing.ContentApplication {
		return nil, ErrNotApplication
	}
	ek, err := d.keys(c, p)
	if err != nil {
		return nil, err
	}
	ac, err := framing.UnprotectPrivate(ek.s, pm, ek.tree, ek.senderData, framing.UnprotectOptions{
		LeafOK: func(leaf uint32) error {
			if _, ok := ek.st.Members[leaf]; !ok {
				return fmt.Errorf("leaf %d is not a member in this epoch", leaf)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if ac.Content.Sender.Type != framing.SenderMember {
		return nil, errors.New("application message from a non-member sender")
	}
	mem := ek.st.Members[ac.Content.Sender.Index]
	if err := ac.VerifySignature(ek.s, mem.SignatureKey, ek.st.GroupContext); err != nil {
		return nil, err
	}
	fc, err := ac.Content.Marshal()
	if err != nil {
		return nil, err
	}
	// FramedContentTBS (RFC 9420, Section 6.1): version, wire_format,
	// content, and the GroupContext for a member sender.
	tbs := append([]byte{0x00, 0x01, 0x00, byte(framing.WireFormatPrivateMessage)}, fc...)
	tbs = append(tbs, ek.st.GroupContext...)
	msg := &evidence.Message{GroupID: c.GroupID, Epoch: c.Epoch, Sender: mem.Account, Device: mem.Device,
		LeafIndex: ac.Content.Sender.Index, Suite: ek.st.Suite, ContentTBS: tbs, Signature: ac.Auth.Signature,
		SignerKey: mem.SignatureKey, KeyProof: mem.KeyProof}
	body := ac.Content.Body
	if len(ac.Content.AuthenticatedData) == franking.CommitmentSize {
		var com franking.Commitment
		copy(com[:], ac.Content.AuthenticatedData)
		if pt, _, err := franking.Unprotect(body, com, c.GroupID, franking.Sender{Account: mem.Account, Device: mem.Device}); err == nil {
			msg.Franked, body = true, pt
		}
	}
	if !utf8.Valid(body) {
		return nil, errors.New("application data is not text")
	}
	msg.Text = string(body)
	return msg, nil
}
