package wire

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
)

// Extension (RFC 9420, Section 13). Unknown types are carried opaquely.
type Extension struct {
	Type ExtensionType
	Data []byte
}

// Extensions is an extension list; Parse rejects duplicate types (Section 13).
type Extensions []Extension

// Find returns the data of the extension of type t.
func (e Extensions) Find(t ExtensionType) ([]byte, bool) {
	for _, x := range e {
		if x.Type == t {
			return x.Data, true
		}
	}
	return nil, false
}

// Has reports whether an extension of type t is present.
func (e Extensions) Has(t ExtensionType) bool { _, ok := e.Find(t); return ok }

// Append encodes Extension extensions<V>.
func (e Extensions) Append(b []byte) []byte {
	return codec.AppendVector(b, func(b []byte) []byte {
		for _, x := range e {
			b = codec.AppendUint16(b, uint16(x.Type))
			b = codec.AppendOpaque(b, x.Data)
		}
		return b
	})
}

func readExtensions(r *codec.Reader, field string) Extensions {
	var out Extensions
	r.Vector(field, func(r *codec.Reader) {
		t := ExtensionType(r.Uint16("extension_type"))
		d := r.Opaque("extension_data")
		if r.Err() != nil {
			return
		}
		for _, x := range out {
			if x.Type == t {
				r.Fail("extension_type", fmt.Errorf("%w: extension type %d", codec.ErrDuplicate, t))
				return
			}
		}
		out = append(out, Extension{Type: t, Data: d})
	})
	return out
}

// ParseExtensions decodes Extension extensions<V>.
func ParseExtensions(b []byte) (Extensions, error) {
	r := codec.NewReader(b)
	e := readExtensions(r, "extensions")
	if err := r.Finish("mls/wire: Extensions"); err != nil {
		return nil, err
	}
	return e, nil
}

// Credential (RFC 9420, Section 5.3): basic (identity) or x509 (certificate
// chain, leaf first). Other credential types cannot be delimited and are
// rejected.
type Credential struct {
	Type         CredentialType
	Identity     []byte   // basic
	Certificates [][]byte // x509
}

// Append encodes the credential.
func (c *Credential) Append(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(c.Type))
	switch c.Type {
	case CredentialTypeBasic:
		b = codec.AppendOpaque(b, c.Identity)
	case CredentialTypeX509:
		b = codec.AppendVector(b, func(b []byte) []byte {
			for _, cert := range c.Certificates {
				b = codec.AppendOpaque(b, cert)
			}
			return b
		})
	default:
		panic(fmt.Sprintf("mls/wire: cannot encode credential type %d", c.Type))
	}
	return b
}

func (c *Credential) decode(r *codec.Reader) {
	c.Type = CredentialType(r.Uint16("credential_type"))
	switch c.Type {
	case CredentialTypeBasic:
		c.Identity = r.Opaque("identity")
	case CredentialTypeX509:
		c.Certificates = [][]byte{}
		r.Vector("certificates", func(r *codec.Reader) {
			c.Certificates = append(c.Certificates, r.Opaque("cert_data"))
		})
	default:
		if r.Err() == nil {
			badEnum(r, "credential_type", uint64(c.Type))
		}
	}
}

// Equal reports whether two credentials are identical.
func (c *Credential) Equal(o *Credential) bool {
	return string(c.Append(nil)) == string(o.Append(nil))
}

// Capabilities (RFC 9420, Section 7.2).
type Capabilities struct {
	Versions     []ProtocolVersion
	CipherSuites []CipherSuite
	Extensions   []ExtensionType
	Proposals    []ProposalType
	Credentials  []CredentialType
}

// Append encodes the capabilities.
func (c *Capabilities) Append(b []byte) []byte {
	b = appendU16s(b, c.Versions)
	b = appendU16s(b, c.CipherSuites)
	b = appendU16s(b, c.Extensions)
	b = appendU16s(b, c.Proposals)
	return appendU16s(b, c.Credentials)
}

func (c *Capabilities) decode(r *codec.Reader) {
	c.Versions = readU16s[ProtocolVersion](r, "versions")
	c.CipherSuites = readU16s[CipherSuite](r, "cipher_suites")
	c.Extensions = readU16s[ExtensionType](r, "extensions")
	c.Proposals = readU16s[ProposalType](r, "proposals")
	c.Credentials = readU16s[CredentialType](r, "credentials")
}

// Lifetime (RFC 9420, Section 7.2), seconds since the Unix epoch.
type Lifetime struct{ NotBefore, NotAfter uint64 }

// LeafNode (RFC 9420, Section 7.2).
type LeafNode struct {
	EncryptionKey []byte
	SignatureKey  []byte
	Credential    Credential
	Capabilities  Capabilities
	Source        LeafNodeSource
	Lifetime      Lifetime // Source == key_package
	ParentHash    []byte   // Source == commit
	Extensions    Extensions
	Signature     []byte

	// Raw is the encoding this leaf was parsed from (nil if built in memory).
	Raw []byte
}

// appendTBSBody encodes the fields shared by LeafNode and LeafNodeTBS.
func (l *LeafNode) appendBody(b []byte) []byte {
	b = codec.AppendOpaque(b, l.EncryptionKey)
	b = codec.AppendOpaque(b, l.SignatureKey)
	b = l.Credential.Append(b)
	b = l.Capabilities.Append(b)
	b = codec.AppendUint8(b, uint8(l.Source))
	switch l.Source {
	case LeafNodeSourceKeyPackage:
		b = codec.AppendUint64(b, l.Lifetime.NotBefore)
		b = codec.AppendUint64(b, l.Lifetime.NotAfter)
	case LeafNodeSourceUpdate:
	case LeafNodeSourceCommit:
		b = codec.AppendOpaque(b, l.ParentHash)
	default:
		panic(fmt.Sprintf("mls/wire: cannot encode leaf_node_source %d", l.Source))
	}
	return l.Extensions.Append(b)
}

// Append encodes the LeafNode.
func (l *LeafNode) Append(b []byte) []byte {
	return codec.AppendOpaque(l.appendBody(b), l.Signature)
}

// Marshal returns the encoding of the LeafNode.
func (l *LeafNode) Marshal() []byte { return l.Append(nil) }

// AppendTBS encodes LeafNodeTBS (RFC 9420, Section 7.2); groupID and
// leafIndex are used only for the update and commit sources.
func (l *LeafNode) AppendTBS(b []byte, groupID []byte, leafIndex uint32) []byte {
	b = l.appendBody(b)
	if l.Source == LeafNodeSourceUpdate || l.Source == LeafNodeSourceCommit {
		b = codec.AppendOpaque(b, groupID)
		b = codec.AppendUint32(b, leafIndex)
	}
	return b
}

func (l *LeafNode) decode(r *codec.Reader) {
	start := r.Offset()
	l.EncryptionKey = r.Opaque("encryption_key")
	l.SignatureKey = r.Opaque("signature_key")
	r.Enter("credential")
	l.Credential.decode(r)
	r.Leave()
	r.Enter("capabilities")
	l.Capabilities.decode(r)
	r.Leave()
	l.Source = LeafNodeSource(r.Uint8("leaf_node_source"))
	switch l.Source {
	case LeafNodeSourceKeyPackage:
		l.Lifetime.NotBefore = r.Uint64("lifetime.not_before")
		l.Lifetime.NotAfter = r.Uint64("lifetime.not_after")
	case LeafNodeSourceUpdate:
	case LeafNodeSourceCommit:
		l.ParentHash = r.Opaque("parent_hash")
	default:
		if r.Err() == nil {
			badEnum(r, "leaf_node_source", uint64(l.Source))
		}
	}
	l.Extensions = readExtensions(r, "extensions")
	l.Signature = r.Opaque("signature")
	l.Raw = r.Since(start)
}

// ParseLeafNode decodes a LeafNode.
func ParseLeafNode(b []byte) (*LeafNode, error) {
	return parse("LeafNode", b, func(l *LeafNode, r *codec.Reader) { l.decode(r) })
}

// KeyPackage (RFC 9420, Section 10).
type KeyPackage struct {
	Version     ProtocolVersion
	CipherSuite CipherSuite
	InitKey     []byte
	LeafNode    LeafNode
	Extensions  Extensions
	Signature   []byte

	// Raw is the encoding this KeyPackage was parsed from (the input of
	// KeyPackageRef); nil if built in memory.
	Raw []byte
}

// AppendTBS encodes KeyPackageTBS.
func (k *KeyPackage) AppendTBS(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(k.Version))
	b = codec.AppendUint16(b, uint16(k.CipherSuite))
	b = codec.AppendOpaque(b, k.InitKey)
	b = k.LeafNode.Append(b)
	return k.Extensions.Append(b)
}

// Append encodes the KeyPackage.
func (k *KeyPackage) Append(b []byte) []byte {
	return codec.AppendOpaque(k.AppendTBS(b), k.Signature)
}

// Marshal returns the encoding of the KeyPackage.
func (k *KeyPackage) Marshal() []byte { return k.Append(nil) }

func (k *KeyPackage) decode(r *codec.Reader) {
	start := r.Offset()
	k.Version = ProtocolVersion(r.Uint16("version"))
	k.CipherSuite = CipherSuite(r.Uint16("cipher_suite"))
	k.InitKey = r.Opaque("init_key")
	r.Enter("leaf_node")
	k.LeafNode.decode(r)
	r.Leave()
	k.Extensions = readExtensions(r, "extensions")
	k.Signature = r.Opaque("signature")
	k.Raw = r.Since(start)
}

// ParseKeyPackage decodes a KeyPackage (not wrapped in MLSMessage).
func ParseKeyPackage(b []byte) (*KeyPackage, error) {
	return parse("KeyPackage", b, func(k *KeyPackage, r *codec.Reader) { k.decode(r) })
}
