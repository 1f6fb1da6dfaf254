package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/mls/codec"
)

type roundTripper func([]byte) ([]byte, error)

func rtMLSMessage(b []byte) ([]byte, error) {
	m, err := ParseMLSMessage(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtPublicMessage(b []byte) ([]byte, error) {
	m, err := ParsePublicMessage(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtPrivateMessage(b []byte) ([]byte, error) {
	m, err := ParsePrivateMessage(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtWelcome(b []byte) ([]byte, error) {
	m, err := ParseWelcome(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtGroupInfo(b []byte) ([]byte, error) {
	m, err := ParseGroupInfo(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtKeyPackage(b []byte) ([]byte, error) {
	m, err := ParseKeyPackage(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtCommit(b []byte) ([]byte, error) {
	m, err := ParseCommit(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtProposal(b []byte) ([]byte, error) {
	m, err := ParseProposal(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtLeafNode(b []byte) ([]byte, error) {
	m, err := ParseLeafNode(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtRatchetTree(b []byte) ([]byte, error) {
	m, err := ParseRatchetTree(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtGroupSecrets(b []byte) ([]byte, error) {
	m, err := ParseGroupSecrets(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

// seeds returns the example encodings of each kind from messages.json
// (bodies unwrapped from MLSMessage where needed).
func seeds(t testing.TB) map[string][][]byte {
	vs := loadMessages(t)
	out := map[string][][]byte{}
	add := func(k string, b []byte) { out[k] = append(out[k], b) }
	for i, v := range vs {
		if i%10 != 0 { // 30 cases per kind keep seeding fast
			continue
		}
		for _, b := range [][]byte{v.MLSWelcome, v.MLSGroupInfo, v.MLSKeyPackage, v.PublicMessageApplication, v.PublicMessageProposal, v.PublicMessageCommit, v.PrivateMessage} {
			add("MLSMessage", b)
		}
		add("PublicMessage", v.PublicMessageCommit[4:])
		add("PublicMessage", v.PublicMessageProposal[4:])
		add("PrivateMessage", v.PrivateMessage[4:])
		add("Welcome", v.MLSWelcome[4:])
		add("GroupInfo", v.MLSGroupInfo[4:])
		add("KeyPackage", v.MLSKeyPackage[4:])
		add("Commit", v.Commit)
		add("RatchetTree", v.RatchetTree)
		add("GroupSecrets", v.GroupSecrets)
		kp, _ := ParseKeyPackage(v.MLSKeyPackage[4:])
		add("LeafNode", kp.LeafNode.Raw)
		add("LeafNode", v.UpdateProposal)
		for pt, body := range map[ProposalType][]byte{1: v.AddProposal, 2: v.UpdateProposal, 3: v.RemoveProposal,
			4: v.PreSharedKeyProposal, 5: v.ReInitProposal, 6: v.ExternalInitProposal, 7: v.GroupContextExtensionsProposal} {
			add("Proposal", append([]byte{0, byte(pt)}, body...))
		}
	}
	add("Proposal", []byte{0xff, 0x00, 0x02, 0xaa, 0xbb}) // custom proposal type carried opaquely
	return out
}

func fuzzRoundTrip(f *testing.F, kind string, rt roundTripper) {
	for _, s := range seeds(f)[kind] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := rt(data)
		if err != nil {
			return
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("%s: parse/marshal not identical\n in %x\nout %x", kind, data, out)
		}
	})
}

func FuzzMLSMessage(f *testing.F)     { fuzzRoundTrip(f, "MLSMessage", rtMLSMessage) }
func FuzzPublicMessage(f *testing.F)  { fuzzRoundTrip(f, "PublicMessage", rtPublicMessage) }
func FuzzPrivateMessage(f *testing.F) { fuzzRoundTrip(f, "PrivateMessage", rtPrivateMessage) }
func FuzzWelcome(f *testing.F)        { fuzzRoundTrip(f, "Welcome", rtWelcome) }
func FuzzGroupInfo(f *testing.F)      { fuzzRoundTrip(f, "GroupInfo", rtGroupInfo) }
func FuzzKeyPackage(f *testing.F)     { fuzzRoundTrip(f, "KeyPackage", rtKeyPackage) }
func FuzzCommit(f *testing.F)         { fuzzRoundTrip(f, "Commit", rtCommit) }
func FuzzProposal(f *testing.F)       { fuzzRoundTrip(f, "Proposal", rtProposal) }
func FuzzLeafNode(f *testing.F)       { fuzzRoundTrip(f, "LeafNode", rtLeafNode) }
func FuzzRatchetTree(f *testing.F)    { fuzzRoundTrip(f, "RatchetTree", rtRatchetTree) }
func FuzzGroupSecrets(f *testing.F)   { fuzzRoundTrip(f, "GroupSecrets", rtGroupSecrets) }

var allKinds = map[string]roundTripper{
	"MLSMessage": rtMLSMessage, "PublicMessage": rtPublicMessage, "PrivateMessage": rtPrivateMessage,
	"Welcome": rtWelcome, "GroupInfo": rtGroupInfo, "KeyPackage": rtKeyPackage, "Commit": rtCommit,
	"Proposal": rtProposal, "LeafNode": rtLeafNode, "RatchetTree": rtRatchetTree, "GroupSecrets": rtGroupSecrets,
}

// TestNoStrictPrefixParses checks that no strict prefix of a valid encoding
// parses and that appended bytes are rejected (RFC 9420, Section 2.1:
// strict decoding).
func TestNoStrictPrefixParses(t *testing.T) {
	for kind, list := range seeds(t) {
		rt := allKinds[kind]
		for _, s := range list[:min(len(list), 6)] {
			if _, err := rt(s); err != nil {
				t.Fatalf("%s seed does not parse: %v", kind, err)
			}
			for n := 0; n < len(s); n++ {
				if _, err := rt(s[:n]); err == nil {
					t.Fatalf("%s: prefix of %d/%d bytes parsed", kind, n, len(s))
				}
			}
			if _, err := rt(append(append([]byte{}, s...), 0)); !errors.Is(err, codec.ErrTrailing) {
				t.Fatalf("%s: trailing byte: %v", kind, err)
			}
		}
	}
}

// TestRejectDuplicateExtensions checks an extension list with a repeated
// type is rejected (RFC 9420, Section 13).
func TestRejectDuplicateExtensions(t *testing.T) {
	e := Extensions{{Type: 3, Data: []byte{0, 0, 0}}, {Type: 3, Data: []byte{0, 0, 0}}}
	gc := GroupContext{Version: MLS10, CipherSuite: 1, GroupID: []byte("g"), Extensions: e}
	if _, err := ParseGroupContext(gc.Marshal()); !errors.Is(err, codec.ErrDuplicate) {
		t.Fatalf("GroupContext with duplicate extensions: %v", err)
	}
	vs := loadMessages(t)
	kp, err := ParseKeyPackage(vs[0].MLSKeyPackage[4:])
	if err != nil {
		t.Fatal(err)
	}
	kp.LeafNode.Raw = nil
	kp.LeafNode.Extensions = append(kp.LeafNode.Extensions, Extension{Type: 0xff00}, Extension{Type: 0xff00})
	if _, err := ParseKeyPackage(kp.Marshal()); !errors.Is(err, codec.ErrDuplicate) {
		t.Fatalf("LeafNode with duplicate extensions: %v", err)
	}
}

// TestRejectUnknownEnums checks unknown wire formats, versions, sender
// types, content types, node types, leaf node sources, credential types and
// PSK types are rejected (RFC 9420, Sections 6, 7, 8.4).
func TestRejectUnknownEnums(t *testing.T) {
	vs := loadMessages(t)
	v := vs[0]
	mut := func(b []byte, i int, val byte) []byte {
		c := append([]byte{}, b...)
		c[i] = val
		return c
	}
	cases := []struct {
		name string
		in   []byte
		rt   roundTripper
	}{
		{"wire_format 6", mut(v.PrivateMessage, 3, 6), rtMLSMessage},
		{"version 2", mut(v.PrivateMessage, 1, 2), rtMLSMessage},
		{"ratchet_tree node_type 3", mut(v.RatchetTree, codec.VarintLen(len(v.RatchetTree))+1, 3), rtRatchetTree},
		{"optional octet 2", mut(v.RatchetTree, codec.VarintLen(len(v.RatchetTree)), 2), rtRatchetTree},
	}
	pm, _ := ParsePublicMessage(v.PublicMessageCommit[4:])
	off := 4 + codec.VarintLen(len(pm.Content.GroupID)) + len(pm.Content.GroupID) + 8
	cases = append(cases, struct {
		name string
		in   []byte
		rt   roundTripper
	}{"sender_type 5", mut(v.PublicMessageCommit, off, 5), rtMLSMessage})
	psk := PreSharedKeyID{Type: 3, Nonce: []byte{1}}
	if _, err := ParsePreSharedKeyID(append([]byte{3}, codec.AppendOpaque(nil, psk.Nonce)...)); !errors.Is(err, codec.ErrBadEnum) {
		t.Errorf("psktype 3: %v", err)
	}
	for _, c := range cases {
		if _, err := c.rt(c.in); !errors.Is(err, codec.ErrBadEnum) {
			t.Errorf("%s: got %v, want ErrBadEnum", c.name, err)
		}
	}
}

// TestPrivateMessageContentPadding checks non-zero padding is rejected
// (RFC 9420, Section 6.3.1).
func TestPrivateMessageContentPadding(t *testing.T) {
	p := PrivateMessageContent{Content: FramedContent{ContentType: ContentTypeApplication, ApplicationData: []byte("hi")},
		Auth: FramedContentAuthData{Signature: []byte{1, 2}}, Padding: 5}
	enc := p.Append(nil)
	got, err := ParsePrivateMessageContent(enc, ContentTypeApplication)
	if err != nil || got.Padding != 5 || string(got.Content.ApplicationData) != "hi" {
		t.Fatalf("%v %+v", err, got)
	}
	enc[len(enc)-1] = 1
	if _, err := ParsePrivateMessageContent(enc, ContentTypeApplication); !errors.Is(err, codec.ErrInvalid) {
		t.Fatalf("non-zero padding accepted: %v", err)
	}
}

func BenchmarkParseMLSMessageCommit(b *testing.B) {
	vs := loadMessages(b)
	in := vs[0].PublicMessageCommit
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseMLSMessage(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRatchetTree(b *testing.B) {
	vs := loadMessages(b)
	in := vs[0].RatchetTree
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseRatchetTree(in); err != nil {
			b.Fatal(err)
		}
	}
}

func rtGroupContext(b []byte) ([]byte, error) {
	m, err := ParseGroupContext(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtUpdatePath(b []byte) ([]byte, error) {
	m, err := ParseUpdatePath(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtFramedContent(b []byte) ([]byte, error) {
	m, err := ParseFramedContent(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtAuthenticatedContent(b []byte) ([]byte, error) {
	m, err := ParseAuthenticatedContent(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtPreSharedKeyID(b []byte) ([]byte, error) {
	m, err := ParsePreSharedKeyID(b)
	if err != nil {
		return nil, err
	}
	return m.Marshal(), nil
}

func rtExtensions(b []byte) ([]byte, error) {
	m, err := ParseExtensions(b)
	if err != nil {
		return nil, err
	}
	return m.Append(nil), nil
}

// moreSeeds derives seeds for the inner structures from messages.json.
func moreSeeds(t testing.TB) map[string][][]byte {
	out := map[string][][]byte{}
	for i, v := range loadMessages(t) {
		if i%15 != 0 {
			continue
		}
		gi, err := ParseGroupInfo(v.MLSGroupInfo[4:])
		if err != nil {
			t.Fatal(err)
		}
		out["GroupContext"] = append(out["GroupContext"], gi.GroupContext.Marshal())
		out["Extensions"] = append(out["Extensions"], gi.Extensions.Append(nil), gi.GroupContext.Extensions.Append(nil))
		if c, err := ParseCommit(v.Commit); err == nil && c.Path != nil {
			out["UpdatePath"] = append(out["UpdatePath"], c.Path.Marshal())
		}
		pm, err := ParsePublicMessage(v.PublicMessageCommit[4:])
		if err != nil {
			t.Fatal(err)
		}
		out["FramedContent"] = append(out["FramedContent"], pm.Content.Marshal())
		ac := AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth}
		out["AuthenticatedContent"] = append(out["AuthenticatedContent"], ac.Marshal())
		out["PreSharedKeyID"] = append(out["PreSharedKeyID"], v.PreSharedKeyProposal)
	}
	return out
}

func fuzzMore(f *testing.F, kind string, rt roundTripper) {
	for _, s := range moreSeeds(f)[kind] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := rt(data)
		if err != nil {
			return
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("%s: parse/marshal not identical\n in %x\nout %x", kind, data, out)
		}
	})
}

func FuzzGroupContext(f *testing.F)  { fuzzMore(f, "GroupContext", rtGroupContext) }
func FuzzUpdatePath(f *testing.F)    { fuzzMore(f, "UpdatePath", rtUpdatePath) }
func FuzzFramedContent(f *testing.F) { fuzzMore(f, "FramedContent", rtFramedContent) }
func FuzzAuthenticatedContent(f *testing.F) {
	fuzzMore(f, "AuthenticatedContent", rtAuthenticatedContent)
}
func FuzzPreSharedKeyID(f *testing.F) { fuzzMore(f, "PreSharedKeyID", rtPreSharedKeyID) }
func FuzzExtensions(f *testing.F)     { fuzzMore(f, "Extensions", rtExtensions) }

// TestInnerStructuresStrict runs the prefix and trailing-byte checks on the
// inner structures' seeds.
func TestInnerStructuresStrict(t *testing.T) {
	rts := map[string]roundTripper{"GroupContext": rtGroupContext, "UpdatePath": rtUpdatePath, "FramedContent": rtFramedContent,
		"AuthenticatedContent": rtAuthenticatedContent, "PreSharedKeyID": rtPreSharedKeyID, "Extensions": rtExtensions}
	for kind, list := range moreSeeds(t) {
		if len(list) == 0 {
			t.Fatalf("%s: no seeds", kind)
		}
		for _, s := range list[:min(len(list), 4)] {
			out, err := rts[kind](s)
			if err != nil || !bytes.Equal(out, s) {
				t.Fatalf("%s: seed round trip: %v", kind, err)
			}
			for n := 0; n < len(s); n++ {
				if _, err := rts[kind](s[:n]); err == nil {
					t.Fatalf("%s: prefix of %d/%d bytes parsed", kind, n, len(s))
				}
			}
		}
	}
}

// FuzzExternalSender: parse, re-marshal, compare (one external_senders entry,
// RFC 9420, Section 12.1.8.1), seeded with basic and x509 credentials.
func FuzzExternalSender(f *testing.F) {
	for _, s := range []ExternalSender{
		{SignatureKey: []byte("sig-key"), Credential: Credential{Type: CredentialTypeBasic, Identity: []byte("ds")}},
		{SignatureKey: []byte{1, 2, 3}, Credential: Credential{Type: CredentialTypeX509, Certificates: [][]byte{{0x30, 1}, {0x30, 2}}}},
	} {
		f.Add(s.Append(nil))
		f.Add(AppendExternalSenders(nil, []ExternalSender{s, s}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := ParseExternalSender(data); err == nil {
			if out := s.Append(nil); !bytes.Equal(out, data) {
				t.Fatalf("ExternalSender: parse/marshal not identical\n in %x\nout %x", data, out)
			}
		}
		if list, err := ParseExternalSenders(data); err == nil {
			if out := AppendExternalSenders(nil, list); !bytes.Equal(out, data) {
				t.Fatalf("ExternalSenders: parse/marshal not identical\n in %x\nout %x", data, out)
			}
		}
	})
}
