package wire

import (
	"github.com/daylight-im/daylight/mls/codec"
)

// GroupContext (RFC 9420, Section 8.1).
type GroupContext struct {
	Version                 ProtocolVersion
	CipherSuite             CipherSuite
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              Extensions
}

// Append encodes the GroupContext.
func (g *GroupContext) Append(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(g.Version))
	b = codec.AppendUint16(b, uint16(g.CipherSuite))
	b = codec.AppendOpaque(b, g.GroupID)
	b = codec.AppendUint64(b, g.Epoch)
	b = codec.AppendOpaque(b, g.TreeHash)
	b = codec.AppendOpaque(b, g.ConfirmedTranscriptHash)
	return g.Extensions.Append(b)
}

// Marshal returns the encoding of the GroupContext.
func (g *GroupContext) Marshal() []byte { return g.Append(nil) }

func (g *GroupContext) decode(r *codec.Reader) {
	g.Version = ProtocolVersion(r.Uint16("version"))
	g.CipherSuite = CipherSuite(r.Uint16("cipher_suite"))
	g.GroupID = r.Opaque("group_id")
	g.Epoch = r.Uint64("epoch")
	g.TreeHash = r.Opaque("tree_hash")
	g.ConfirmedTranscriptHash = r.Opaque("confirmed_transcript_hash")
	g.Extensions = readExtensions(r, "extensions")
}

// ParseGroupContext decodes a GroupContext.
func ParseGroupContext(b []byte) (*GroupContext, error) {
	return parse("GroupContext", b, func(g *GroupContext, r *codec.Reader) { g.decode(r) })
}

// GroupInfo (RFC 9420, Section 12.4.3).
type GroupInfo struct {
	GroupContext    GroupContext
	Extensions      Extensions
	ConfirmationTag []byte
	Signer          uint32
	Signature       []byte

	// Raw is the encoding this GroupInfo was parsed from (nil if built).
	Raw []byte
}

// AppendTBS encodes GroupInfoTBS.
func (g *GroupInfo) AppendTBS(b []byte) []byte {
	b = g.GroupContext.Append(b)
	b = g.Extensions.Append(b)
	b = codec.AppendOpaque(b, g.ConfirmationTag)
	return codec.AppendUint32(b, g.Signer)
}

// Append encodes the GroupInfo.
func (g *GroupInfo) Append(b []byte) []byte {
	return codec.AppendOpaque(g.AppendTBS(b), g.Signature)
}

// Marshal returns the encoding of the GroupInfo.
func (g *GroupInfo) Marshal() []byte { return g.Append(nil) }

func (g *GroupInfo) decode(r *codec.Reader) {
	start := r.Offset()
	r.Enter("group_context")
	g.GroupContext.decode(r)
	r.Leave()
	g.Extensions = readExtensions(r, "extensions")
	g.ConfirmationTag = r.Opaque("confirmation_tag")
	g.Signer = r.Uint32("signer")
	g.Signature = r.Opaque("signature")
	g.Raw = r.Since(start)
}

// ParseGroupInfo decodes a GroupInfo (not wrapped in MLSMessage).
func ParseGroupInfo(b []byte) (*GroupInfo, error) {
	return parse("GroupInfo", b, func(g *GroupInfo, r *codec.Reader) { g.decode(r) })
}

// EncryptedGroupSecrets (RFC 9420, Section 12.4.3).
type EncryptedGroupSecrets struct {
	NewMember             []byte // KeyPackageRef
	EncryptedGroupSecrets HPKECiphertext
}

// Welcome (RFC 9420, Section 12.4.3).
type Welcome struct {
	CipherSuite        CipherSuite
	Secrets            []EncryptedGroupSecrets
	EncryptedGroupInfo []byte
}

// Append encodes the Welcome.
func (w *Welcome) Append(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(w.CipherSuite))
	b = codec.AppendVector(b, func(b []byte) []byte {
		for i := range w.Secrets {
			b = codec.AppendOpaque(b, w.Secrets[i].NewMember)
			b = w.Secrets[i].EncryptedGroupSecrets.Append(b)
		}
		return b
	})
	return codec.AppendOpaque(b, w.EncryptedGroupInfo)
}

// Marshal returns the encoding of the Welcome.
func (w *Welcome) Marshal() []byte { return w.Append(nil) }

func (w *Welcome) decode(r *codec.Reader) {
	w.CipherSuite = CipherSuite(r.Uint16("cipher_suite"))
	w.Secrets = []EncryptedGroupSecrets{}
	r.Vector("secrets", func(r *codec.Reader) {
		var s EncryptedGroupSecrets
		s.NewMember = r.Opaque("new_member")
		r.Enter("encrypted_group_secrets")
		s.EncryptedGroupSecrets.decode(r)
		r.Leave()
		w.Secrets = append(w.Secrets, s)
	})
	w.EncryptedGroupInfo = r.Opaque("encrypted_group_info")
}

// ParseWelcome decodes a Welcome (not wrapped in MLSMessage).
func ParseWelcome(b []byte) (*Welcome, error) {
	return parse("Welcome", b, func(w *Welcome, r *codec.Reader) { w.decode(r) })
}

// GroupSecrets (RFC 9420, Section 12.4.3). PathSecret is nil when absent.
type GroupSecrets struct {
	JoinerSecret []byte
	PathSecret   []byte
	PSKs         []PreSharedKeyID
}

// Append encodes the GroupSecrets.
func (g *GroupSecrets) Append(b []byte) []byte {
	b = codec.AppendOpaque(b, g.JoinerSecret)
	if g.PathSecret == nil {
		b = append(b, 0)
	} else {
		b = codec.AppendOpaque(append(b, 1), g.PathSecret)
	}
	return codec.AppendVector(b, func(b []byte) []byte {
		for i := range g.PSKs {
			b = g.PSKs[i].Append(b)
		}
		return b
	})
}

// Marshal returns the encoding of the GroupSecrets.
func (g *GroupSecrets) Marshal() []byte { return g.Append(nil) }

// ParseGroupSecrets decodes a GroupSecrets. Secrets are copied out of b.
func ParseGroupSecrets(b []byte) (*GroupSecrets, error) {
	return parse("GroupSecrets", b, func(g *GroupSecrets, r *codec.Reader) {
		g.JoinerSecret = r.OpaqueCopy("joiner_secret")
		if r.Optional("path_secret") {
			g.PathSecret = r.OpaqueCopy("path_secret.path_secret")
			if g.PathSecret == nil && r.Err() == nil {
				g.PathSecret = []byte{}
			}
		}
		g.PSKs = []PreSharedKeyID{}
		r.Vector("psks", func(r *codec.Reader) {
			var p PreSharedKeyID
			p.decode(r)
			g.PSKs = append(g.PSKs, p)
		})
	})
}
