package wire

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

type messagesVector struct {
	MLSWelcome                     testkit.HexBytes `json:"mls_welcome"`
	MLSGroupInfo                   testkit.HexBytes `json:"mls_group_info"`
	MLSKeyPackage                  testkit.HexBytes `json:"mls_key_package"`
	RatchetTree                    testkit.HexBytes `json:"ratchet_tree"`
	GroupSecrets                   testkit.HexBytes `json:"group_secrets"`
	AddProposal                    testkit.HexBytes `json:"add_proposal"`
	UpdateProposal                 testkit.HexBytes `json:"update_proposal"`
	RemoveProposal                 testkit.HexBytes `json:"remove_proposal"`
	PreSharedKeyProposal           testkit.HexBytes `json:"pre_shared_key_proposal"`
	ReInitProposal                 testkit.HexBytes `json:"re_init_proposal"`
	ExternalInitProposal           testkit.HexBytes `json:"external_init_proposal"`
	GroupContextExtensionsProposal testkit.HexBytes `json:"group_context_extensions_proposal"`
	Commit                         testkit.HexBytes `json:"commit"`
	PublicMessageApplication       testkit.HexBytes `json:"public_message_application"`
	PublicMessageProposal          testkit.HexBytes `json:"public_message_proposal"`
	PublicMessageCommit            testkit.HexBytes `json:"public_message_commit"`
	PrivateMessage                 testkit.HexBytes `json:"private_message"`
}

func loadMessages(t testing.TB) []messagesVector {
	var vs []messagesVector
	testkit.LoadVectors(t, "messages.json", &vs)
	return vs
}

// proposalBody parses a proposal body (Add, Update, ...) of type pt by
// prefixing its type, and re-encodes it without the prefix: the vectors
// carry the bodies (RFC 9420, Section 12.1) without proposal_type.
func proposalBody(pt ProposalType, body []byte) ([]byte, error) {
	in := binary.BigEndian.AppendUint16(nil, uint16(pt))
	p, err := ParseProposal(append(in, body...))
	if err != nil {
		return nil, err
	}
	if p.Type != pt {
		return nil, err
	}
	return p.Marshal()[2:], nil
}

// roundTrips lists, for every field of a messages.json case, a decoder
// that re-encodes (parse then marshal).
func roundTrips(v *messagesVector) []struct {
	name string
	in   []byte
	rt   func([]byte) ([]byte, error)
	wf   WireFormat
} {
	mls := func(wf WireFormat) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) {
			m, err := ParseMLSMessage(b)
			if err != nil {
				return nil, err
			}
			return m.Marshal(), nil
		}
	}
	prop := func(pt ProposalType) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) { return proposalBody(pt, b) }
	}
	type rt = struct {
		name string
		in   []byte
		rt   func([]byte) ([]byte, error)
		wf   WireFormat
	}
	return []rt{
		{"mls_welcome", v.MLSWelcome, mls(WireFormatWelcome), WireFormatWelcome},
		{"mls_group_info", v.MLSGroupInfo, mls(WireFormatGroupInfo), WireFormatGroupInfo},
		{"mls_key_package", v.MLSKeyPackage, mls(WireFormatKeyPackage), WireFormatKeyPackage},
		{"ratchet_tree", v.RatchetTree, func(b []byte) ([]byte, error) {
			t, err := ParseRatchetTree(b)
			if err != nil {
				return nil, err
			}
			return t.Marshal(), nil
		}, 0},
		{"group_secrets", v.GroupSecrets, func(b []byte) ([]byte, error) {
			g, err := ParseGroupSecrets(b)
			if err != nil {
				return nil, err
			}
			return g.Marshal(), nil
		}, 0},
		{"add_proposal", v.AddProposal, prop(ProposalTypeAdd), 0},
		{"update_proposal", v.UpdateProposal, prop(ProposalTypeUpdate), 0},
		{"remove_proposal", v.RemoveProposal, prop(ProposalTypeRemove), 0},
		{"pre_shared_key_proposal", v.PreSharedKeyProposal, prop(ProposalTypePSK), 0},
		{"re_init_proposal", v.ReInitProposal, prop(ProposalTypeReInit), 0},
		{"external_init_proposal", v.ExternalInitProposal, prop(ProposalTypeExternalInit), 0},
		{"group_context_extensions_proposal", v.GroupContextExtensionsProposal, prop(ProposalTypeGroupContextExtensions), 0},
		{"commit", v.Commit, func(b []byte) ([]byte, error) {
			c, err := ParseCommit(b)
			if err != nil {
				return nil, err
			}
			return c.Marshal(), nil
		}, 0},
		{"public_message_application", v.PublicMessageApplication, mls(WireFormatPublicMessage), WireFormatPublicMessage},
		{"public_message_proposal", v.PublicMessageProposal, mls(WireFormatPublicMessage), WireFormatPublicMessage},
		{"public_message_commit", v.PublicMessageCommit, mls(WireFormatPublicMessage), WireFormatPublicMessage},
		{"private_message", v.PrivateMessage, mls(WireFormatPrivateMessage), WireFormatPrivateMessage},
	}
}

// TestMessagesVectors decodes and re-encodes every field of every case of
// messages.json and requires identical bytes (RFC 9420, Sections 6, 7.6, 10,
// 12.1, 12.4).
func TestMessagesVectors(t *testing.T) {
	vs := loadMessages(t)
	if len(vs) != 300 {
		t.Fatalf("messages.json: %d cases, want 300", len(vs))
	}
	fields := 0
	for i := range vs {
		for _, f := range roundTrips(&vs[i]) {
			if len(f.in) == 0 {
				t.Fatalf("case %d: field %s is empty", i, f.name)
			}
			out, err := f.rt(f.in)
			if err != nil {
				t.Fatalf("case %d %s: %v", i, f.name, err)
			}
			if !bytes.Equal(out, f.in) {
				t.Fatalf("case %d %s: re-encoding differs\n got %x\nwant %x", i, f.name, out, []byte(f.in))
			}
			if f.wf != 0 {
				m, _ := ParseMLSMessage(f.in)
				if m.WireFormat != f.wf {
					t.Fatalf("case %d %s: wire format %d, want %d", i, f.name, m.WireFormat, f.wf)
				}
			}
			fields++
		}
	}
	if fields != 300*17 {
		t.Fatalf("round-tripped %d fields, want %d", fields, 300*17)
	}
	t.Logf("messages.json: %d cases, %d fields round-tripped", len(vs), fields)
}

// TestMessagesKeepRaw checks the raw bytes kept for signed structures are
// exactly their re-encoding.
func TestMessagesKeepRaw(t *testing.T) {
	vs := loadMessages(t)
	for i, v := range vs {
		m, err := ParseMLSMessage(v.MLSKeyPackage)
		if err != nil {
			t.Fatal(err)
		}
		kp := m.KeyPackage
		if !bytes.Equal(kp.Raw, kp.Marshal()) || !bytes.Equal(kp.LeafNode.Raw, kp.LeafNode.Marshal()) {
			t.Fatalf("case %d: KeyPackage raw bytes differ from encoding", i)
		}
		if !bytes.Equal(kp.Raw, v.MLSKeyPackage[4:]) {
			t.Fatalf("case %d: KeyPackage.Raw is not the message body", i)
		}
		g, err := ParseMLSMessage(v.MLSGroupInfo)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.GroupInfo.Raw, v.MLSGroupInfo[4:]) {
			t.Fatalf("case %d: GroupInfo.Raw", i)
		}
		p, err := ParseMLSMessage(v.PublicMessageCommit)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Public.Content.Raw, p.Public.Content.Append(nil)) {
			t.Fatalf("case %d: FramedContent.Raw", i)
		}
	}
}
