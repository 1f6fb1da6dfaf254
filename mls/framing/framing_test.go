package framing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
)

var rfcSuites = []suite.ID{1, 2, 3, 4, 5, 6, 7}

// testBody is a deliberately small, strict parser for the bodies that occur
// in message-protection.json: Remove proposals and Commits without a path.
// The group layer passes mls/wire's full parser instead.
func testBody(ct ContentType, data []byte) (int, error) {
	switch ct {
	case ContentProposal:
		if len(data) < 2 {
			return 0, codec.ErrTruncated
		}
		if t := binary.BigEndian.Uint16(data); t != 3 {
			return 0, fmt.Errorf("test parser: proposal type %d not supported", t)
		}
		if len(data) < 6 {
			return 0, codec.ErrTruncated
		}
		return 6, nil
	case ContentCommit:
		r := codec.NewReader(data)
		r.Opaque("Commit.proposals")
		if p := r.Uint8("Commit.path"); r.Err() == nil && p != 0 {
			return 0, errors.New("test parser: commit with path not supported")
		}
		if r.Err() != nil {
			return 0, r.Err()
		}
		return len(data) - r.Len(), nil
	}
	return 0, fmt.Errorf("content type %v", ct)
}

type protectionVector struct {
	CipherSuite             uint16           `json:"cipher_suite"`
	GroupID                 testkit.HexBytes `json:"group_id"`
	Epoch                   uint64           `json:"epoch"`
	TreeHash                testkit.HexBytes `json:"tree_hash"`
	ConfirmedTranscriptHash testkit.HexBytes `json:"confirmed_transcript_hash"`
	SignaturePriv           testkit.HexBytes `json:"signature_priv"`
	SignaturePub            testkit.HexBytes `json:"signature_pub"`
	EncryptionSecret        testkit.HexBytes `json:"encryption_secret"`
	SenderDataSecret        testkit.HexBytes `json:"sender_data_secret"`
	MembershipKey           testkit.HexBytes `json:"membership_key"`
	Proposal                testkit.HexBytes `json:"proposal"`
	ProposalPriv            testkit.HexBytes `json:"proposal_priv"`
	ProposalPub             testkit.HexBytes `json:"proposal_pub"`
	Commit                  testkit.HexBytes `json:"commit"`
	CommitPriv              testkit.HexBytes `json:"commit_priv"`
	CommitPub               testkit.HexBytes `json:"commit_pub"`
	Application             testkit.HexBytes `json:"application"`
	ApplicationPriv         testkit.HexBytes `json:"application_priv"`
}

func opaqueV(b, v []byte) []byte { return codec.AppendOpaque(b, v) }

func (v *protectionVector) groupContext() []byte {
	b := []byte{0, 1, byte(v.CipherSuite >> 8), byte(v.CipherSuite)}
	b = opaqueV(b, v.GroupID)
	b = binary.BigEndian.AppendUint64(b, v.Epoch)
	b = opaqueV(b, v.TreeHash)
	b = opaqueV(b, v.ConfirmedTranscriptHash)
	return opaqueV(b, nil)
}

// mlsMessage strips the MLSMessage header (version mls10, wire_format).
func mlsMessage(t *testing.T, b []byte, wf WireFormat) []byte {
	t.Helper()
	if len(b) < 4 || binary.BigEndian.Uint16(b) != 1 || WireFormat(binary.BigEndian.Uint16(b[2:])) != wf {
		t.Fatalf("not an MLSMessage with wire format %d: %x", wf, b[:min(4, len(b))])
	}
	return b[4:]
}

// epochState is a receiver's or sender's view of the vector's epoch.
type epochState struct {
	s          *suite.Suite
	tree       *secrettree.Tree
	senderData *keyschedule.SenderDataSecret
	membership *keyschedule.MembershipKey
	gc         []byte
}

func newEpochState(t testing.TB, s *suite.Suite, v *protectionVector) *epochState {
	t.Helper()
	enc, err := keyschedule.NewEncryptionSecret(s, v.EncryptionSecret)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := secrettree.New(s, enc, 2, secrettree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := keyschedule.NewSenderDataSecret(s, v.SenderDataSecret)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := keyschedule.NewMembershipKey(s, v.MembershipKey)
	if err != nil {
		t.Fatal(err)
	}
	return &epochState{s: s, tree: tree, senderData: sd, membership: mk, gc: v.groupContext()}
}

func (e *epochState) unprotectPublic(t *testing.T, data, sigPub []byte) *AuthenticatedContent {
	t.Helper()
	pm, err := ParsePublicMessage(data, testBody)
	if err != nil {
		t.Fatalf("ParsePublicMessage: %v", err)
	}
	re, err := pm.Marshal()
	if err != nil || !bytes.Equal(re, data) {
		t.Errorf("PublicMessage does not re-marshal identically: %v", err)
	}
	ac, err := UnprotectPublic(pm, e.membership, e.gc)
	if err != nil {
		t.Fatalf("UnprotectPublic: %v", err)
	}
	if err := ac.VerifySignature(e.s, sigPub, e.gc); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	return ac
}

func (e *epochState) unprotectPrivate(t *testing.T, data, sigPub []byte) *AuthenticatedContent {
	t.Helper()
	pm, err := ParsePrivateMessage(data)
	if err != nil {
		t.Fatalf("ParsePrivateMessage: %v", err)
	}
	re, err := pm.Marshal()
	if err != nil || !bytes.Equal(re, data) {
		t.Errorf("PrivateMessage does not re-marshal identically: %v", err)
	}
	ac, err := UnprotectPrivate(e.s, pm, e.tree, e.senderData, UnprotectOptions{Body: testBody})
	if err != nil {
		t.Fatalf("UnprotectPrivate: %v", err)
	}
	if err := ac.VerifySignature(e.s, sigPub, e.gc); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	return ac
}

func checkContent(t *testing.T, what string, ac *AuthenticatedContent, v *protectionVector, ct ContentType, body []byte) {
	t.Helper()
	c := ac.Content
	if c.ContentType != ct || !bytes.Equal(c.Body, body) || !bytes.Equal(c.GroupID, v.GroupID) || c.Epoch != v.Epoch ||
		c.Sender != (Sender{Type: SenderMember, Index: 1}) {
		t.Errorf("%s: content = %+v, want %v body %x from leaf 1", what, c, ct, body)
	}
}

func TestMessageProtectionVectors(t *testing.T) {
	var vs []protectionVector
	testkit.LoadVectors(t, "message-protection.json", &vs)
	count := map[suite.ID]int{}
	for i := range vs {
		v := &vs[i]
		s, err := suite.Lookup(suite.ID(v.CipherSuite))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(s.ID().String(), func(t *testing.T) {
			// Decrypt and verify the vector's messages. Each was protected
			// from a fresh epoch state (all use generation 0), so each gets a
			// fresh receiver.
			recv := newEpochState(t, s, v)
			ac := recv.unprotectPublic(t, mlsMessage(t, v.ProposalPub, WireFormatPublicMessage), v.SignaturePub)
			checkContent(t, "proposal_pub", ac, v, ContentProposal, v.Proposal)
			ac = newEpochState(t, s, v).unprotectPrivate(t, mlsMessage(t, v.ProposalPriv, WireFormatPrivateMessage), v.SignaturePub)
			checkContent(t, "proposal_priv", ac, v, ContentProposal, v.Proposal)
			ac = recv.unprotectPublic(t, mlsMessage(t, v.CommitPub, WireFormatPublicMessage), v.SignaturePub)
			checkContent(t, "commit_pub", ac, v, ContentCommit, v.Commit)
			ac = newEpochState(t, s, v).unprotectPrivate(t, mlsMessage(t, v.CommitPriv, WireFormatPrivateMessage), v.SignaturePub)
			checkContent(t, "commit_priv", ac, v, ContentCommit, v.Commit)
			ac = newEpochState(t, s, v).unprotectPrivate(t, mlsMessage(t, v.ApplicationPriv, WireFormatPrivateMessage), v.SignaturePub)
			checkContent(t, "application_priv", ac, v, ContentApplication, v.Application)

			// Protect ourselves (sender leaf 1), then unprotect with a fresh receiver.
			send := newEpochState(t, s, v)
			recv2 := newEpochState(t, s, v)
			for _, m := range []struct {
				ct   ContentType
				body []byte
			}{{ContentProposal, v.Proposal}, {ContentCommit, v.Commit}, {ContentApplication, v.Application}} {
				content := FramedContent{GroupID: v.GroupID, Epoch: v.Epoch, Sender: Sender{Type: SenderMember, Index: 1},
					AuthenticatedData: []byte("aad"), ContentType: m.ct, Body: m.body}
				// PublicMessage: application data must fail.
				pac, err := Sign(s, v.SignaturePriv, WireFormatPublicMessage, content, send.gc)
				if m.ct == ContentApplication {
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("application data signed as PublicMessage: err = %v", err)
					}
					forged := &AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: content, Auth: FramedContentAuthData{Signature: []byte{1}}}
					if _, err := ProtectPublic(forged, send.membership, send.gc); !errors.Is(err, ErrInvalid) {
						t.Errorf("application data protected as PublicMessage: err = %v", err)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					if m.ct == ContentCommit {
						pac.Auth.ConfirmationTag = bytes.Repeat([]byte{7}, s.Nh())
					}
					pm, err := ProtectPublic(pac, send.membership, send.gc)
					if err != nil {
						t.Fatal(err)
					}
					data, err := pm.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					got := recv2.unprotectPublic(t, data, v.SignaturePub)
					if !bytes.Equal(got.Content.Body, m.body) || !bytes.Equal(got.Auth.ConfirmationTag, pac.Auth.ConfirmationTag) {
						t.Errorf("%v: PublicMessage round trip changed the content", m.ct)
					}
				}
				sac, err := Sign(s, v.SignaturePriv, WireFormatPrivateMessage, content, send.gc)
				if err != nil {
					t.Fatal(err)
				}
				if m.ct == ContentCommit {
					sac.Auth.ConfirmationTag = bytes.Repeat([]byte{7}, s.Nh())
				}
				pm, err := ProtectPrivate(s, sac, send.tree, send.senderData, PrivateOptions{PadBlock: 32})
				if err != nil {
					t.Fatal(err)
				}
				data, err := pm.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				got := recv2.unprotectPrivate(t, data, v.SignaturePub)
				if !bytes.Equal(got.Content.Body, m.body) || !bytes.Equal(got.Content.AuthenticatedData, []byte("aad")) {
					t.Errorf("%v: PrivateMessage round trip changed the content", m.ct)
				}
			}
			count[s.ID()]++
		})
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no message-protection case ran", id)
		}
		t.Logf("message-protection: suite %v: %d case(s)", id, count[id])
	}
}
