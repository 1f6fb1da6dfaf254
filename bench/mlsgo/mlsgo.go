// Package mlsgo runs the MLS engine comparison scenarios (bench/harness) against
// github.com/thomas-vilte/mls-go v1.6.0, cipher suite 1, through its group package
// (the layer under its Client, which would add a JSON state save per operation).
package mlsgo

import (
	"bytes"
	"errors"
	"fmt"

	mls "github.com/thomas-vilte/mls-go"
	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"
	"github.com/thomas-vilte/mls-go/treesync"

	"github.com/daylight-im/daylight/bench/harness"
)

const cs = ciphersuite.MLS128DHKEMX25519

// Engine is mls-go as a harness.Engine.
type Engine struct{}

// Name names the library and version.
func (Engine) Name() string { return "mls-go " + mls.Version }

type identity struct {
	kp   *keypackages.KeyPackage
	priv *keypackages.KeyPackagePrivateKeys
	sig  *ciphersuite.SignaturePrivateKey
}

func newIdentity(name string) (*identity, error) {
	cred, sig, err := credentials.GenerateCredentialWithKeyForCS([]byte(name), cs)
	if err != nil {
		return nil, err
	}
	kp, priv, err := keypackages.Generate(cred, cs)
	if err != nil {
		return nil, err
	}
	return &identity{kp: kp, priv: priv, sig: sig}, nil
}

// member is one member's state.
type member struct {
	id    *identity
	g     *group.Group
	saved []byte // MarshalState, to restore before re-processing
}

// bulk creates a group of size members with one commit by leaf 0 that adds everyone
// else, and returns the creator, the identities of leaves 1..size-1 and the Welcome.
func bulk(size int) (*member, []*identity, []byte, error) {
	a, err := newIdentity("member-0")
	if err != nil {
		return nil, nil, nil, err
	}
	gid, err := group.NewGroupIDRandom()
	if err != nil {
		return nil, nil, nil, err
	}
	g, err := group.NewGroup(gid, cs, a.kp, a.priv)
	if err != nil {
		return nil, nil, nil, err
	}
	creator := &member{id: a, g: g}
	if size == 1 {
		return creator, nil, nil, nil
	}
	ids := make([]*identity, size)
	var kps []*keypackages.KeyPackage
	for i := 1; i < size; i++ {
		if ids[i], err = newIdentity(fmt.Sprintf("member-%d", i)); err != nil {
			return nil, nil, nil, err
		}
		kps = append(kps, ids[i].kp)
		if _, err := g.AddMember(ids[i].kp); err != nil {
			return nil, nil, nil, err
		}
	}
	w, err := commitAdds(creator, kps)
	if err != nil {
		return nil, nil, nil, err
	}
	return creator, ids, w, nil
}

// commitAdds commits the stored Add proposals, merges and returns the Welcome, as
// mls-go's Client.CommitPendingProposals does.
func commitAdds(m *member, kps []*keypackages.KeyPackage) ([]byte, error) {
	staged, err := m.g.Commit(m.id.sig, m.id.sig.PublicKey(), nil)
	if err != nil {
		return nil, err
	}
	js := staged.JoinerSecret()
	if err := m.g.MergeCommit(staged); err != nil {
		return nil, err
	}
	wo, err := m.g.CreateWelcomeWithOpts(kps, m.id.sig,
		group.WithJoinerSecret(js), group.WithPSKIDs(staged.PskIDs()),
		group.WithPSKSecret(staged.RawPskSecret()), group.WithStagedCommit(staged))
	if err != nil {
		return nil, err
	}
	// Wire bytes, as a joiner receives them (parsed again by each joiner: a parsed
	// Welcome holds the tree a joined Group then uses).
	return (&framing.MLSMessage{Welcome: wo.Marshal()}).Marshal(), nil
}

// commit creates an update commit (empty commit, with path) and its wire bytes.
func (m *member) commit() (*group.StagedCommit, []byte, error) {
	staged, err := m.g.Commit(m.id.sig, m.id.sig.PublicKey(), nil)
	if err != nil {
		return nil, nil, err
	}
	if staged.Commit().Path == nil {
		return nil, nil, errors.New("mls-go: commit without path")
	}
	msg := framing.NewMLSMessagePublic(&framing.PublicMessage{
		Content:       staged.AuthenticatedContent().Content,
		Auth:          staged.AuthenticatedContent().Auth,
		MembershipTag: staged.MembershipTag(),
	})
	return staged, msg.Marshal(), nil
}

// process handles a commit from the wire as mls-go's Client.ProcessCommit does.
func (m *member) process(b []byte) error {
	msg, err := framing.UnmarshalMLSMessage(b)
	if err != nil {
		return err
	}
	pm, ok := msg.AsPublic()
	if !ok {
		return errors.New("mls-go: not a PublicMessage")
	}
	g := m.g
	gc := g.GroupContext().Marshal()
	if err := pm.VerifyMembershipTagWithContext(g.CipherSuite(), g.EpochSecrets().MembershipKey, gc); err != nil {
		return err
	}
	ac := &framing.AuthenticatedContent{WireFormat: framing.WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth, GroupContext: gc}
	return g.ProcessReceivedCommit(ac, treesync.LeafIndex(pm.Content.Sender.LeafIndex), g.MyLeafEncryptionKey())
}

func join(id *identity, b []byte) (*member, error) {
	// A copy, so that whatever the Group keeps of the message counts as its memory.
	msg, err := framing.UnmarshalMLSMessage(bytes.Clone(b))
	if err != nil {
		return nil, err
	}
	if msg.Welcome == nil {
		return nil, errors.New("mls-go: not a Welcome")
	}
	w, err := group.UnmarshalWelcome(msg.Welcome)
	if err != nil {
		return nil, err
	}
	g, err := group.JoinFromWelcome(w, id.kp, id.priv, nil)
	if err != nil {
		return nil, err
	}
	return &member{id: id, g: g}, nil
}

type fixture struct {
	size    int
	a, r    *member // leaf 0 and leaf 1
	ids     []*identity
	welcome []byte
	pending []byte
}

// NewWorst builds the worst-case group.
func (Engine) NewWorst(size int) (harness.Fixture, error) {
	if size < 2 {
		return nil, errors.New("size must be at least 2")
	}
	a, ids, w, err := bulk(size)
	if err != nil {
		return nil, err
	}
	r, err := join(ids[1], w)
	if err != nil {
		return nil, err
	}
	return &fixture{size: size, a: a, r: r, ids: ids, welcome: w}, nil
}

func (f *fixture) CreateUpdate() error {
	_, _, err := f.a.commit()
	return err
}

func (f *fixture) ResetCreate() error {
	if f.a.g.PendingCommit() != nil {
		return f.a.g.DiscardPendingCommit()
	}
	return nil
}

func (f *fixture) PrepareProcess() error {
	if err := f.ResetCreate(); err != nil {
		return err
	}
	_, b, err := f.a.commit()
	if err != nil {
		return err
	}
	if err := f.a.g.DiscardPendingCommit(); err != nil {
		return err
	}
	f.pending = b
	if f.r.saved == nil {
		if f.r.saved, err = f.r.g.MarshalState(); err != nil {
			return err
		}
		return nil
	}
	f.r.g, err = group.UnmarshalGroupState(f.r.saved)
	return err
}

func (f *fixture) ProcessUpdate() error { return f.r.process(f.pending) }

// restoreR puts R back to its saved (current-epoch) state.
func (f *fixture) restoreR() error {
	if f.r.saved == nil {
		return nil
	}
	g, err := group.UnmarshalGroupState(f.r.saved)
	if err != nil {
		return err
	}
	f.r.g, f.r.saved = g, nil
	return nil
}

// MakeBest has leaves 2^k, ..., 2, 1 commit in turn, each after catching up with the
// earlier ones (R is leaf 1, so it commits last); A then processes all of them.
func (f *fixture) MakeBest() error {
	if err := f.restoreR(); err != nil {
		return err
	}
	var history [][]byte
	for _, h := range harness.Helpers(f.size) {
		m := f.r
		if h != 1 {
			var err error
			if m, err = join(f.ids[h], f.welcome); err != nil {
				return err
			}
		}
		for _, c := range history {
			if err := m.process(c); err != nil {
				return err
			}
		}
		staged, b, err := m.commit()
		if err != nil {
			return err
		}
		if err := m.g.MergeCommit(staged); err != nil {
			return err
		}
		history = append(history, b)
	}
	for _, c := range history {
		if err := f.a.process(c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fixture) ProtectUnprotect(msg []byte) error {
	if err := f.restoreR(); err != nil {
		return err
	}
	pm, err := f.a.g.SendMessage(msg, f.a.id.sig)
	if err != nil {
		return err
	}
	b := framing.NewMLSMessagePrivate(pm).Marshal()
	in, err := framing.UnmarshalMLSMessage(b)
	if err != nil {
		return err
	}
	ipm, ok := in.AsPrivate()
	if !ok {
		return errors.New("mls-go: not a PrivateMessage")
	}
	pt, _, _, err := f.r.g.ReceiveApplicationMessage(ipm)
	if err != nil {
		return err
	}
	if len(pt) != len(msg) {
		return errors.New("mls-go: wrong plaintext")
	}
	return nil
}

type adder struct {
	a       *member
	ids     []*identity
	kps     []*keypackages.KeyPackage
	welcome []byte
	saved   []byte
}

// NewAdder prepares a one-member group and size-1 KeyPackages.
func (Engine) NewAdder(size int) (harness.Adder, error) {
	a, _, _, err := bulk(1)
	if err != nil {
		return nil, err
	}
	ad := &adder{a: a}
	for i := 1; i < size; i++ {
		id, err := newIdentity(fmt.Sprintf("member-%d", i))
		if err != nil {
			return nil, err
		}
		ad.ids = append(ad.ids, id)
		ad.kps = append(ad.kps, id.kp)
	}
	return ad, nil
}

// Reset puts the creator back to the one-member group (untimed).
func (ad *adder) Reset() error {
	if ad.saved == nil {
		var err error
		ad.saved, err = ad.a.g.MarshalState()
		return err
	}
	g, err := group.UnmarshalGroupState(ad.saved)
	ad.a.g = g
	return err
}

// Commit adds everyone in one commit and creates the Welcome.
func (ad *adder) Commit() error {
	for _, kp := range ad.kps {
		if _, err := ad.a.g.AddMember(kp); err != nil {
			return err
		}
	}
	w, err := commitAdds(ad.a, ad.kps)
	if err != nil {
		return err
	}
	ad.welcome = w
	return nil
}

func (ad *adder) Join() (any, error) {
	m, err := join(ad.ids[len(ad.ids)-1], ad.welcome)
	if err != nil {
		return nil, err
	}
	return m.g, nil
}

func (ad *adder) StateBytes(keep any) (int, error) {
	g, ok := keep.(*group.Group)
	if !ok {
		return 0, errors.New("no joined member")
	}
	b, err := g.MarshalState()
	return len(b), err
}

// PathCiphertexts counts the HPKE ciphertexts in an update path A would send now.
func (f *fixture) PathCiphertexts() (int, error) {
	if err := f.ResetCreate(); err != nil {
		return 0, err
	}
	staged, _, err := f.a.commit()
	if err != nil {
		return 0, err
	}
	defer f.a.g.DiscardPendingCommit()
	k := 0
	for _, n := range staged.Commit().Path.Nodes {
		k += len(n.EncryptedPathSecrets)
	}
	return k, nil
}
