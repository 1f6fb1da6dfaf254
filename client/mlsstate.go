package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/policy"
)

// cipherSuite is the suite daylight groups use: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
// whose Ed25519 leaf signature key is the device's registered key.
const cipherSuite = suite.ID(0x0001)

// cryptoReader is the default randomness (Config.Rand overrides it).
var cryptoReader = rand.Reader

// MLS group state is persisted as the engine's own snapshot
// (group.Group.MarshalBinary, inside the encrypted local store) after every
// operation that changes it, and restored with group.UnmarshalGroup. An own
// application message's state (its consumed generation) is durable before
// the message is sent, so a generation is never reused.

type opKind string

const (
	opCreate  opKind = "create"
	opJoin    opKind = "join"
	opProcess opKind = "process" // a received message (a commit is merged at once)
	opCommit  opKind = "commit"  // an own commit: pending until the server accepts it
	opProtect opKind = "protect" // an own application message
	opPropose opKind = "propose" // an own Remove proposal
)

type commitSpec struct {
	Adds      [][]byte // MLSMessage(KeyPackage)
	RemoveIDs [][]byte // basic-credential identities
	ForcePath bool     // an otherwise empty commit (covers cached proposals)
	AAD       []byte   `json:",omitempty"` // authenticated_data: the committer's signed time (client/escrow.go)
}

func (cs *commitSpec) options() group.CommitOptions {
	var o group.CommitOptions
	for _, kp := range cs.Adds {
		o.ByValue = append(o.ByValue, group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: kp})
	}
	for _, id := range cs.RemoveIDs {
		o.ByValue = append(o.ByValue, group.ProposalSpec{Type: group.ProposalRemove, RemovedIdentity: id})
	}
	o.ForcePath = cs.ForcePath
	o.AuthenticatedData = cs.AAD
	return o
}

// op is one operation on a group state.
type op struct {
	Kind     opKind
	GroupID  []byte            // create
	Identity []byte            // create
	KP       *kpRecord         // join
	Msg      []byte            // join (Welcome), process
	Commit   *commitSpec       // commit
	Plain    []byte            // protect
	AAD      []byte            `json:",omitempty"` // protect: the franking commitment (client/franking.go)
	Remove   []byte            // propose: identity to remove
	Exts     []group.Extension `json:",omitempty"` // create: GroupContext extensions (client/policyctx.go)
}

// kpRecord is a KeyPackage with its private keys (record "kp/<ref>").
type kpRecord struct {
	Message        []byte `json:"message"`
	InitPriv       []byte `json:"init_priv"`
	EncryptionPriv []byte `json:"encryption_priv"`
	SignaturePriv  []byte `json:"signature_priv"`
}

// mlsGroup is a live group state.
type mlsGroup struct {
	g     *group.Group
	cfg   group.Config
	devSK ed25519.PrivateKey
}

func newMLSGroup(devSK ed25519.PrivateKey, r io.Reader, now func() time.Time) *mlsGroup {
	return &mlsGroup{devSK: devSK, cfg: group.Config{Rand: r, Now: now, ExtensionTypes: []uint16{policy.ExtensionType}}}
}

// result of applying an op.
type opResult struct {
	received *group.Received
	commit   *group.CommitResult
	out      []byte // protect / propose output
}

// apply runs o against the state. An opCommit stays pending: call
// g.MergePendingCommit once the server accepted it.
func (m *mlsGroup) apply(o *op) (*opResult, error) {
	switch o.Kind {
	case opCreate:
		// group.Create draws the creator's signature key from Config.Rand
		// first: the device's Ed25519 seed is fed as those bytes, so the leaf
		// signature key is the registered device key (the DS checks it).
		cfg := m.cfg
		cfg.Rand = io.MultiReader(bytesReader(m.devSK.Seed()), m.cfg.Rand)
		g, err := group.CreateWithExtensions(cfg, cipherSuite, o.GroupID, o.Identity, o.Exts)
		if err != nil {
			return nil, err
		}
		m.g = g
		return &opResult{}, nil
	case opJoin:
		kp, err := group.LoadKeyPackageBundle(o.KP.Message, o.KP.InitPriv, o.KP.EncryptionPriv, o.KP.SignaturePriv)
		if err != nil {
			return nil, err
		}
		g, err := group.Join(m.cfg, kp, o.Msg, nil)
		if err != nil {
			return nil, err
		}
		m.g = g
		return &opResult{}, nil
	case opProcess:
		r, err := m.g.Process(o.Msg)
		if err != nil {
			return nil, err
		}
		if r.Kind == group.KindCommit {
			if err := m.g.Merge(r.Staged); err != nil {
				return nil, err
			}
		}
		return &opResult{received: r}, nil
	case opCommit:
		res, err := m.g.Commit(o.Commit.options())
		if err != nil {
			return nil, err
		}
		return &opResult{commit: res}, nil
	case opProtect:
		ct, err := m.g.Protect(o.AAD, o.Plain)
		if err != nil {
			return nil, err
		}
		return &opResult{out: ct}, nil
	case opPropose:
		msg, err := m.g.Propose(group.ProposalSpec{Type: group.ProposalRemove, RemovedIdentity: o.Remove})
		if err != nil {
			return nil, err
		}
		return &opResult{out: msg}, nil
	}
	return nil, fmt.Errorf("client: unknown group operation %q", o.Kind)
}

// snapshot returns the state to persist (nil once removed).
func (m *mlsGroup) snapshot() ([]byte, error) {
	if m.g == nil || m.g.Removed() {
		return nil, nil
	}
	return m.g.MarshalBinary()
}

// restore loads a snapshot.
func restoreGroup(devSK ed25519.PrivateKey, r io.Reader, now func() time.Time, state []byte, keepEscrow bool) (*mlsGroup, error) {
	m := newMLSGroup(devSK, r, now)
	m.cfg.KeepEscrowSecrets = keepEscrow // client/escrow.go
	if state == nil {
		return m, nil // removed: no state
	}
	g, err := group.UnmarshalGroup(m.cfg, state)
	if err != nil {
		return nil, fmt.Errorf("client: restoring group state: %w", err)
	}
	m.g = g
	return m, nil
}
