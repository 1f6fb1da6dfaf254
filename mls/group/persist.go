package group

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treekem"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// stateVersion is the version of the persisted Group encoding:
//
//	uint8 version = 3; uint16 cipher_suite; uint8 encrypt_handshake
//	opaque group_context<V>; opaque ratchet_tree<V>; uint32 own_leaf; opaque signature_priv<V>
//	opaque private_state<V> (mls/treekem PrivateState encoding; the leaf must be own_leaf)
//	opaque sender_data<V>; opaque exporter<V>; opaque epoch_authenticator<V>; opaque external<V>
//	opaque confirmation_key<V>; opaque membership_key<V>; opaque resumption<V>; opaque init<V>
//	opaque secret_tree<V> (mls/secrettree encoding)
//	opaque interim_transcript_hash<V>; opaque confirmation_tag<V>
//	vector<V> { opaque ref<V>; uint8 sender_type; uint32 sender_index; Proposal } proposals
//	vector<V> { opaque ref<V>; opaque priv<V>; opaque pub<V> } pending_updates
//	vector<V> { uint64 epoch; opaque psk<V> } resumption_psks
//	uint8 removed; optional<ReInit> reinit
//	optional<opaque escrow_encryption_secret<V>>    (versions 2 and 3; Config.KeepEscrowSecrets)
//
// Versions 1 and 2 are still read: in place of private_state they carry
//
//	vector<V> { uint32 node; opaque priv<V>; opaque pub<V> } node_keys
//
// (keys whose pub is no longer the tree's are dropped on reading), and version 1
// has no escrow field.
// Not persisted: a pending (unmerged) own Commit, the receive state of past epochs,
// and the set of own proposal messages (re-delivered own proposals are then
// processed like anyone else's). The output holds secrets: store it encrypted.
const stateVersion = 3

// MarshalBinary encodes the member's state (see stateVersion). It fails for a
// removed member, whose state should be deleted.
func (g *Group) MarshalBinary() ([]byte, error) {
	if g.removed || g.secrets == nil {
		return nil, fmt.Errorf("mls/group: MarshalBinary: %w: no active state", ErrInvalid)
	}
	st, err := g.secretTree.MarshalBinary()
	if err != nil {
		return nil, err
	}
	var w codec.Builder
	w.Uint8(stateVersion)
	w.Uint16(uint16(g.cs.ID()))
	if g.cfg.EncryptHandshake {
		w.Uint8(1)
	} else {
		w.Uint8(0)
	}
	w.Opaque(g.ctxBytes)
	w.Opaque(g.tree.marshal())
	w.Uint32(g.own)
	w.Opaque(g.sigPriv)
	priv, err := g.priv.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w.Opaque(priv)
	clear(priv)
	es := g.secrets
	for _, b := range [][]byte{es.SenderData.Bytes(), es.Exporter.Bytes(), es.EpochAuthenticator, es.External.Bytes(),
		es.Confirmation.Bytes(), es.Membership.Bytes(), es.Resumption.Bytes(), es.Init.Bytes()} {
		w.Opaque(b)
	}
	w.Opaque(st)
	w.Opaque(g.interim)
	w.Opaque(g.confTag)
	w.Vector(func(w *codec.Builder) {
		for _, cp := range g.proposals {
			w.Opaque(cp.ref)
			w.Uint8(uint8(cp.sender.Type))
			w.Uint32(cp.sender.Index)
			w.Append(cp.prop.Append)
		}
	})
	w.Vector(func(w *codec.Builder) {
		for _, ref := range slices.Sorted(maps.Keys(g.pendingUpdates)) {
			w.Opaque([]byte(ref))
			w.Opaque(g.pendingUpdates[ref].priv)
			w.Opaque(g.pendingUpdates[ref].pub)
		}
	})
	epochs := slices.Sorted(maps.Keys(g.resumption))
	w.Vector(func(w *codec.Builder) {
		for _, e := range epochs {
			w.Uint64(e)
			w.Opaque(g.resumption[e])
		}
	})
	w.Uint8(0)
	w.Optional(g.reinit != nil, func(w *codec.Builder) {
		w.Append((&proposal{Type: propReInit, ReInit: g.reinit}).Append)
	})
	w.Optional(g.escrowEnc != nil, func(w *codec.Builder) { w.Opaque(g.escrowEnc) })
	return w.Bytes(), nil
}

// UnmarshalGroup restores a Group saved by MarshalBinary. cfg supplies randomness,
// clock and PSKs; the handshake encoding is restored from the state.
func UnmarshalGroup(cfg Config, data []byte) (*Group, error) {
	g, err := unmarshalGroup(cfg, data)
	if err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalGroup: %w", err)
	}
	return g, nil
}

func unmarshalGroup(cfg Config, data []byte) (*Group, error) {
	r := codec.NewReader(clone(data))
	version := r.Uint8("version")
	if r.Err() == nil && (version < 1 || version > stateVersion) {
		return nil, fmt.Errorf("unsupported state version %d", version)
	}
	s, err := suite.Lookup(suite.ID(r.Uint16("cipher_suite")))
	if r.Err() != nil {
		return nil, r.Err()
	}
	if err != nil {
		return nil, err
	}
	cfg.EncryptHandshake = r.Uint8("encrypt_handshake") == 1
	g := &Group{cfg: cfg, publicState: publicState{cs: s, validateCredential: cfg.CredentialValidator}, pendingUpdates: map[string]keyPair{},
		resumption: map[uint64][]byte{}, sent: map[string][]byte{}}
	ctx, err := wire.ParseGroupContext(r.Opaque("group_context"))
	if err != nil {
		return nil, err
	}
	g.setContext(*ctx)
	treeBytes := r.Opaque("ratchet_tree")
	g.own = r.Uint32("own_leaf")
	g.sigPriv = r.Opaque("signature_priv")
	var privBytes []byte
	var oldKeys []oldNodeKey
	if version >= 3 {
		privBytes = r.Opaque("private_state")
	} else {
		r.Vector("node_keys", func(r *codec.Reader) {
			oldKeys = append(oldKeys, oldNodeKey{treemath.NodeIndex(r.Uint32("node")), r.Opaque("priv"), r.Opaque("pub")})
		})
	}
	raw := make([][]byte, 8)
	for i := range raw {
		raw[i] = r.Opaque("epoch_secret")
	}
	stBytes := r.Opaque("secret_tree")
	g.interim = r.Opaque("interim_transcript_hash")
	g.confTag = r.Opaque("confirmation_tag")
	r.Vector("proposals", func(r *codec.Reader) {
		cp := cachedProposal{ref: r.Opaque("ref")}
		cp.sender.Type = framing.SenderType(r.Uint8("sender_type"))
		cp.sender.Index = r.Uint32("sender_index")
		cp.prop = readStoredProposal(r)
		g.proposals = append(g.proposals, cp)
	})
	r.Vector("pending_updates", func(r *codec.Reader) {
		ref := string(r.Opaque("ref"))
		g.pendingUpdates[ref] = keyPair{r.Opaque("priv"), r.Opaque("pub")}
	})
	r.Vector("resumption_psks", func(r *codec.Reader) {
		e := r.Uint64("epoch")
		g.resumption[e] = r.Opaque("psk")
	})
	if r.Uint8("removed") != 0 {
		r.Fail("removed", codec.ErrBadEnum)
	}
	if r.Optional("reinit") {
		p := readStoredProposal(r)
		if r.Err() == nil && p.Type != propReInit {
			r.Fail("reinit", codec.ErrBadEnum)
		}
		g.reinit = p.ReInit
	}
	if version >= 2 && r.Optional("escrow_encryption_secret") {
		g.escrowEnc = r.Opaque("escrow_encryption_secret")
		if r.Err() == nil && len(g.escrowEnc) != s.Nh() {
			r.Fail("escrow_encryption_secret", codec.ErrInvalid)
		}
	}
	if err := r.Finish("state"); err != nil {
		return nil, err
	}
	if g.tree, err = parseRatchetTree(s, treeBytes); err != nil {
		return nil, err
	}
	if g.tree.leaf(g.own) == nil {
		return nil, fmt.Errorf("own leaf %d is blank", g.own)
	}
	if version >= 3 {
		if g.priv, err = treekem.UnmarshalPrivateState(s, privBytes); err != nil {
			return nil, err
		}
		if g.priv.Leaf() != treemath.LeafIndex(g.own) {
			return nil, fmt.Errorf("private_state is for leaf %d, not own_leaf %d", g.priv.Leaf(), g.own)
		}
	} else if g.priv, err = restoreOldNodeKeys(s, g.tree, g.own, oldKeys); err != nil {
		return nil, err
	}
	es := &keyschedule.EpochSecrets{EpochAuthenticator: raw[2]}
	steps := []error{}
	var e error
	es.SenderData, e = keyschedule.NewSenderDataSecret(s, raw[0])
	steps = append(steps, e)
	es.Exporter, e = keyschedule.NewExporterSecret(s, raw[1])
	steps = append(steps, e)
	es.External, e = keyschedule.NewExternalSecret(s, raw[3])
	steps = append(steps, e)
	es.Confirmation, e = keyschedule.NewConfirmationKey(s, raw[4])
	steps = append(steps, e)
	es.Membership, e = keyschedule.NewMembershipKey(s, raw[5])
	steps = append(steps, e)
	es.Resumption, e = keyschedule.NewResumptionPSK(s, raw[6])
	steps = append(steps, e)
	es.Init, e = keyschedule.NewInitSecret(s, raw[7])
	steps = append(steps, e)
	// The encryption secret lives on inside the secret tree only.
	es.Encryption, e = keyschedule.NewEncryptionSecret(s, make([]byte, s.Nh()))
	steps = append(steps, e)
	for _, e := range steps {
		if e != nil {
			return nil, e
		}
	}
	g.secrets = es
	if g.secretTree, err = secrettree.Unmarshal(s, stBytes, g.secretTreeConfig()); err != nil {
		return nil, err
	}
	return g, nil
}

// publicStateVersion is the version of the persisted PublicGroup encoding:
//
//	uint8 version = 1; uint16 cipher_suite
//	opaque group_context<V>; opaque ratchet_tree<V>; opaque interim_transcript_hash<V>
//	vector<V> { opaque ref<V>; uint8 sender_type; uint32 sender_index; Proposal } proposals
//
// It holds no secrets.
const publicStateVersion = 1

// MarshalBinary encodes the server's view of the group (no secrets), so a delivery
// service can store it and restore it with UnmarshalPublicGroup.
func (p *PublicGroup) MarshalBinary() ([]byte, error) {
	var w codec.Builder
	w.Uint8(publicStateVersion)
	w.Uint16(uint16(p.cs.ID()))
	w.Opaque(p.ctxBytes)
	w.Opaque(p.tree.marshal())
	w.Opaque(p.interim)
	w.Vector(func(w *codec.Builder) {
		for _, cp := range p.proposals {
			w.Opaque(cp.ref)
			w.Uint8(uint8(cp.sender.Type))
			w.Uint32(cp.sender.Index)
			w.Append(cp.prop.Append)
		}
	})
	return w.Bytes(), nil
}

// UnmarshalPublicGroup restores a PublicGroup saved by MarshalBinary. The tree is
// parsed strictly and must match the saved GroupContext's tree hash.
func UnmarshalPublicGroup(data []byte) (*PublicGroup, error) {
	r := codec.NewReader(clone(data))
	if v := r.Uint8("version"); r.Err() == nil && v != publicStateVersion {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: unsupported version %d", v)
	}
	id := r.Uint16("cipher_suite")
	ctxBytes := r.Opaque("group_context")
	treeBytes := r.Opaque("ratchet_tree")
	interim := r.Opaque("interim_transcript_hash")
	var props []cachedProposal
	r.Vector("proposals", func(r *codec.Reader) {
		cp := cachedProposal{ref: r.Opaque("ref")}
		cp.sender.Type = framing.SenderType(r.Uint8("sender_type"))
		cp.sender.Index = r.Uint32("sender_index")
		cp.prop = readStoredProposal(r)
		props = append(props, cp)
	})
	if err := r.Finish("public_group"); err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	s, err := suite.Lookup(suite.ID(id))
	if err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	ctx, err := wire.ParseGroupContext(ctxBytes)
	if err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	tree, err := parseRatchetTree(s, treeBytes)
	if err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	if !bytesEqual(tree.rootHash(), ctx.TreeHash) {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w: tree hash does not match the GroupContext", ErrInvalid)
	}
	p := &PublicGroup{publicState: publicState{cs: s, tree: tree, interim: interim}, proposals: props}
	p.setContext(*ctx)
	return p, nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// oldNodeKey is an entry of the node_keys of state versions 1 and 2.
type oldNodeKey struct {
	node      treemath.NodeIndex
	priv, pub []byte
}

// restoreOldNodeKeys turns the node_keys of a version 1 or 2 state into a
// treekem.PrivateState, dropping entries whose public key is no longer the
// tree's (as those versions did when they used them).
func restoreOldNodeKeys(s *suite.Suite, t *ratchetTree, own uint32, keys []oldNodeKey) (*treekem.PrivateState, error) {
	var nodes []treemath.NodeIndex
	var privs [][]byte
	for _, k := range keys {
		if pub := t.t.EncryptionKey(k.node); pub != nil && bytes.Equal(pub, k.pub) {
			nodes = append(nodes, k.node)
			privs = append(privs, k.priv)
		}
	}
	return treekem.RestorePrivateState(s, treemath.LeafIndex(own), nodes, privs)
}

// readStoredProposal decodes a Proposal embedded in a stored state; types the
// group does not implement are refused as on the wire.
func readStoredProposal(r *codec.Reader) *proposal {
	p := wire.DecodeProposal(r)
	if r.Err() == nil {
		if err := checkKnownProposal(p); err != nil {
			r.Fail("proposal", err)
		}
	}
	return p
}
