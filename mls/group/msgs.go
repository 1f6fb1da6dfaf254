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
	typ      uint16
	identity []byte   // basic
	certs    [][]byte // x509
}

func (c *credential) marshal(w *codec.Builder) {
	w.Uint16(c.typ)
	switch c.typ {
	case credentialBasic:
		w.Opaque(c.identity)
	case credentialX509:
		w.Vector(func(w *codec.Builder) {
			for _, cert := range c.certs {
				w.Opaque(cert)
			}
		})
	}
}

func (c *credential) parse(r *codec.Reader) {
	c.typ = r.Uint16("credential_type")
	switch c.typ {
	case credentialBasic:
		c.identity = r.Opaque("identity")
	case credentialX509:
		r.Vector("certificates", func(r *codec.Reader) { c.certs = append(c.certs, r.Opaque("cert_data")) })
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
	versions, cipherSuites, extensions, proposals, credentials []uint16
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
	marshalU16s(w, c.versions)
	marshalU16s(w, c.cipherSuites)
	marshalU16s(w, c.extensions)
	marshalU16s(w, c.proposals)
	marshalU16s(w, c.credentials)
}

func (c *capabilities) parse(r *codec.Reader) {
	c.versions = parseU16s(r, "capabilities.versions")
	c.cipherSuites = parseU16s(r, "capabilities.cipher_suites")
	c.extensions = parseU16s(r, "capabilities.extensions")
	c.proposals = parseU16s(r, "capabilities.proposals")
	c.credentials = parseU16s(r, "capabilities.credentials")
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
	encryptionKey []byte
	signatureKey  []byte
	cred          credential
	caps          capabilities
	source        uint8
	notBefore     uint64 // key_package
	notAfter      uint64
	parentHash    []byte // commit
	extensions    []Extension
	signature     []byte
}

func (l *leafNode) marshalTBSCore(w *codec.Builder) {
	w.Opaque(l.encryptionKey)
	w.Opaque(l.signatureKey)
	l.cred.marshal(w)
	l.caps.marshal(w)
	w.Uint8(l.source)
	switch l.source {
	case leafSourceKeyPackage:
		w.Uint64(l.notBefore)
		w.Uint64(l.notAfter)
	case leafSourceCommit:
		w.Opaque(l.parentHash)
	}
	marshalExtensions(w, l.extensions)
}

// tbs returns LeafNodeTBS (Section 7.2).
func (l *leafNode) tbs(groupID []byte, leafIndex uint32) []byte {
	var w codec.Builder
	l.marshalTBSCore(&w)
	if l.source == leafSourceUpdate || l.source == leafSourceCommit {
		w.Opaque(groupID)
		w.Uint32(leafIndex)
	}
	return w.Bytes()
}

func (l *leafNode) marshal(w *codec.Builder) {
	l.marshalTBSCore(w)
	w.Opaque(l.signature)
}

func (l *leafNode) bytes() []byte {
	var w codec.Builder
	l.marshal(&w)
	return w.Bytes()
}

func (l *leafNode) parse(r *codec.Reader) {
	l.encryptionKey = r.Opaque("leaf_node.encryption_key")
	l.signatureKey = r.Opaque("leaf_node.signature_key")
	l.cred.parse(r)
	l.caps.parse(r)
	l.source = r.Uint8("leaf_node.leaf_node_source")
	switch l.source {
	case leafSourceKeyPackage:
		l.notBefore = r.Uint64("leaf_node.lifetime")
		l.notAfter = r.Uint64("leaf_node.lifetime")
	case leafSourceUpdate:
	case leafSourceCommit:
		l.parentHash = r.Opaque("leaf_node.parent_hash")
	default:
		r.Fail("leaf_node.leaf_node_source", codec.ErrBadEnum)
	}
	l.extensions = parseExtensions(r, "leaf_node.extensions")
	l.signature = r.Opaque("leaf_node.signature")
}

// keyPackage is a KeyPackage (Section 10).
type keyPackage struct {
	version     uint16
	cipherSuite uint16
	initKey     []byte
	leaf        leafNode
	extensions  []Extension
	signature   []byte
	raw         []byte // the encoded KeyPackage
}

func (k *keyPackage) tbs() []byte {
	var w codec.Builder
	w.Uint16(k.version)
	w.Uint16(k.cipherSuite)
	w.Opaque(k.initKey)
	k.leaf.marshal(&w)
	marshalExtensions(&w, k.extensions)
	return w.Bytes()
}

func (k *keyPackage) marshal(w *codec.Builder) {
	w.Raw(k.tbs())
	w.Opaque(k.signature)
}

func (k *keyPackage) parse(r *codec.Reader) {
	mark := r.Offset()
	k.version = r.Uint16("key_package.version")
	k.cipherSuite = r.Uint16("key_package.cipher_suite")
	k.initKey = r.Opaque("key_package.init_key")
	k.leaf.parse(r)
	k.extensions = parseExtensions(r, "key_package.extensions")
	k.signature = r.Opaque("key_package.signature")
	if r.Err() == nil {
		k.raw = clone(r.Since(mark))
	}
}

// parentNode is a ParentNode (Section 7.1).
type parentNode struct {
	encryptionKey  []byte
	parentHash     []byte
	unmergedLeaves []uint32
}

func (p *parentNode) marshal(w *codec.Builder) {
	w.Opaque(p.encryptionKey)
	w.Opaque(p.parentHash)
	w.Vector(func(w *codec.Builder) {
		for _, u := range p.unmergedLeaves {
			w.Uint32(u)
		}
	})
}

func (p *parentNode) parse(r *codec.Reader) {
	p.encryptionKey = r.Opaque("parent_node.encryption_key")
	p.parentHash = r.Opaque("parent_node.parent_hash")
	r.Vector("parent_node.unmerged_leaves", func(r *codec.Reader) { p.unmergedLeaves = append(p.unmergedLeaves, r.Uint32("unmerged_leaves")) })
}

type hpkeCiphertext struct{ kemOutput, ciphertext []byte }

func (c *hpkeCiphertext) marshal(w *codec.Builder) {
	w.Opaque(c.kemOutput)
	w.Opaque(c.ciphertext)
}

func (c *hpkeCiphertext) parse(r *codec.Reader) {
	c.kemOutput = r.Opaque("kem_output")
	c.ciphertext = r.Opaque("ciphertext")
}

type updatePathNode struct {
	encryptionKey []byte
	secrets       []hpkeCiphertext
}

// updatePath is an UpdatePath (Section 7.6).
type updatePath struct {
	leaf  leafNode
	nodes []updatePathNode
}

func (u *updatePath) marshal(w *codec.Builder) {
	u.leaf.marshal(w)
	w.Vector(func(w *codec.Builder) {
		for _, n := range u.nodes {
			w.Opaque(n.encryptionKey)
			w.Vector(func(w *codec.Builder) {
				for _, c := range n.secrets {
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
	u.leaf.parse(r)
	r.Vector("update_path.nodes", func(r *codec.Reader) {
		var n updatePathNode
		n.encryptionKey = r.Opaque("update_path_node.encryption_key")
		r.Vector("update_path_node.encrypted_path_secret", func(r *codec.Reader) {
			var c hpkeCiphertext
			c.parse(r)
			n.secrets = append(n.secrets, c)
		})
		u.nodes = append(u.nodes, n)
	})
}

// pskID is a PreSharedKeyID (Section 8.4).
type pskID struct {
	typ     uint8
	id      []byte // external
	usage   uint8  // resumption
	groupID []byte
	epoch   uint64
	nonce   []byte
}

func (p *pskID) marshal(w *codec.Builder) {
	w.Uint8(p.typ)
	switch p.typ {
	case pskExternal:
		w.Opaque(p.id)
	case pskResumption:
		w.Uint8(p.usage)
		w.Opaque(p.groupID)
		w.Uint64(p.epoch)
	}
	w.Opaque(p.nonce)
}

func (p *pskID) bytes() []byte {
	var w codec.Builder
	p.marshal(&w)
	return w.Bytes()
}

func (p *pskID) parse(r *codec.Reader) {
	p.typ = r.Uint8("psk_id.psktype")
	switch p.typ {
	case pskExternal:
		p.id = r.Opaque("psk_id.psk_id")
	case pskResumption:
		p.usage = r.Uint8("psk_id.usage")
		if p.usage < usageApplication || p.usage > usageBranch {
			r.Fail("psk_id.usage", codec.ErrBadEnum)
		}
		p.groupID = r.Opaque("psk_id.psk_group_id")
		p.epoch = r.Uint64("psk_id.psk_epoch")
	default:
		r.Fail("psk_id.psktype", codec.ErrBadEnum)
	}
	p.nonce = r.Opaque("psk_id.psk_nonce")
}

// key identifies the PSK without its nonce (for duplicate detection).
func (p *pskID) key() string {
	q := *p
	q.nonce = nil
	return string(q.bytes())
}

// proposal is a Proposal (Section 12.1).
type proposal struct {
	typ       uint16
	add       *keyPackage
	update    *leafNode
	remove    uint32
	psk       *pskID
	reinit    *reInit
	kemOutput []byte      // external_init
	exts      []Extension // group_context_extensions
	unknown   []byte
}

type reInit struct {
	groupID     []byte
	version     uint16
	cipherSuite uint16
	extensions  []Extension
}

func (p *proposal) marshal(w *codec.Builder) {
	w.Uint16(p.typ)
	switch p.typ {
	case propAdd:
		p.add.marshal(w)
	case propUpdate:
		p.update.marshal(w)
	case propRemove:
		w.Uint32(p.remove)
	case propPSK:
		p.psk.marshal(w)
	case propReInit:
		w.Opaque(p.reinit.groupID)
		w.Uint16(p.reinit.version)
		w.Uint16(p.reinit.cipherSuite)
		marshalExtensions(w, p.reinit.extensions)
	case propExternalInit:
		w.Opaque(p.kemOutput)
	case propGCE:
		marshalExtensions(w, p.exts)
	default:
		w.Raw(p.unknown)
	}
}

func (p *proposal) parse(r *codec.Reader) {
	p.typ = r.Uint16("proposal.proposal_type")
	switch p.typ {
	case propAdd:
		p.add = new(keyPackage)
		p.add.parse(r)
	case propUpdate:
		p.update = new(leafNode)
		p.update.parse(r)
	case propRemove:
		p.remove = r.Uint32("remove.removed")
	case propPSK:
		p.psk = new(pskID)
		p.psk.parse(r)
	case propReInit:
		p.reinit = &reInit{groupID: r.Opaque("reinit.group_id"), version: r.Uint16("reinit.version"), cipherSuite: r.Uint16("reinit.cipher_suite")}
		p.reinit.extensions = parseExtensions(r, "reinit.extensions")
	case propExternalInit:
		p.kemOutput = r.Opaque("external_init.kem_output")
	case propGCE:
		p.exts = parseExtensions(r, "group_context_extensions.extensions")
	default:
		// Unknown proposal types cannot be delimited inside a Commit.
		r.Fail("proposal.proposal_type", fmt.Errorf("%w %d", codec.ErrBadEnum, p.typ))
	}
}

func (p *proposal) bytes() []byte {
	var w codec.Builder
	p.marshal(&w)
	return w.Bytes()
}

// proposalOrRef is a ProposalOrRef (Section 12.4).
type proposalOrRef struct {
	prop *proposal
	ref  []byte
}

// commit is a Commit (Section 12.4).
type commit struct {
	proposals []proposalOrRef
	path      *updatePath
}

func (c *commit) marshal(w *codec.Builder) {
	w.Vector(func(w *codec.Builder) {
		for _, p := range c.proposals {
			if p.prop != nil {
				w.Uint8(1)
				p.prop.marshal(w)
			} else {
				w.Uint8(2)
				w.Opaque(p.ref)
			}
		}
	})
	w.Optional(c.path != nil, func(w *codec.Builder) { c.path.marshal(w) })
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
			c.proposals = append(c.proposals, proposalOrRef{prop: p})
		case 2:
			c.proposals = append(c.proposals, proposalOrRef{ref: r.Opaque("proposal_or_ref.reference")})
		default:
			r.Fail("proposal_or_ref.type", codec.ErrBadEnum)
		}
	})
	if r.Optional("commit.path") {
		c.path = new(updatePath)
		c.path.parse(r)
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
	version                 uint16
	cipherSuite             uint16
	groupID                 []byte
	epoch                   uint64
	treeHash                []byte
	confirmedTranscriptHash []byte
	extensions              []Extension
}

func (g *groupContext) marshal(w *codec.Builder) {
	w.Uint16(g.version)
	w.Uint16(g.cipherSuite)
	w.Opaque(g.groupID)
	w.Uint64(g.epoch)
	w.Opaque(g.treeHash)
	w.Opaque(g.confirmedTranscriptHash)
	marshalExtensions(w, g.extensions)
}

func (g *groupContext) bytes() []byte {
	var w codec.Builder
	g.marshal(&w)
	return w.Bytes()
}

func (g *groupContext) parse(r *codec.Reader) {
	g.version = r.Uint16("group_context.version")
	g.cipherSuite = r.Uint16("group_context.cipher_suite")
	g.groupID = r.Opaque("group_context.group_id")
	g.epoch = r.Uint64("group_context.epoch")
	g.treeHash = r.Opaque("group_context.tree_hash")
	g.confirmedTranscriptHash = r.Opaque("group_context.confirmed_transcript_hash")
	g.extensions = parseExtensions(r, "group_context.extensions")
}

// groupInfo is a GroupInfo (Section 12.4.3).
type groupInfo struct {
	ctx             groupContext
	extensions      []Extension
	confirmationTag []byte
	signer          uint32
	signature       []byte
}

func (g *groupInfo) tbs() []byte {
	var w codec.Builder
	g.ctx.marshal(&w)
	marshalExtensions(&w, g.extensions)
	w.Opaque(g.confirmationTag)
	w.Uint32(g.signer)
	return w.Bytes()
}

func (g *groupInfo) bytes() []byte {
	var w codec.Builder
	w.Raw(g.tbs())
	w.Opaque(g.signature)
	return w.Bytes()
}

func (g *groupInfo) parse(r *codec.Reader) {
	g.ctx.parse(r)
	g.extensions = parseExtensions(r, "group_info.extensions")
	g.confirmationTag = r.Opaque("group_info.confirmation_tag")
	g.signer = r.Uint32("group_info.signer")
	g.signature = r.Opaque("group_info.signature")
}

// groupSecrets is GroupSecrets (Section 12.4.3.1).
type groupSecrets struct {
	joinerSecret []byte
	pathSecret   []byte // nil when absent
	psks         []pskID
}

func (g *groupSecrets) bytes() []byte {
	var w codec.Builder
	w.Opaque(g.joinerSecret)
	w.Optional(g.pathSecret != nil, func(w *codec.Builder) { w.Opaque(g.pathSecret) })
	w.Vector(func(w *codec.Builder) {
		for i := range g.psks {
			g.psks[i].marshal(w)
		}
	})
	return w.Bytes()
}

func parseGroupSecrets(b []byte) (*groupSecrets, error) {
	r := codec.NewReader(b)
	g := new(groupSecrets)
	g.joinerSecret = r.Opaque("group_secrets.joiner_secret")
	if r.Optional("group_secrets.path_secret") {
		g.pathSecret = r.Opaque("group_secrets.path_secret")
	}
	r.Vector("group_secrets.psks", func(r *codec.Reader) {
		var p pskID
		p.parse(r)
		g.psks = append(g.psks, p)
	})
	if err := r.Finish("group_secrets"); err != nil {
		return nil, fmt.Errorf("mls/group: GroupSecrets: %w", err)
	}
	return g, nil
}

type encryptedGroupSecrets struct {
	newMember []byte
	secrets   hpkeCiphertext
}

// welcome is a Welcome (Section 12.4.3.1).
type welcome struct {
	cipherSuite        uint16
	secrets            []encryptedGroupSecrets
	encryptedGroupInfo []byte
}

func (m *welcome) marshal(w *codec.Builder) {
	w.Uint16(m.cipherSuite)
	w.Vector(func(w *codec.Builder) {
		for _, s := range m.secrets {
			w.Opaque(s.newMember)
			s.secrets.marshal(w)
		}
	})
	w.Opaque(m.encryptedGroupInfo)
}

func (m *welcome) parse(r *codec.Reader) {
	m.cipherSuite = r.Uint16("welcome.cipher_suite")
	r.Vector("welcome.secrets", func(r *codec.Reader) {
		var s encryptedGroupSecrets
		s.newMember = r.Opaque("encrypted_group_secrets.new_member")
		s.secrets.parse(r)
		m.secrets = append(m.secrets, s)
	})
	m.encryptedGroupInfo = r.Opaque("welcome.encrypted_group_info")
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
