package group

import "fmt"

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

func (c *credential) marshal(w *builder) {
	w.u16(c.typ)
	switch c.typ {
	case credentialBasic:
		w.opaque(c.identity)
	case credentialX509:
		w.vector(func(w *builder) {
			for _, cert := range c.certs {
				w.opaque(cert)
			}
		})
	}
}

func (c *credential) parse(r *reader) {
	c.typ = r.u16("credential_type")
	switch c.typ {
	case credentialBasic:
		c.identity = r.opaque("identity")
	case credentialX509:
		r.vector("certificates", func(r *reader) { c.certs = append(c.certs, r.opaque("cert_data")) })
	default:
		r.fail("credential_type", errEnum)
	}
}

func (c *credential) equal(o *credential) bool {
	var a, b builder
	c.marshal(&a)
	o.marshal(&b)
	return string(a.b) == string(b.b)
}

type capabilities struct {
	versions, cipherSuites, extensions, proposals, credentials []uint16
}

func marshalU16s(w *builder, v []uint16) {
	w.vector(func(w *builder) {
		for _, x := range v {
			w.u16(x)
		}
	})
}

func parseU16s(r *reader, field string) []uint16 {
	var out []uint16
	r.vector(field, func(r *reader) { out = append(out, r.u16(field)) })
	return out
}

func (c *capabilities) marshal(w *builder) {
	marshalU16s(w, c.versions)
	marshalU16s(w, c.cipherSuites)
	marshalU16s(w, c.extensions)
	marshalU16s(w, c.proposals)
	marshalU16s(w, c.credentials)
}

func (c *capabilities) parse(r *reader) {
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

func marshalExtensions(w *builder, exts []Extension) {
	w.vector(func(w *builder) {
		for _, e := range exts {
			w.u16(e.Type)
			w.opaque(e.Data)
		}
	})
}

// parseExtensions reads vector<Extension> and rejects duplicate types (Section 13.4).
func parseExtensions(r *reader, field string) []Extension {
	var out []Extension
	seen := map[uint16]bool{}
	r.vector(field, func(r *reader) {
		e := Extension{Type: r.u16(field + ".extension_type"), Data: r.opaque(field + ".extension_data")}
		if seen[e.Type] {
			r.fail(field, fmt.Errorf("duplicate extension type %d", e.Type))
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

func (l *leafNode) marshalTBSCore(w *builder) {
	w.opaque(l.encryptionKey)
	w.opaque(l.signatureKey)
	l.cred.marshal(w)
	l.caps.marshal(w)
	w.u8(l.source)
	switch l.source {
	case leafSourceKeyPackage:
		w.u64(l.notBefore)
		w.u64(l.notAfter)
	case leafSourceCommit:
		w.opaque(l.parentHash)
	}
	marshalExtensions(w, l.extensions)
}

// tbs returns LeafNodeTBS (Section 7.2).
func (l *leafNode) tbs(groupID []byte, leafIndex uint32) []byte {
	var w builder
	l.marshalTBSCore(&w)
	if l.source == leafSourceUpdate || l.source == leafSourceCommit {
		w.opaque(groupID)
		w.u32(leafIndex)
	}
	return w.b
}

func (l *leafNode) marshal(w *builder) {
	l.marshalTBSCore(w)
	w.opaque(l.signature)
}

func (l *leafNode) bytes() []byte {
	var w builder
	l.marshal(&w)
	return w.b
}

func (l *leafNode) parse(r *reader) {
	l.encryptionKey = r.opaque("leaf_node.encryption_key")
	l.signatureKey = r.opaque("leaf_node.signature_key")
	l.cred.parse(r)
	l.caps.parse(r)
	l.source = r.u8("leaf_node.leaf_node_source")
	switch l.source {
	case leafSourceKeyPackage:
		l.notBefore = r.u64("leaf_node.lifetime")
		l.notAfter = r.u64("leaf_node.lifetime")
	case leafSourceUpdate:
	case leafSourceCommit:
		l.parentHash = r.opaque("leaf_node.parent_hash")
	default:
		r.fail("leaf_node.leaf_node_source", errEnum)
	}
	l.extensions = parseExtensions(r, "leaf_node.extensions")
	l.signature = r.opaque("leaf_node.signature")
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
	var w builder
	w.u16(k.version)
	w.u16(k.cipherSuite)
	w.opaque(k.initKey)
	k.leaf.marshal(&w)
	marshalExtensions(&w, k.extensions)
	return w.b
}

func (k *keyPackage) marshal(w *builder) {
	w.raw(k.tbs())
	w.opaque(k.signature)
}

func (k *keyPackage) parse(r *reader) {
	start := r.b
	k.version = r.u16("key_package.version")
	k.cipherSuite = r.u16("key_package.cipher_suite")
	k.initKey = r.opaque("key_package.init_key")
	k.leaf.parse(r)
	k.extensions = parseExtensions(r, "key_package.extensions")
	k.signature = r.opaque("key_package.signature")
	if r.err == nil {
		k.raw = clone(start[:len(start)-len(r.b)])
	}
}

// parentNode is a ParentNode (Section 7.1).
type parentNode struct {
	encryptionKey  []byte
	parentHash     []byte
	unmergedLeaves []uint32
}

func (p *parentNode) marshal(w *builder) {
	w.opaque(p.encryptionKey)
	w.opaque(p.parentHash)
	w.vector(func(w *builder) {
		for _, u := range p.unmergedLeaves {
			w.u32(u)
		}
	})
}

func (p *parentNode) parse(r *reader) {
	p.encryptionKey = r.opaque("parent_node.encryption_key")
	p.parentHash = r.opaque("parent_node.parent_hash")
	r.vector("parent_node.unmerged_leaves", func(r *reader) { p.unmergedLeaves = append(p.unmergedLeaves, r.u32("unmerged_leaves")) })
}

type hpkeCiphertext struct{ kemOutput, ciphertext []byte }

func (c *hpkeCiphertext) marshal(w *builder) {
	w.opaque(c.kemOutput)
	w.opaque(c.ciphertext)
}

func (c *hpkeCiphertext) parse(r *reader) {
	c.kemOutput = r.opaque("kem_output")
	c.ciphertext = r.opaque("ciphertext")
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

func (u *updatePath) marshal(w *builder) {
	u.leaf.marshal(w)
	w.vector(func(w *builder) {
		for _, n := range u.nodes {
			w.opaque(n.encryptionKey)
			w.vector(func(w *builder) {
				for _, c := range n.secrets {
					c.marshal(w)
				}
			})
		}
	})
}

func (u *updatePath) bytes() []byte {
	var w builder
	u.marshal(&w)
	return w.b
}

func (u *updatePath) parse(r *reader) {
	u.leaf.parse(r)
	r.vector("update_path.nodes", func(r *reader) {
		var n updatePathNode
		n.encryptionKey = r.opaque("update_path_node.encryption_key")
		r.vector("update_path_node.encrypted_path_secret", func(r *reader) {
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

func (p *pskID) marshal(w *builder) {
	w.u8(p.typ)
	switch p.typ {
	case pskExternal:
		w.opaque(p.id)
	case pskResumption:
		w.u8(p.usage)
		w.opaque(p.groupID)
		w.u64(p.epoch)
	}
	w.opaque(p.nonce)
}

func (p *pskID) bytes() []byte {
	var w builder
	p.marshal(&w)
	return w.b
}

func (p *pskID) parse(r *reader) {
	p.typ = r.u8("psk_id.psktype")
	switch p.typ {
	case pskExternal:
		p.id = r.opaque("psk_id.psk_id")
	case pskResumption:
		p.usage = r.u8("psk_id.usage")
		if p.usage < usageApplication || p.usage > usageBranch {
			r.fail("psk_id.usage", errEnum)
		}
		p.groupID = r.opaque("psk_id.psk_group_id")
		p.epoch = r.u64("psk_id.psk_epoch")
	default:
		r.fail("psk_id.psktype", errEnum)
	}
	p.nonce = r.opaque("psk_id.psk_nonce")
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

func (p *proposal) marshal(w *builder) {
	w.u16(p.typ)
	switch p.typ {
	case propAdd:
		p.add.marshal(w)
	case propUpdate:
		p.update.marshal(w)
	case propRemove:
		w.u32(p.remove)
	case propPSK:
		p.psk.marshal(w)
	case propReInit:
		w.opaque(p.reinit.groupID)
		w.u16(p.reinit.version)
		w.u16(p.reinit.cipherSuite)
		marshalExtensions(w, p.reinit.extensions)
	case propExternalInit:
		w.opaque(p.kemOutput)
	case propGCE:
		marshalExtensions(w, p.exts)
	default:
		w.raw(p.unknown)
	}
}

func (p *proposal) parse(r *reader) {
	p.typ = r.u16("proposal.proposal_type")
	switch p.typ {
	case propAdd:
		p.add = new(keyPackage)
		p.add.parse(r)
	case propUpdate:
		p.update = new(leafNode)
		p.update.parse(r)
	case propRemove:
		p.remove = r.u32("remove.removed")
	case propPSK:
		p.psk = new(pskID)
		p.psk.parse(r)
	case propReInit:
		p.reinit = &reInit{groupID: r.opaque("reinit.group_id"), version: r.u16("reinit.version"), cipherSuite: r.u16("reinit.cipher_suite")}
		p.reinit.extensions = parseExtensions(r, "reinit.extensions")
	case propExternalInit:
		p.kemOutput = r.opaque("external_init.kem_output")
	case propGCE:
		p.exts = parseExtensions(r, "group_context_extensions.extensions")
	default:
		// Unknown proposal types cannot be delimited inside a Commit.
		r.fail("proposal.proposal_type", fmt.Errorf("%w %d", errEnum, p.typ))
	}
}

func (p *proposal) bytes() []byte {
	var w builder
	p.marshal(&w)
	return w.b
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

func (c *commit) marshal(w *builder) {
	w.vector(func(w *builder) {
		for _, p := range c.proposals {
			if p.prop != nil {
				w.u8(1)
				p.prop.marshal(w)
			} else {
				w.u8(2)
				w.opaque(p.ref)
			}
		}
	})
	w.optional(c.path != nil, func(w *builder) { c.path.marshal(w) })
}

func (c *commit) bytes() []byte {
	var w builder
	c.marshal(&w)
	return w.b
}

func parseCommit(b []byte) (*commit, error) {
	r := &reader{b: b}
	c := new(commit)
	r.vector("commit.proposals", func(r *reader) {
		switch t := r.u8("proposal_or_ref.type"); t {
		case 1:
			p := new(proposal)
			p.parse(r)
			c.proposals = append(c.proposals, proposalOrRef{prop: p})
		case 2:
			c.proposals = append(c.proposals, proposalOrRef{ref: r.opaque("proposal_or_ref.reference")})
		default:
			r.fail("proposal_or_ref.type", errEnum)
		}
	})
	if r.optional("commit.path") {
		c.path = new(updatePath)
		c.path.parse(r)
	}
	if err := r.done("commit"); err != nil {
		return nil, fmt.Errorf("mls/group: Commit: %w", err)
	}
	return c, nil
}

func parseProposal(b []byte) (*proposal, error) {
	r := &reader{b: b}
	p := new(proposal)
	p.parse(r)
	if err := r.done("proposal"); err != nil {
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

func (g *groupContext) marshal(w *builder) {
	w.u16(g.version)
	w.u16(g.cipherSuite)
	w.opaque(g.groupID)
	w.u64(g.epoch)
	w.opaque(g.treeHash)
	w.opaque(g.confirmedTranscriptHash)
	marshalExtensions(w, g.extensions)
}

func (g *groupContext) bytes() []byte {
	var w builder
	g.marshal(&w)
	return w.b
}

func (g *groupContext) parse(r *reader) {
	g.version = r.u16("group_context.version")
	g.cipherSuite = r.u16("group_context.cipher_suite")
	g.groupID = r.opaque("group_context.group_id")
	g.epoch = r.u64("group_context.epoch")
	g.treeHash = r.opaque("group_context.tree_hash")
	g.confirmedTranscriptHash = r.opaque("group_context.confirmed_transcript_hash")
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
	var w builder
	g.ctx.marshal(&w)
	marshalExtensions(&w, g.extensions)
	w.opaque(g.confirmationTag)
	w.u32(g.signer)
	return w.b
}

func (g *groupInfo) bytes() []byte {
	var w builder
	w.raw(g.tbs())
	w.opaque(g.signature)
	return w.b
}

func (g *groupInfo) parse(r *reader) {
	g.ctx.parse(r)
	g.extensions = parseExtensions(r, "group_info.extensions")
	g.confirmationTag = r.opaque("group_info.confirmation_tag")
	g.signer = r.u32("group_info.signer")
	g.signature = r.opaque("group_info.signature")
}

// groupSecrets is GroupSecrets (Section 12.4.3.1).
type groupSecrets struct {
	joinerSecret []byte
	pathSecret   []byte // nil when absent
	psks         []pskID
}

func (g *groupSecrets) bytes() []byte {
	var w builder
	w.opaque(g.joinerSecret)
	w.optional(g.pathSecret != nil, func(w *builder) { w.opaque(g.pathSecret) })
	w.vector(func(w *builder) {
		for i := range g.psks {
			g.psks[i].marshal(w)
		}
	})
	return w.b
}

func parseGroupSecrets(b []byte) (*groupSecrets, error) {
	r := &reader{b: b}
	g := new(groupSecrets)
	g.joinerSecret = r.opaque("group_secrets.joiner_secret")
	if r.optional("group_secrets.path_secret") {
		g.pathSecret = r.opaque("group_secrets.path_secret")
	}
	r.vector("group_secrets.psks", func(r *reader) {
		var p pskID
		p.parse(r)
		g.psks = append(g.psks, p)
	})
	if err := r.done("group_secrets"); err != nil {
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

func (m *welcome) marshal(w *builder) {
	w.u16(m.cipherSuite)
	w.vector(func(w *builder) {
		for _, s := range m.secrets {
			w.opaque(s.newMember)
			s.secrets.marshal(w)
		}
	})
	w.opaque(m.encryptedGroupInfo)
}

func (m *welcome) parse(r *reader) {
	m.cipherSuite = r.u16("welcome.cipher_suite")
	r.vector("welcome.secrets", func(r *reader) {
		var s encryptedGroupSecrets
		s.newMember = r.opaque("encrypted_group_secrets.new_member")
		s.secrets.parse(r)
		m.secrets = append(m.secrets, s)
	})
	m.encryptedGroupInfo = r.opaque("welcome.encrypted_group_info")
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
	r := &reader{b: b}
	if v := r.u16("mls_message.version"); r.err == nil && v != mls10 {
		return nil, fmt.Errorf("mls/group: MLSMessage.version: unsupported %d", v)
	}
	m := &mlsMessage{wireFormat: r.u16("mls_message.wire_format")}
	if r.err != nil {
		return nil, fmt.Errorf("mls/group: MLSMessage: %w", r.err)
	}
	switch m.wireFormat {
	case wireFormatPublic, wireFormatPrivate:
		m.body = r.b
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
		return nil, fmt.Errorf("mls/group: MLSMessage.wire_format: %w %d", errEnum, m.wireFormat)
	}
	if err := r.done("mls_message"); err != nil {
		return nil, fmt.Errorf("mls/group: MLSMessage: %w", err)
	}
	return m, nil
}

func mlsMessageBytes(wireFormat uint16, body func(w *builder)) []byte {
	var w builder
	w.u16(mls10)
	w.u16(wireFormat)
	body(&w)
	return w.b
}
