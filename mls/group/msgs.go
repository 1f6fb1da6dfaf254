package group

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
)

// The RFC 9420 structs the group layer needs (Sections 5.3, 6, 7, 10, 12), with
// strict Parse and canonical marshal. Re-marshalling a parsed value reproduces its
// bytes, so signatures and hashes over re-encoded values match the sender's.

const (
	mls10 = 1

	credentialBasic = 1
	credentialX509  = 2

	leafSourceKeyPackage = 1
	leafSourceUpdate     = 2
	leafSourceCommit     = 3

	nodeLeaf   = 1
	nodeParent = 2

	wireFormatPublic     = 1
	wireFormatPrivate    = 2
	wireFormatWelcome    = 3
	wireFormatGroupInfo  = 4
	wireFormatKeyPackage = 5

	propAdd          = 1
	propUpdate       = 2
	propRemove       = 3
	propPSK          = 4
	propReInit       = 5
	propExternalInit = 6
	propGCE          = 7

	pskExternal   = 1
	pskResumption = 2

	usageApplication = 1
	usageReinit      = 2
	usageBranch      = 3

	extApplicationID        = 1
	extRatchetTree          = 2
	extRequiredCapabilities = 3
	extExternalPub          = 4
	extExternalSenders      = 5
)

// credential is a Credential (Section 5.3).
type credential struct {
	Type         uint16
	Identity     []byte   // basic
	Certificates [][]byte // x509
}

func (c *credential) marshal(w *codec.Builder) {
	w.Uint16(c.Type)
	switch c.Type {
	case credentialBasic:
		w.Opaque(c.Identity)
	case credentialX509:
		w.Vector(func(w *codec.Builder) {
			for _, cert := range c.Certificates {
				w.Opaque(cert)
			}
		})
	}
}

func (c *credential) parse(r *codec.Reader) {
	c.Type = r.Uint16("credential_type")
	switch c.Type {
	case credentialBasic:
		c.Identity = r.Opaque("identity")
	case credentialX509:
		r.Vector("certificates", func(r *codec.Reader) { c.Certificates = append(c.Certificates, r.Opaque("cert_data")) })
	default:
		r.Fail("credential_type", codec.ErrBadEnum)
	}
}

func (c *credential) equal(o *credential) bool {
	var a, b codec.Builder
	c.marshal(&a)
	o.marshal(&b)
	return string(a.Bytes()) == string(b.Bytes())
}

type capabilities struct {
	Versions, CipherSuites, Extensions, Proposals, Credentials []uint16
}

func marshalU16s(w *codec.Builder, v []uint16) {
	w.Vector(func(w *codec.Builder) {
		for _, x := range v {
			w.Uint16(x)
		}
	})
}

func parseU16s(r *codec.Reader, field string) []uint16 {
	var out []uint16
	r.Vector(field, func(r *codec.Reader) { out = append(out, r.Uint16(field)) })
	return out
}

func (c *capabilities) marshal(w *codec.Builder) {
	marshalU16s(w, c.Versions)
	marshalU16s(w, c.CipherSuites)
	marshalU16s(w, c.Extensions)
	marshalU16s(w, c.Proposals)
	marshalU16s(w, c.Credentials)
}

func (c *capabilities) parse(r *codec.Reader) {
	c.Versions = parseU16s(r, "capabilities.versions")
	c.CipherSuites = parseU16s(r, "capabilities.cipher_suites")
	c.Extensions = parseU16s(r, "capabilities.extensions")
	c.Proposals = parseU16s(r, "capabilities.proposals")
	c.Credentials = parseU16s(r, "capabilities.credentials")
}

func hasU16(v []uint16, x uint16) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func marshalExtensions(w *codec.Builder, exts []Extension) {
	w.Vector(func(w *codec.Builder) {
		for _, e := range exts {
			w.Uint16(e.Type)
			w.Opaque(e.Data)
		}
	})
}

// parseExtensions reads vector<Extension> and rejects duplicate types (Section 13.4).
func parseExtensions(r *codec.Reader, field string) []Extension {
	var out []Extension
	seen := map[uint16]bool{}
	r.Vector(field, func(r *codec.Reader) {
		e := Extension{Type: r.Uint16(field + ".extension_type"), Data: r.Opaque(field + ".extension_data")}
		if seen[e.Type] {
			r.Fail(field, fmt.Errorf("duplicate extension type %d", e.Type))
		}
		seen[e.Type] = true
		out = append(out, e)
	})
	return out
}

func findExtension(exts []Extension, typ uint16) ([]byte, bool) {
	for _, e := range exts {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

// leafNode is a LeafNode (Section 7.2).
type leafNode struct {
	EncryptionKey []byte
	SignatureKey  []byte
	Credential    credential
	Capabilities  capabilities
	Source        uint8
	NotBefore     uint64 // key_package
	NotAfter      uint64
	ParentHash    []byte // commit
	Extensions    []Extension
	Signature     []byte
}

func (l *leafNode) marshalTBSCore(w *codec.Builder) {
	w.Opaque(l.EncryptionKey)
	w.Opaque(l.SignatureKey)
	l.Credential.marshal(w)
	l.Capabilities.marshal(w)
	w.Uint8(l.Source)
	switch l.Source {
	case leafSourceKeyPackage:
		w.Uint64(l.NotBefore)
		w.Uint64(l.NotAfter)
	case leafSourceCommit:
		w.Opaque(l.ParentHash)
	}
	marshalExtensions(w, l.Extensions)
}

// tbs returns LeafNodeTBS (Section 7.2).
func (l *leafNode) tbs(groupID []byte, leafIndex uint32) []byte {
	var w codec.Builder
	l.marshalTBSCore(&w)
	if l.Source == leafSourceUpdate || l.Source == leafSourceCommit {
		w.Opaque(groupID)
		w.Uint32(leafIndex)
	}
	return w.Bytes()
}

func (l *leafNode) marshal(w *codec.Builder) {
	l.marshalTBSCore(w)
	w.Opaque(l.Signature)
}

func (l *leafNode) bytes() []byte {
	var w codec.Builder
	l.marshal(&w)
	return w.Bytes()
}

func (l *leafNode) parse(r *codec.Reader) {
	l.EncryptionKey = r.Opaque("leaf_node.encryption_key")
	l.SignatureKey = r.Opaque("leaf_node.signature_key")
	l.Credential.parse(r)
	l.Capabilities.parse(r)
	l.Source = r.Uint8("leaf_node.leaf_node_source")
	switch l.Source {
	case leafSourceKeyPackage:
		l.NotBefore = r.Uint64("leaf_node.lifetime")
		l.NotAfter = r.Uint64("leaf_node.lifetime")
	case leafSourceUpdate:
	case leafSourceCommit:
		l.ParentHash = r.Opaque("leaf_node.parent_hash")
	default:
		r.Fail("leaf_node.leaf_node_source", codec.ErrBadEnum)
	}
	l.Extensions = parseExtensions(r, "leaf_node.extensions")
	l.Signature = r.Opaque("leaf_node.signature")
}

// keyPackage is a KeyPackage (Section 10).
type keyPackage struct {
	Version     uint16
	CipherSuite uint16
	InitKey     []byte
	LeafNode    leafNode
	Extensions  []Extension
	Signature   []byte
	Raw         []byte // the encoded KeyPackage
}

func (k *keyPackage) tbs() []byte {
	var w codec.Builder
	w.Uint16(k.Version)
	w.Uint16(k.CipherSuite)
	w.Opaque(k.InitKey)
	k.LeafNode.marshal(&w)
	marshalExtensions(&w, k.Extensions)
	return w.Bytes()
}

func (k *keyPackage) marshal(w *codec.Builder) {
	w.Raw(k.tbs())
	w.Opaque(k.Signature)
}

func (k *keyPackage) parse(r *codec.Reader) {
	mark := r.Offset()
	k.Version = r.Uint16("key_package.version")
	k.CipherSuite = r.Uint16("key_package.cipher_suite")
	k.InitKey = r.Opaque("key_package.init_key")
	k.LeafNode.parse(r)
	k.Extensions = parseExtensions(r, "key_package.extensions")
	k.Signature = r.Opaque("key_package.signature")
	if r.Err() == nil {
		k.Raw = clone(r.Since(mark))
	}
}

// parentNode is a ParentNode (Section 7.1).
type parentNode struct {
	EncryptionKey  []byte
	ParentHash     []byte
	UnmergedLeaves []uint32
}

func (p *parentNode) marshal(w *codec.Builder) {
	w.Opaque(p.EncryptionKey)
	w.Opaque(p.ParentHash)
	w.Vector(func(w *codec.Builder) {
		for _, u := range p.UnmergedLeaves {
			w.Uint32(u)
		}
	})
}

func (p *parentNode) parse(r *codec.Reader) {
	p.EncryptionKey = r.Opaque("parent_node.encryption_key")
	p.ParentHash = r.Opaque("parent_node.parent_hash")
	r.Vector("parent_node.unmerged_leaves", func(r *codec.Reader) { p.UnmergedLeaves = append(p.UnmergedLeaves, r.Uint32("unmerged_leaves")) })
}

type hpkeCiphertext struct{ KEMOutput, Ciphertext []byte }

func (c *hpkeCiphertext) marshal(w *codec.Builder) {
	w.Opaque(c.KEMOutput)
	w.Opaque(c.Ciphertext)
}

func (c *hpkeCiphertext) parse(r *codec.Reader) {
	c.KEMOutput = r.Opaque("kem_output")
	c.Ciphertext = r.Opaque("ciphertext")
}

type updatePathNode struct {
	EncryptionKey       []byte
	EncryptedPathSecret []hpkeCiphertext
}

// updatePath is an UpdatePath (Section 7.6).
type updatePath struct {
	LeafNode leafNode
	Nodes    []updatePathNode
}

func (u *updatePath) marshal(w *codec.Builder) {
	u.LeafNode.marshal(w)
	w.Vector(func(w *codec.Builder) {
		for _, n := range u.Nodes {
			w.Opaque(n.EncryptionKey)
			w.Vector(func(w *codec.Builder) {
				for _, c := range n.EncryptedPathSecret {
					c.marshal(w)
				}
			})
		}
	})
}

func (u *updatePath) bytes() []byte {
	var w codec.Builder
	u.marshal(&w)
	return w.Bytes()
}

func (u *updatePath) parse(r *codec.Reader) {
	u.LeafNode.parse(r)
	r.Vector("update_path.nodes", func(r *codec.Reader) {
		var n updatePathNode
		n.EncryptionKey = r.Opaque("update_path_node.encryption_key")
		r.Vector("update_path_node.encrypted_path_secret", func(r *codec.Reader) {
			var c hpkeCiphertext
			c.parse(r)
			n.EncryptedPathSecret = append(n.EncryptedPathSecret, c)
		})
		u.Nodes = append(u.Nodes, n)
	})
}

// pskID is a PreSharedKeyID (Section 8.4).
type pskID struct {
	Type       uint8
	PSKID      []byte // external
	Usage      uint8  // resumption
	PSKGroupID []byte
	PSKEpoch   uint64
	Nonce      []byte
}

func (p *pskID) marshal(w *codec.Builder) {
	w.Uint8(p.Type)
	switch p.Type {
	case pskExternal:
		w.Opaque(p.PSKID)
	case pskResumption:
		w.Uint8(p.Usage)
		w.Opaque(p.PSKGroupID)
		w.Uint64(p.PSKEpoch)
	}
	w.Opaque(p.Nonce)
}

func (p *pskID) bytes() []byte {
	var w codec.Builder
	p.marshal(&w)
	return w.Bytes()
}

func (p *pskID) parse(r *codec.Reader) {
	p.Type = r.Uint8("psk_id.psktype")
	switch p.Type {
	case pskExternal:
		p.PSKID = r.Opaque("psk_id.psk_id")
	case pskResumption:
		p.Usage = r.Uint8("psk_id.usage")
		if p.Usage < usageApplication || p.Usage > usageBranch {
			r.Fail("psk_id.usage", codec.ErrBadEnum)
		}
		p.PSKGroupID = r.Opaque("psk_id.psk_group_id")
		p.PSKEpoch = r.Uint64("psk_id.psk_epoch")
	default:
		r.Fail("psk_id.psktype", codec.ErrBadEnum)
	}
	p.Nonce = r.Opaque("psk_id.psk_nonce")
}

// key identifies the PSK without its nonce (for duplicate detection).
func (p *pskID) key() string {
	q := *p
	q.Nonce = nil
	return string(q.bytes())
}

// proposal is a Proposal (Section 12.1).
type proposal struct {
	Type       uint16
	KeyPackage *keyPackage
	LeafNode   *leafNode
	Removed    uint32
	PSK        *pskID
	ReInit     *reInit
	KEMOutput  []byte      // external_init
	Extensions []Extension // group_context_extensions
	Data       []byte
}

type reInit struct {
	GroupID     []byte
	Version     uint16
	CipherSuite uint16
	Extensions  []Extension
}

func (p *proposal) marshal(w *codec.Builder) {
	w.Uint16(p.Type)
	switch p.Type {
	case propAdd:
		p.KeyPackage.marshal(w)
	case propUpdate:
		p.LeafNode.marshal(w)
	case propRemove:
		w.Uint32(p.Removed)
	case propPSK:
		p.PSK.marshal(w)
	case propReInit:
		w.Opaque(p.ReInit.GroupID)
		w.Uint16(p.ReInit.Version)
		w.Uint16(p.ReInit.CipherSuite)
		marshalExtensions(w, p.ReInit.Extensions)
	case propExternalInit:
		w.Opaque(p.KEMOutput)
	case propGCE:
		marshalExtensions(w, p.Extensions)
	default:
		w.Raw(p.Data)
	}
}

func (p *proposal) parse(r *codec.Reader) {
	p.Type = r.Uint16("proposal.proposal_type")
	switch p.Type {
	case propAdd:
		p.KeyPackage = new(keyPackage)
		p.KeyPackage.parse(r)
	case propUpdate:
		p.LeafNode = new(leafNode)
		p.LeafNode.parse(r)
	case propRemove:
		p.Removed = r.Uint32("remove.removed")
	case propPSK:
		p.PSK = new(pskID)
		p.PSK.parse(r)
	case propReInit:
		p.ReInit = &reInit{GroupID: r.Opaque("reinit.group_id"), Version: r.Uint16("reinit.version"), CipherSuite: r.Uint16("reinit.cipher_suite")}
		p.ReInit.Extensions = parseExtensions(r, "reinit.extensions")
	case propExternalInit:
		p.KEMOutput = r.Opaque("external_init.kem_output")
	case propGCE:
		p.Extensions = parseExtensions(r, "group_context_extensions.extensions")
	default:
		// Unknown proposal types cannot be delimited inside a Commit.
		r.Fail("proposal.proposal_type", fmt.Errorf("%w %d", codec.ErrBadEnum, p.Type))
	}
}

func (p *proposal) bytes() []byte {
	var w codec.Builder
	p.marshal(&w)
	return w.Bytes()
}

// proposalOrRef is a ProposalOrRef (Section 12.4).
type proposalOrRef struct {
	Proposal  *proposal
	Reference []byte
}

// commit is a Commit (Section 12.4).
type commit struct {
	Proposals []proposalOrRef
	Path      *updatePath
}

func (c *commit) marshal(w *codec.Builder) {
	w.Vector(func(w *codec.Builder) {
		for _, p := range c.Proposals {
			if p.Proposal != nil {
				w.Uint8(1)
				p.Proposal.marshal(w)
			} else {
				w.Uint8(2)
				w.Opaque(p.Reference)
			}
		}
	})
	w.Optional(c.Path != nil, func(w *codec.Builder) { c.Path.marshal(w) })
}

func (c *commit) bytes() []byte {
	var w codec.Builder
	c.marshal(&w)
	return w.Bytes()
}

func parseCommit(b []byte) (*commit, error) {
	r := codec.NewReader(b)
	c := new(commit)
	r.Vector("commit.proposals", func(r *codec.Reader) {
		switch t := r.Uint8("proposal_or_ref.type"); t {
		case 1:
			p := new(proposal)
			p.parse(r)
			c.Proposals = append(c.Proposals, proposalOrRef{Proposal: p})
		case 2:
			c.Proposals = append(c.Proposals, proposalOrRef{Reference: r.Opaque("proposal_or_ref.reference")})
		default:
			r.Fail("proposal_or_ref.type", codec.ErrBadEnum)
		}
	})
	if r.Optional("commit.path") {
		c.Path = new(updatePath)
		c.Path.parse(r)
	}
	if err := r.Finish("commit"); err != nil {
		return nil, fmt.Errorf("mls/group: Commit: %w", err)
	}
	return c, nil
}

func parseProposal(b []byte) (*proposal, error) {
	r := codec.NewReader(b)
	p := new(proposal)
	p.parse(r)
	if err := r.Finish("proposal"); err != nil {
		return nil, fmt.Errorf("mls/group: Proposal: %w", err)
	}
	return p, nil
}

// groupContext is a GroupContext (Section 8.1).
type groupContext struct {
	Version                 uint16
	CipherSuite             uint16
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              []Extension
}

func (g *groupContext) marshal(w *codec.Builder) {
	w.Uint16(g.Version)
	w.Uint16(g.CipherSuite)
	w.Opaque(g.GroupID)
	w.Uint64(g.Epoch)
	w.Opaque(g.TreeHash)
	w.Opaque(g.ConfirmedTranscriptHash)
	marshalExtensions(w, g.Extensions)
}

func (g *groupContext) bytes() []byte {
	var w codec.Builder
	g.marshal(&w)
	return w.Bytes()
}

func (g *groupContext) parse(r *codec.Reader) {
	g.Version = r.Uint16("group_context.version")
	g.CipherSuite = r.Uint16("group_context.cipher_suite")
	g.GroupID = r.Opaque("group_context.group_id")
	g.Epoch = r.Uint64("group_context.epoch")
	g.TreeHash = r.Opaque("group_context.tree_hash")
	g.ConfirmedTranscriptHash = r.Opaque("group_context.confirmed_transcript_hash")
	g.Extensions = parseExtensions(r, "group_context.extensions")
}

// groupInfo is a GroupInfo (Section 12.4.3).
type groupInfo struct {
	GroupContext    groupContext
	Extensions      []Extension
	ConfirmationTag []byte
	Signer          uint32
	Signature       []byte
}

func (g *groupInfo) tbs() []byte {
	var w codec.Builder
	g.GroupContext.marshal(&w)
	marshalExtensions(&w, g.Extensions)
	w.Opaque(g.ConfirmationTag)
	w.Uint32(g.Signer)
	return w.Bytes()
}

func (g *groupInfo) bytes() []byte {
	var w codec.Builder
	w.Raw(g.tbs())
	w.Opaque(g.Signature)
	return w.Bytes()
}

func (g *groupInfo) parse(r *codec.Reader) {
	g.GroupContext.parse(r)
	g.Extensions = parseExtensions(r, "group_info.extensions")
	g.ConfirmationTag = r.Opaque("group_info.confirmation_tag")
	g.Signer = r.Uint32("group_info.signer")
	g.Signature = r.Opaque("group_info.signature")
}

// groupSecrets is GroupSecrets (Section 12.4.3.1).
type groupSecrets struct {
	JoinerSecret []byte
	PathSecret   []byte // nil when absent
	PSKs         []pskID
}

func (g *groupSecrets) bytes() []byte {
	var w codec.Builder
	w.Opaque(g.JoinerSecret)
	w.Optional(g.PathSecret != nil, func(w *codec.Builder) { w.Opaque(g.PathSecret) })
	w.Vector(func(w *codec.Builder) {
		for i := range g.PSKs {
			g.PSKs[i].marshal(w)
		}
	})
	return w.Bytes()
}

func parseGroupSecrets(b []byte) (*groupSecrets, error) {
	r := codec.NewReader(b)
	g := new(groupSecrets)
	g.JoinerSecret = r.Opaque("group_secrets.joiner_secret")
	if r.Optional("group_secrets.path_secret") {
		g.PathSecret = r.Opaque("group_secrets.path_secret")
	}
	r.Vector("group_secrets.psks", func(r *codec.Reader) {
		var p pskID
		p.parse(r)
		g.PSKs = append(g.PSKs, p)
	})
	if err := r.Finish("group_secrets"); err != nil {
		return nil, fmt.Errorf("mls/group: GroupSecrets: %w", err)
	}
	return g, nil
}

type encryptedGroupSecrets struct {
	NewMember             []byte
	EncryptedGroupSecrets hpkeCiphertext
}

// welcome is a Welcome (Section 12.4.3.1).
type welcome struct {
	CipherSuite        uint16
	Secrets            []encryptedGroupSecrets
	EncryptedGroupInfo []byte
}

func (m *welcome) marshal(w *codec.Builder) {
	w.Uint16(m.CipherSuite)
	w.Vector(func(w *codec.Builder) {
		for _, s := range m.Secrets {
			w.Opaque(s.NewMember)
			s.EncryptedGroupSecrets.marshal(w)
		}
	})
	w.Opaque(m.EncryptedGroupInfo)
}

func (m *welcome) parse(r *codec.Reader) {
	m.CipherSuite = r.Uint16("welcome.cipher_suite")
	r.Vector("welcome.secrets", func(r *codec.Reader) {
		var s encryptedGroupSecrets
		s.NewMember = r.Opaque("encrypted_group_secrets.new_member")
		s.EncryptedGroupSecrets.parse(r)
		m.Secrets = append(m.Secrets, s)
	})
	m.EncryptedGroupInfo = r.Opaque("welcome.encrypted_group_info")
}

// mlsMessage is an MLSMessage (Section 6) with its body still encoded for the
// framed wire formats.
type mlsMessage struct {
	wireFormat uint16
	body       []byte // the rest of the message after wire_format
	welcome    *welcome
	groupInfo  *groupInfo
	keyPackage *keyPackage
}

func parseMLSMessage(b []byte) (*mlsMessage, error) {
	r := codec.NewReader(b)
	if v := r.Uint16("mls_message.version"); r.Err() == nil && v != mls10 {
		return nil, fmt.Errorf("mls/group: MLSMessage.version: unsupported %d", v)
	}
	m := &mlsMessage{wireFormat: r.Uint16("mls_message.wire_format")}
	if r.Err() != nil {
		return nil, fmt.Errorf("mls/group: MLSMessage: %w", r.Err())
	}
	switch m.wireFormat {
	case wireFormatPublic, wireFormatPrivate:
		m.body = r.Fixed("mls_message.body", r.Len())
		return m, nil
	case wireFormatWelcome:
		m.welcome = new(welcome)
		m.welcome.parse(r)
	case wireFormatGroupInfo:
		m.groupInfo = new(groupInfo)
		m.groupInfo.parse(r)
	case wireFormatKeyPackage:
		m.keyPackage = new(keyPackage)
		m.keyPackage.parse(r)
	default:
		return nil, fmt.Errorf("mls/group: MLSMessage.wire_format: %w %d", codec.ErrBadEnum, m.wireFormat)
	}
	if err := r.Finish("mls_message"); err != nil {
		return nil, fmt.Errorf("mls/group: MLSMessage: %w", err)
	}
	return m, nil
}

func mlsMessageBytes(wireFormat uint16, body func(w *codec.Builder)) []byte {
	var w codec.Builder
	w.Uint16(mls10)
	w.Uint16(wireFormat)
	body(&w)
	return w.Bytes()
}
