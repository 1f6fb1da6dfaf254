package group

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
)

// stateVersion is the version of the persisted Group encoding:
//
//	uint8 version = 1; uint16 cipher_suite; uint8 encrypt_handshake
//	opaque group_context<V>; opaque ratchet_tree<V>; uint32 own_leaf; opaque signature_priv<V>
//	vector<V> { uint32 node; opaque priv<V>; opaque pub<V> } node_keys
//	opaque sender_data<V>; opaque exporter<V>; opaque epoch_authenticator<V>; opaque external<V>
//	opaque confirmation_key<V>; opaque membership_key<V>; opaque resumption<V>; opaque init<V>
//	opaque secret_tree<V> (mls/secrettree encoding)
//	opaque interim_transcript_hash<V>; opaque confirmation_tag<V>
//	vector<V> { opaque ref<V>; uint8 sender_type; uint32 sender_index; Proposal } proposals
//	vector<V> { opaque ref<V>; opaque priv<V>; opaque pub<V> } pending_updates
//	vector<V> { uint64 epoch; opaque psk<V> } resumption_psks
//	uint8 removed; optional<ReInit> reinit
//
// Not persisted: a pending (unmerged) own Commit, the receive state of past epochs,
// and the set of own proposal messages (re-delivered own proposals are then
// processed like anyone else's). The output holds secrets: store it encrypted.
const stateVersion = 1

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
	var w builder
	w.u8(stateVersion)
	w.u16(uint16(g.cs.ID()))
	if g.cfg.EncryptHandshake {
		w.u8(1)
	} else {
		w.u8(0)
	}
	w.opaque(g.ctxBytes)
	w.opaque(g.tree.marshal())
	w.u32(g.own)
	w.opaque(g.sigPriv)
	nodes := sortedKeys(g.privs)
	w.vector(func(w *builder) {
		for _, n := range nodes {
			w.u32(n)
			w.opaque(g.privs[n].priv)
			w.opaque(g.privs[n].pub)
		}
	})
	es := g.secrets
	for _, b := range [][]byte{es.SenderData.Bytes(), es.Exporter.Bytes(), es.EpochAuthenticator, es.External.Bytes(),
		es.Confirmation.Bytes(), es.Membership.Bytes(), es.Resumption.Bytes(), es.Init.Bytes()} {
		w.opaque(b)
	}
	w.opaque(st)
	w.opaque(g.interim)
	w.opaque(g.confTag)
	w.vector(func(w *builder) {
		for _, cp := range g.proposals {
			w.opaque(cp.ref)
			w.u8(uint8(cp.sender.Type))
			w.u32(cp.sender.Index)
			cp.prop.marshal(w)
		}
	})
	w.vector(func(w *builder) {
		for _, ref := range sortedStrings(g.pendingUpdates) {
			w.opaque([]byte(ref))
			w.opaque(g.pendingUpdates[ref].priv)
			w.opaque(g.pendingUpdates[ref].pub)
		}
	})
	epochs := sortedKeys64(g.resumption)
	w.vector(func(w *builder) {
		for _, e := range epochs {
			w.u64(e)
			w.opaque(g.resumption[e])
		}
	})
	w.u8(0)
	w.optional(g.reinit != nil, func(w *builder) {
		(&proposal{typ: propReInit, reinit: g.reinit}).marshal(w)
	})
	return w.b, nil
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
	r := &reader{b: clone(data)}
	if v := r.u8("version"); r.err == nil && v != stateVersion {
		return nil, fmt.Errorf("unsupported state version %d", v)
	}
	s, err := suite.Lookup(suite.ID(r.u16("cipher_suite")))
	if r.err != nil {
		return nil, r.err
	}
	if err != nil {
		return nil, err
	}
	cfg.EncryptHandshake = r.u8("encrypt_handshake") == 1
	g := &Group{cfg: cfg, publicState: publicState{cs: s}, privs: map[uint32]keyPair{}, pendingUpdates: map[string]keyPair{},
		resumption: map[uint64][]byte{}, sent: map[string][]byte{}}
	ctxR := &reader{b: r.opaque("group_context")}
	var ctx groupContext
	ctx.parse(ctxR)
	if err := ctxR.done("group_context"); err != nil {
		return nil, err
	}
	g.setContext(ctx)
	treeBytes := r.opaque("ratchet_tree")
	g.own = r.u32("own_leaf")
	g.sigPriv = r.opaque("signature_priv")
	r.vector("node_keys", func(r *reader) {
		n := r.u32("node")
		g.privs[n] = keyPair{r.opaque("priv"), r.opaque("pub")}
	})
	raw := make([][]byte, 8)
	for i := range raw {
		raw[i] = r.opaque("epoch_secret")
	}
	stBytes := r.opaque("secret_tree")
	g.interim = r.opaque("interim_transcript_hash")
	g.confTag = r.opaque("confirmation_tag")
	r.vector("proposals", func(r *reader) {
		cp := cachedProposal{ref: r.opaque("ref")}
		cp.sender.Type = framing.SenderType(r.u8("sender_type"))
		cp.sender.Index = r.u32("sender_index")
		cp.prop = new(proposal)
		cp.prop.parse(r)
		g.proposals = append(g.proposals, cp)
	})
	r.vector("pending_updates", func(r *reader) {
		ref := string(r.opaque("ref"))
		g.pendingUpdates[ref] = keyPair{r.opaque("priv"), r.opaque("pub")}
	})
	r.vector("resumption_psks", func(r *reader) {
		e := r.u64("epoch")
		g.resumption[e] = r.opaque("psk")
	})
	if r.u8("removed") != 0 {
		r.fail("removed", errEnum)
	}
	if r.optional("reinit") {
		var p proposal
		p.parse(r)
		if p.typ != propReInit {
			r.fail("reinit", errEnum)
		}
		g.reinit = p.reinit
	}
	if err := r.done("state"); err != nil {
		return nil, err
	}
	if g.tree, err = parseRatchetTree(s, treeBytes); err != nil {
		return nil, err
	}
	if g.tree.leaf(g.own) == nil {
		return nil, fmt.Errorf("own leaf %d is blank", g.own)
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

func sortedKeys(m map[uint32]keyPair) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func sortedKeys64(m map[uint64][]byte) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func sortedStrings(m map[string]keyPair) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
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
	var w builder
	w.u8(publicStateVersion)
	w.u16(uint16(p.cs.ID()))
	w.opaque(p.ctxBytes)
	w.opaque(p.tree.marshal())
	w.opaque(p.interim)
	w.vector(func(w *builder) {
		for _, cp := range p.proposals {
			w.opaque(cp.ref)
			w.u8(uint8(cp.sender.Type))
			w.u32(cp.sender.Index)
			cp.prop.marshal(w)
		}
	})
	return w.b, nil
}

// UnmarshalPublicGroup restores a PublicGroup saved by MarshalBinary. The tree is
// parsed strictly and must match the saved GroupContext's tree hash.
func UnmarshalPublicGroup(data []byte) (*PublicGroup, error) {
	r := &reader{b: clone(data)}
	if v := r.u8("version"); r.err == nil && v != publicStateVersion {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: unsupported version %d", v)
	}
	id := r.u16("cipher_suite")
	ctxBytes := r.opaque("group_context")
	treeBytes := r.opaque("ratchet_tree")
	interim := r.opaque("interim_transcript_hash")
	var props []cachedProposal
	r.vector("proposals", func(r *reader) {
		cp := cachedProposal{ref: r.opaque("ref")}
		cp.sender.Type = framing.SenderType(r.u8("sender_type"))
		cp.sender.Index = r.u32("sender_index")
		cp.prop = new(proposal)
		cp.prop.parse(r)
		props = append(props, cp)
	})
	if err := r.done("public_group"); err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	s, err := suite.Lookup(suite.ID(id))
	if err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	cr := &reader{b: ctxBytes}
	var ctx groupContext
	ctx.parse(cr)
	if err := cr.done("group_context"); err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	tree, err := parseRatchetTree(s, treeBytes)
	if err != nil {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w", err)
	}
	if !bytesEqual(tree.rootHash(), ctx.treeHash) {
		return nil, fmt.Errorf("mls/group: UnmarshalPublicGroup: %w: tree hash does not match the GroupContext", ErrInvalid)
	}
	p := &PublicGroup{publicState: publicState{cs: s, tree: tree, interim: interim}, proposals: props}
	p.setContext(ctx)
	return p, nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
