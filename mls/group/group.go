package group

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treekem"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// keyPair is an HPKE key pair held for a tree node.
type keyPair struct{ priv, pub []byte }

// cachedProposal is a proposal received (or sent) in the current epoch, kept for
// commits that include it by reference (RFC 9420, Section 12.4).
type cachedProposal struct {
	ref    []byte
	prop   *proposal
	sender framing.Sender
}

// Group is one member's state of one group in one epoch. A Group is not safe for
// concurrent use.
type Group struct {
	publicState
	cfg Config

	own     uint32
	sigPriv []byte
	// signer is sigPriv parsed once (suite.Signer), made on first use; signerKey
	// is the sigPriv it was made from, so a changed key is never signed with stale.
	signer    *suite.Signer
	signerKey []byte
	// priv holds the HPKE private keys of our leaf and of the nodes of our direct
	// path we know (RFC 9420, Section 7.4); nil once removed.
	priv *treekem.PrivateState

	secrets    *keyschedule.EpochSecrets
	secretTree *secrettree.Tree
	escrowEnc  []byte // copy of encryption_secret when cfg.KeepEscrowSecrets
	confTag    []byte

	proposals      []cachedProposal
	pendingUpdates map[string]keyPair // own Update proposal ref -> new leaf key pair
	pending        *pendingCommit
	sent           map[string][]byte // own proposal messages of this epoch -> ref
	resumption     map[uint64][]byte // epoch -> resumption_psk

	removed bool
	reinit  *reInit

	// past holds the last few epochs' receive state, for application messages that
	// arrive after a commit (RFC 9420, Section 15.2 allows keeping them briefly).
	past []*pastEpoch

	// pskSource is the original group of a branch or reinit, for resumption PSKs.
	pskSource *Group
}

// pastEpoch is what decrypting a late application message of an old epoch needs.
type pastEpoch struct {
	pub        publicState
	secretTree *secrettree.Tree
	senderData *keyschedule.SenderDataSecret
}

// maxPastEpochs bounds how many old epochs keep their secret trees.
const maxPastEpochs = 2

// escrowCopy returns a copy of the epoch's encryption_secret, taken before the
// secret tree consumes (and deletes) it, when Config.KeepEscrowSecrets is set.
func (g *Group) escrowCopy(es *keyschedule.EpochSecrets) []byte {
	if !g.cfg.KeepEscrowSecrets {
		return nil
	}
	return clone(es.Encryption.Bytes())
}

// EscrowSecrets returns the current epoch's encryption_secret and
// sender_data_secret (RFC 9420, Section 8), the secret P that the lawful-access
// escrow record protects: enough to read the epoch's PrivateMessages, not to
// forge any. ok is false unless Config.KeepEscrowSecrets was set when the group
// entered the epoch. The caller must not keep the copies longer than it needs.
func (g *Group) EscrowSecrets() (encryptionSecret, senderDataSecret []byte, ok bool) {
	if g.escrowEnc == nil || g.secrets == nil {
		return nil, nil, false
	}
	return clone(g.escrowEnc), clone(g.secrets.SenderData.Bytes()), true
}

// Extensions returns the current GroupContext's extensions (e.g. the access
// policy id that a client checks against the policies it accepts).
func (g *Group) Extensions() []Extension {
	out := make([]Extension, len(g.ctx.Extensions))
	for i, e := range g.ctx.Extensions {
		out[i] = Extension{Type: uint16(e.Type), Data: clone(e.Data)}
	}
	return out
}

// Epoch returns the current epoch number.
func (g *Group) Epoch() uint64 { return g.ctx.Epoch }

// GroupID returns the group id.
func (g *Group) GroupID() []byte { return clone(g.ctx.GroupID) }

// LeafIndex returns this member's leaf index.
func (g *Group) LeafIndex() uint32 { return g.own }

// CipherSuite returns the group's cipher suite.
func (g *Group) CipherSuite() suite.ID { return g.cs.ID() }

// EpochAuthenticator returns epoch_authenticator of the current epoch (RFC 9420,
// Section 8.7).
func (g *Group) EpochAuthenticator() []byte {
	if g == nil || g.secrets == nil {
		return nil
	}
	return clone(g.secrets.EpochAuthenticator)
}

// Export implements MLS-Exporter (RFC 9420, Section 8.5).
func (g *Group) Export(label string, context []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*g.cs.Nh() {
		return nil, fmt.Errorf("mls/group: Export: length %d out of range", length)
	}
	return g.secrets.Exporter.Export(label, context, length), nil
}

// Members returns the leaf indices and basic-credential identities of the members.
func (g *Group) Members() map[uint32][]byte {
	out := map[uint32][]byte{}
	for _, l := range g.tree.leaves() {
		out[l] = clone(g.tree.identity(l))
	}
	return out
}

// Removed reports whether a merged Commit removed this member.
func (g *Group) Removed() bool { return g.removed }

// publicState is what every party that follows a group knows, secrets aside: the
// GroupContext, the ratchet tree and the interim transcript hash. Group and
// PublicGroup share it, and the validation code that reads it.
type publicState struct {
	cs       *suite.Suite
	ctx      groupContext
	ctxBytes []byte
	tree     *ratchetTree
	interim  []byte
	// validateCredential is Config.CredentialValidator (nil: accept all).
	validateCredential func(cred *wire.Credential, signatureKey []byte) error
}

func (p *publicState) setContext(c groupContext) {
	p.ctx = c
	p.ctxBytes = c.Marshal()
}

// checkLeaf validates a LeafNode arriving in an Update or a Commit path for leaf
// index leaf (Section 7.3).
func (p *publicState) checkLeaf(ln *leafNode, source wire.LeafNodeSource, leaf uint32, ctx *groupContext) error {
	if ln.Source != source {
		return fmt.Errorf("%w: leaf_node_source %d, want %d", ErrInvalid, ln.Source, source)
	}
	if err := verifyLeafSignature(p.cs, ln, ctx.GroupID, leaf); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := p.checkCredential(ln); err != nil {
		return err
	}
	if err := checkLeafCapabilities(ln, ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// checkCredential runs the credential validator on a leaf (RFC 9420, Section
// 5.3.1).
func (p *publicState) checkCredential(ln *leafNode) error {
	if p.validateCredential == nil {
		return nil
	}
	if err := checkWireCredential(p.validateCredential, ln); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func checkWireCredential(validate func(*wire.Credential, []byte) error, wl *wire.LeafNode) error {
	if err := validate(&wl.Credential, wl.SignatureKey); err != nil {
		return fmt.Errorf("leaf credential (identity %q): %w", wl.Credential.Identity, err)
	}
	return nil
}

// verifyKeyPackage validates a KeyPackage for the group's suite (RFC 9420,
// Section 10.1) and runs the credential validator on its leaf.
func (p *publicState) verifyKeyPackage(kp *keyPackage) error {
	if err := verifyKeyPackage(p.cs, kp); err != nil {
		return err
	}
	if p.validateCredential == nil {
		return nil
	}
	if err := checkWireCredential(p.validateCredential, &kp.LeafNode); err != nil {
		return fmt.Errorf("mls/group: KeyPackage: %w", err)
	}
	return nil
}

// signing returns the cached suite.Signer for this member's signature key
// (parsing and, for Ed25519, expanding the key once instead of per signature).
func (g *Group) signing() (*suite.Signer, error) {
	if g.signer != nil && g.signer.Suite() == g.cs && bytes.Equal(g.signerKey, g.sigPriv) {
		return g.signer, nil
	}
	sg, err := g.cs.NewSigner(g.sigPriv)
	if err != nil {
		return nil, err
	}
	g.signer, g.signerKey = sg, clone(g.sigPriv)
	return sg, nil
}

// signWithLabel is SignWithLabel with this member's signature key.
func (g *Group) signWithLabel(label string, content []byte) ([]byte, error) {
	sg, err := g.signing()
	if err != nil {
		return nil, err
	}
	return sg.SignWithLabel(label, content)
}

// signContent signs framed content with this member's signature key
// (framing.SignWith with the cached signer).
func (g *Group) signContent(wf framing.WireFormat, content framing.FramedContent) (*framing.AuthenticatedContent, error) {
	sg, err := g.signing()
	if err != nil {
		return nil, err
	}
	return framing.SignWith(sg, wf, content, g.ctxBytes)
}

func (g *Group) secretTreeConfig() secrettree.Config { return secrettree.Config{} }

// Create creates a one-member group at epoch 0 (RFC 9420, Section 11).
func Create(cfg Config, cs suite.ID, groupID, identity []byte) (*Group, error) {
	return CreateWithExtensions(cfg, cs, groupID, identity, nil)
}

// CreateWithExtensions is Create with GroupContext extensions in the first
// epoch (RFC 9420, Sections 8.1, 11): e.g. the id of the group's access
// policy (docs/lawful-access.md, A10). Every extension type beyond the RFC's
// defaults must be listed in cfg.ExtensionTypes, since the creator's leaf
// must support the group's extensions, and later members' leaves are held to
// the same rule.
func CreateWithExtensions(cfg Config, cs suite.ID, groupID, identity []byte, exts []Extension) (*Group, error) {
	s, err := suite.Lookup(cs)
	if err != nil {
		return nil, fmt.Errorf("mls/group: Create: %w", err)
	}
	kp, err := NewKeyPackage(cfg, cs, identity)
	if err != nil {
		return nil, err
	}
	rt, err := newRatchetTree(s, &kp.kp.LeafNode)
	if err != nil {
		return nil, fmt.Errorf("mls/group: Create: %w", err)
	}
	g := &Group{cfg: cfg, publicState: publicState{cs: s, tree: rt, validateCredential: cfg.CredentialValidator}, sigPriv: kp.SignaturePriv,
		priv: treekem.NewPrivateState(s, 0, kp.EncryptionPriv), pendingUpdates: map[string]keyPair{}, resumption: map[uint64][]byte{}, sent: map[string][]byte{}}
	gc := groupContext{Version: mls10, CipherSuite: wire.CipherSuite(cs), GroupID: clone(groupID), TreeHash: g.tree.rootHash(), ConfirmedTranscriptHash: []byte{},
		Extensions: nonNil(toWireExtensions(exts))}
	seen := map[uint16]bool{}
	for _, e := range exts {
		if seen[e.Type] {
			return nil, fmt.Errorf("mls/group: Create: extension %d given twice", e.Type)
		}
		seen[e.Type] = true
	}
	if err := checkLeafCapabilities(&kp.kp.LeafNode, &gc); err != nil {
		return nil, fmt.Errorf("mls/group: Create: %w (hint: list the type in Config.ExtensionTypes)", err)
	}
	g.setContext(gc)
	// A fresh random init secret and a zero commit secret give a random epoch secret.
	rnd := make([]byte, s.Nh())
	if _, err := io.ReadFull(cfg.rand(), rnd); err != nil {
		return nil, fmt.Errorf("mls/group: Create: %w", err)
	}
	init, err := keyschedule.NewInitSecret(s, rnd)
	clear(rnd)
	if err != nil {
		return nil, err
	}
	joiner, err := init.JoinerSecret(keyschedule.ZeroCommitSecret(s), g.ctxBytes)
	if err != nil {
		return nil, err
	}
	if err := g.enterEpoch(joiner, nil); err != nil {
		return nil, err
	}
	// Section 11: confirmation_tag over the empty confirmed transcript hash.
	g.confTag = g.secrets.Confirmation.Tag(g.ctx.ConfirmedTranscriptHash)
	g.interim = keyschedule.InterimTranscriptHash(s, g.ctx.ConfirmedTranscriptHash, g.confTag)
	return g, nil
}

// enterEpoch derives the epoch secrets from joiner and psk for the current context
// and builds the secret tree.
func (g *Group) enterEpoch(joiner *keyschedule.JoinerSecret, psk *keyschedule.PSKSecret) error {
	es, err := joiner.EpochSecret(psk, g.ctxBytes)
	if err != nil {
		return err
	}
	secrets := es.Derive()
	es.Destroy()
	enc := g.escrowCopy(secrets)
	st, err := secrettree.New(g.cs, secrets.Encryption, g.tree.nLeaves(), g.secretTreeConfig())
	if err != nil {
		return err
	}
	clear(g.escrowEnc)
	g.secrets, g.secretTree, g.escrowEnc = secrets, st, enc
	g.resumption[g.ctx.Epoch] = secrets.Resumption.Bytes()
	g.pruneResumption()
	return nil
}

// pruneResumption keeps the resumption PSKs of the last few epochs.
func (g *Group) pruneResumption() {
	const keep = 32
	for e := range g.resumption {
		if e+keep < g.ctx.Epoch {
			clear(g.resumption[e])
			delete(g.resumption, e)
		}
	}
}

// Join joins a group from an MLSMessage(Welcome) with kp's private keys (RFC 9420,
// Section 12.4.3.1). ratchetTree is the encoded tree when the Welcome's GroupInfo
// carries no ratchet_tree extension.
func Join(cfg Config, kp *KeyPackageBundle, welcomeMsg, ratchetTreeBytes []byte) (*Group, error) {
	g, err := join(cfg, kp, welcomeMsg, ratchetTreeBytes, nil)
	if err != nil {
		return nil, fmt.Errorf("mls/group: Join: %w", err)
	}
	return g, nil
}

func join(cfg Config, kp *KeyPackageBundle, welcomeMsg, ratchetTreeBytes []byte, resumptionSource *Group) (*Group, error) {
	m, err := parseMLSMessage(welcomeMsg)
	if err != nil {
		return nil, err
	}
	if m.welcome == nil {
		return nil, fmt.Errorf("%w: message is not a Welcome", ErrInvalid)
	}
	w := m.welcome
	if w.CipherSuite != kp.kp.CipherSuite {
		return nil, fmt.Errorf("%w: Welcome.cipher_suite %d differs from the KeyPackage's %d", ErrInvalid, w.CipherSuite, kp.kp.CipherSuite)
	}
	s, err := suite.Lookup(suite.ID(w.CipherSuite))
	if err != nil {
		return nil, err
	}
	g := &Group{cfg: cfg, publicState: publicState{cs: s, validateCredential: cfg.CredentialValidator}, sigPriv: kp.SignaturePriv, pendingUpdates: map[string]keyPair{}, resumption: map[uint64][]byte{}, sent: map[string][]byte{}}
	gs, gi, joiner, psk, err := g.openWelcome(w, kp.kp.Raw, kp.InitPriv, resumptionSource)
	if err != nil {
		return nil, err
	}
	if gi.GroupContext.CipherSuite != w.CipherSuite || gi.GroupContext.Version != mls10 {
		return nil, fmt.Errorf("%w: GroupInfo.group_context version or cipher suite", ErrInvalid)
	}
	tree, err := treeFromGroupInfo(s, gi, ratchetTreeBytes)
	if err != nil {
		return nil, err
	}
	if err := verifyGroupInfoAndTree(s, gi, tree, cfg.CredentialValidator); err != nil {
		return nil, err
	}
	// Find our own leaf (Section 12.4.3.1: the KeyPackage's leaf node).
	own := -1
	mine := kp.kp.LeafNode.Marshal()
	for _, l := range tree.leaves() {
		if wl := tree.wireLeaf(l); bytes.Equal(wl.EncryptionKey, kp.kp.LeafNode.EncryptionKey) && bytes.Equal(wl.Marshal(), mine) {
			own = int(l)
			break
		}
	}
	if own < 0 {
		return nil, fmt.Errorf("%w: our leaf is not in the ratchet tree", ErrInvalid)
	}
	g.tree, g.own = tree, uint32(own)
	g.priv = treekem.NewPrivateState(s, treemath.LeafIndex(g.own), kp.EncryptionPriv)
	if gs.PathSecret != nil {
		// Section 12.4.3.1: the path secret is for the lowest common ancestor of our
		// leaf and the committer's, which must be on its filtered direct path; the
		// keys derived from it up to the root must match the tree.
		lca := treemath.CommonAncestor(treemath.LeafIndex(g.own).Node(), treemath.LeafIndex(gi.Signer).Node())
		commitSecret, err := g.priv.ImportPathSecret(g.tree.t, treemath.LeafIndex(gi.Signer), lca, gs.PathSecret)
		if err != nil {
			return nil, fmt.Errorf("%w: GroupSecrets.path_secret: %w", ErrInvalid, err)
		}
		clear(commitSecret)
	}
	// Without a path secret, every ancestor we share with the signer is blank or
	// unknown to us; nothing to derive.
	g.setContext(gi.GroupContext)
	if err := g.enterEpoch(joiner, psk); err != nil {
		return nil, err
	}
	joiner.Destroy()
	// Section 12.4.3.1: verify the confirmation tag.
	if !g.secrets.Confirmation.Verify(g.ctx.ConfirmedTranscriptHash, gi.ConfirmationTag) {
		return nil, fmt.Errorf("%w: GroupInfo.confirmation_tag does not verify", ErrInvalid)
	}
	g.confTag = clone(gi.ConfirmationTag)
	g.interim = keyschedule.InterimTranscriptHash(s, g.ctx.ConfirmedTranscriptHash, g.confTag)
	return g, nil
}

// openWelcome decrypts the GroupSecrets addressed to the KeyPackage kpRaw and the
// GroupInfo (RFC 9420, Section 12.4.3.1), resolving the PSKs the secrets name.
func (g *Group) openWelcome(w *welcome, kpRaw, initPriv []byte, resumptionSource *Group) (*groupSecrets, *groupInfo, *keyschedule.JoinerSecret, *keyschedule.PSKSecret, error) {
	s := g.cs
	ref := s.RefHash(refKeyPackage, kpRaw)
	var egs *encryptedGroupSecrets
	for i := range w.Secrets {
		if bytes.Equal(w.Secrets[i].NewMember, ref) {
			egs = &w.Secrets[i]
			break
		}
	}
	if egs == nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: Welcome has no secrets for this KeyPackage", ErrInvalid)
	}
	gsBytes, err := s.DecryptWithLabel(initPriv, labelWelcome, w.EncryptedGroupInfo, egs.EncryptedGroupSecrets.KEMOutput, egs.EncryptedGroupSecrets.Ciphertext)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("EncryptedGroupSecrets: %w", err)
	}
	gs, err := wire.ParseGroupSecrets(clone(gsBytes))
	clear(gsBytes)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	psk, err := g.pskSecret(gs.PSKs, resumptionSource)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	joiner, err := keyschedule.NewJoinerSecret(s, gs.JoinerSecret)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ws, err := joiner.WelcomeSecret(psk)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	giBytes, err := ws.OpenGroupInfo(w.EncryptedGroupInfo)
	ws.Destroy()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("Welcome.encrypted_group_info: %w", err)
	}
	gi, err := wire.ParseGroupInfo(giBytes)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("GroupInfo: %w", err)
	}
	return gs, gi, joiner, psk, nil
}

func treeFromGroupInfo(s *suite.Suite, gi *groupInfo, external []byte) (*ratchetTree, error) {
	if data, ok := findExtension(gi.Extensions, extRatchetTree); ok {
		return parseRatchetTree(s, data)
	}
	if len(external) == 0 {
		return nil, fmt.Errorf("%w: no ratchet_tree extension and no tree given", ErrInvalid)
	}
	return parseRatchetTree(s, external)
}

// verifyGroupInfoAndTree checks the GroupInfo signature, the tree hash, parent
// hashes and every leaf (Sections 7.9.2, 12.4.3.1, 7.3).
func verifyGroupInfoAndTree(s *suite.Suite, gi *groupInfo, tree *ratchetTree, validate func(*wire.Credential, []byte) error) error {
	signer := tree.leaf(gi.Signer)
	if signer == nil {
		return fmt.Errorf("%w: GroupInfo.signer %d is not a member", ErrInvalid, gi.Signer)
	}
	if err := s.VerifyWithLabel(signer.SignatureKey, labelGroupInfoTBS, gi.AppendTBS(nil), gi.Signature); err != nil {
		return fmt.Errorf("%w: GroupInfo.signature: %w", ErrInvalid, err)
	}
	if !bytes.Equal(tree.rootHash(), gi.GroupContext.TreeHash) {
		return fmt.Errorf("%w: ratchet tree hash differs from GroupInfo.group_context.tree_hash", ErrInvalid)
	}
	if err := tree.verifyParentHashes(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return validateTreeLeaves(s, tree, &gi.GroupContext, validate)
}

// validateTreeLeaves checks every leaf (Section 7.3): signature, credential
// (validate, if not nil), uniqueness of signature and encryption keys, required
// capabilities, unmerged leaves sanity.
func validateTreeLeaves(s *suite.Suite, tree *ratchetTree, ctx *groupContext, validate func(*wire.Credential, []byte) error) error {
	sigKeys, encKeys := map[string]bool{}, map[string]bool{}
	leaves := tree.leaves()
	lns := make([]*leafNode, len(leaves))
	for i, l := range leaves {
		if lns[i] = tree.leaf(l); lns[i] == nil {
			return fmt.Errorf("%w: leaf %d does not decode", ErrInvalid, l)
		}
	}
	// The signatures are independent: check them on every core.
	if err := parallelFor(len(leaves), func(i int) error {
		if err := verifyLeafSignature(s, lns[i], ctx.GroupID, leaves[i]); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if validate != nil {
			if err := checkWireCredential(validate, tree.wireLeaf(leaves[i])); err != nil {
				return fmt.Errorf("%w: leaf %d: %w", ErrInvalid, leaves[i], err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for i, l := range leaves {
		ln := lns[i]
		if sigKeys[string(ln.SignatureKey)] || encKeys[string(ln.EncryptionKey)] {
			return fmt.Errorf("%w: leaf %d repeats a signature or encryption key", ErrInvalid, l)
		}
		sigKeys[string(ln.SignatureKey)], encKeys[string(ln.EncryptionKey)] = true, true
		if err := checkLeafCapabilities(ln, ctx); err != nil {
			return fmt.Errorf("%w: leaf %d: %w", ErrInvalid, l, err)
		}
	}
	for i := uint32(1); i < tree.width(); i += 2 {
		pn, ok := tree.parent(i)
		if !ok {
			continue
		}
		if encKeys[string(pn.EncryptionKey)] {
			return fmt.Errorf("%w: parent node %d repeats an encryption key", ErrInvalid, i)
		}
		encKeys[string(pn.EncryptionKey)] = true
		for _, u := range pn.UnmergedLeaves {
			if !isAncestor(i, 2*u) || !tree.hasLeaf(u) {
				return fmt.Errorf("%w: parent node %d lists unmerged leaf %d", ErrInvalid, i, u)
			}
		}
	}
	return nil
}

// checkLeafCapabilities enforces required_capabilities and that the leaf supports
// its own extensions and the group's cipher suite (Section 7.3, 11.1).
func checkLeafCapabilities(ln *leafNode, ctx *groupContext) error {
	if !hasU16(ln.Capabilities.Versions, mls10) && len(ln.Capabilities.Versions) > 0 {
		return errors.New("capabilities do not list mls10")
	}
	if !hasU16(ln.Capabilities.CipherSuites, ctx.CipherSuite) {
		return fmt.Errorf("capabilities do not list cipher suite %d", ctx.CipherSuite)
	}
	if ln.Credential.Type != credentialBasic && !hasU16(ln.Capabilities.Credentials, ln.Credential.Type) {
		return fmt.Errorf("capabilities do not list credential type %d", ln.Credential.Type)
	}
	for _, e := range ln.Extensions {
		if e.Type > extExternalSenders && !hasU16(ln.Capabilities.Extensions, e.Type) {
			return fmt.Errorf("extension %d not in capabilities", e.Type)
		}
	}
	if data, ok := findExtension(ctx.Extensions, extRequiredCapabilities); ok {
		rc, err := wire.ParseRequiredCapabilities(data)
		if err != nil {
			return err
		}
		for _, e := range rc.Extensions {
			if e > extExternalSenders && !hasU16(ln.Capabilities.Extensions, e) {
				return fmt.Errorf("required extension %d not supported", e)
			}
		}
		for _, p := range rc.Proposals {
			if p > propGCE && !hasU16(ln.Capabilities.Proposals, p) {
				return fmt.Errorf("required proposal %d not supported", p)
			}
		}
		for _, c := range rc.Credentials {
			if c != credentialBasic && c != credentialX509 && !hasU16(ln.Capabilities.Credentials, c) {
				return fmt.Errorf("required credential %d not supported", c)
			}
		}
	}
	for _, e := range ctx.Extensions {
		if e.Type > extExternalSenders && !hasU16(ln.Capabilities.Extensions, e.Type) {
			return fmt.Errorf("group context extension %d not supported", e.Type)
		}
	}
	return nil
}

// pskSecret resolves PreSharedKeyIDs in order (Section 8.4).
func (g *Group) pskSecret(ids []pskID, source *Group) (*keyschedule.PSKSecret, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	psks := make([]keyschedule.PSK, 0, len(ids))
	for i := range ids {
		id := &ids[i]
		var secret []byte
		switch id.Type {
		case pskExternal:
			v, ok := g.cfg.PSKs[string(id.PSKID)]
			if !ok {
				return nil, fmt.Errorf("%w: external psk_id %x", ErrUnknownPSK, id.PSKID)
			}
			secret = v
		case pskResumption:
			src := source
			if src == nil {
				src = g.pskSource
			}
			if src == nil || !bytes.Equal(src.ctx.GroupID, id.PSKGroupID) {
				src = nil
				if g.ctx.GroupID != nil && bytes.Equal(g.ctx.GroupID, id.PSKGroupID) {
					src = g
				}
			}
			if src == nil {
				return nil, fmt.Errorf("%w: resumption PSK of group %x", ErrUnknownPSK, id.PSKGroupID)
			}
			v, ok := src.resumption[id.PSKEpoch]
			if !ok {
				return nil, fmt.Errorf("%w: resumption PSK of epoch %d", ErrUnknownPSK, id.PSKEpoch)
			}
			secret = v
		default:
			return nil, fmt.Errorf("%w: psktype %d", ErrInvalid, id.Type)
		}
		if len(id.Nonce) != g.cs.Nh() {
			return nil, fmt.Errorf("%w: psk_nonce length %d, want %d", ErrInvalid, len(id.Nonce), g.cs.Nh())
		}
		psks = append(psks, keyschedule.PSK{ID: id.Marshal(), Secret: secret})
	}
	return keyschedule.ComputePSKSecret(g.cs, psks)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
