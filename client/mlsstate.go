package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20"

	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// cipherSuite is the suite daylight groups use: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
// whose Ed25519 leaf signature key is the device's registered key.
const cipherSuite = suite.ID(0x0001)

// MLS group state persistence.
//
// mls/group has no state save/restore yet, so a group's state is stored as
// the log of operations that built it (create or join, then every commit,
// processed message and protected message), each with the 32-byte seed of
// the randomness it consumed. Opening a group replays the log with the same
// randomness, which rebuilds the exact state (the engine is deterministic
// given its Rand). Application-message operations of past epochs are dropped
// when a commit is merged (they no longer affect the state), and the epoch
// authenticator after the last operation is kept to detect a replay that
// diverged. When mls/group gains Marshal/Unmarshal this becomes a snapshot.

type opKind string

const (
	opCreate  opKind = "create"
	opJoin    opKind = "join"
	opProcess opKind = "process" // a received message (commit merged)
	opCommit  opKind = "commit"  // an own commit, accepted by the server, merged
	opProtect opKind = "protect" // an own application message
	opPropose opKind = "propose" // an own proposal
)

type commitSpec struct {
	Adds      [][]byte `json:"adds,omitempty"`       // MLSMessage(KeyPackage)
	RemoveIDs [][]byte `json:"remove_ids,omitempty"` // basic-credential identities
	ForcePath bool     `json:"force_path,omitempty"` // an empty commit (covers cached proposals)
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
	return o
}

type op struct {
	Kind opKind    `json:"kind"`
	Seed []byte    `json:"seed"`
	Time time.Time `json:"time"`
	App  bool      `json:"app,omitempty"` // an application message: dropped after the next commit
	// Auth is the epoch authenticator after a handshake op, checked on replay.
	Auth []byte `json:"auth,omitempty"`

	GroupID  []byte      `json:"group_id,omitempty"` // create
	Identity []byte      `json:"identity,omitempty"` // create
	KP       *kpRecord   `json:"kp,omitempty"`       // join
	Msg      []byte      `json:"msg,omitempty"`      // join (Welcome), process
	Commit   *commitSpec `json:"commit,omitempty"`   // commit
	AAD      []byte      `json:"aad,omitempty"`      // protect
	Plain    []byte      `json:"plain,omitempty"`    // protect
	Proposal *commitSpec `json:"proposal,omitempty"` // propose (one remove)
}

// kpRecord is a KeyPackage with its private keys.
type kpRecord struct {
	Message        []byte `json:"message"`
	InitPriv       []byte `json:"init_priv"`
	EncryptionPriv []byte `json:"encryption_priv"`
	SignaturePriv  []byte `json:"signature_priv"`
}

// opRand is the randomness of one operation: optionally the device's Ed25519
// seed first (so that the engine's "fresh" signature key is the device key,
// see newLeafRand), then a ChaCha20 key stream of the op's seed.
type opRand struct {
	prefix []byte
	c      *chacha20.Cipher
}

func (r *opRand) reset(seed, prefix []byte) {
	r.prefix = bytes.Clone(prefix)
	r.c, _ = chacha20.NewUnauthenticatedCipher(seed, make([]byte, chacha20.NonceSize))
}

func (r *opRand) Read(p []byte) (int, error) {
	if r.c == nil {
		return 0, errors.New("client: randomness used outside an operation")
	}
	n := copy(p, r.prefix)
	r.prefix = r.prefix[n:]
	rest := p[n:]
	clear(rest)
	r.c.XORKeyStream(rest, rest)
	return len(p), nil
}

// mlsGroup is a live group state with the log that rebuilds it.
type mlsGroup struct {
	g     *group.Group
	ops   []op
	rnd   *opRand
	now   time.Time
	devSK ed25519.PrivateKey
}

func newMLSGroup(devSK ed25519.PrivateKey) *mlsGroup {
	return &mlsGroup{rnd: &opRand{}, devSK: devSK}
}

func (m *mlsGroup) config() group.Config {
	return group.Config{Rand: m.rnd, Now: func() time.Time { return m.now }}
}

// result of applying an op.
type opResult struct {
	received *group.Received
	commit   *group.CommitResult
	out      []byte // protect / propose output
}

// apply runs o against the state. For opCommit it only creates the commit
// (pending); call merge after the server accepted it. On replay, commit ops
// are merged at once.
func (m *mlsGroup) apply(o *op, replay bool) (*opResult, error) {
	m.now = o.Time
	var prefix []byte
	if o.Kind == opCreate {
		prefix = m.devSK.Seed()
	}
	m.rnd.reset(o.Seed, prefix)
	defer func() { m.rnd.c = nil }()
	cfg := m.config()
	switch o.Kind {
	case opCreate:
		g, err := group.Create(cfg, cipherSuite, o.GroupID, o.Identity)
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
		g, err := group.Join(cfg, kp, o.Msg, nil)
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
		var res *group.CommitResult
		err := withDeterministicHPKE(o.Seed, func() (err error) {
			res, err = m.g.Commit(o.Commit.options())
			return err
		})
		if err != nil {
			return nil, err
		}
		if replay {
			if err := m.g.MergePendingCommit(); err != nil {
				return nil, err
			}
		}
		return &opResult{commit: res}, nil
	case opProtect:
		ct, err := m.g.Protect(o.AAD, o.Plain)
		if err != nil {
			return nil, err
		}
		return &opResult{out: ct}, nil
	case opPropose:
		msg, err := m.g.Propose(group.ProposalSpec{Type: group.ProposalRemove, RemovedIdentity: o.Proposal.RemoveIDs[0]})
		if err != nil {
			return nil, err
		}
		return &opResult{out: msg}, nil
	}
	return nil, fmt.Errorf("client: unknown group operation %q", o.Kind)
}

// record appends a successful live op to the log, compacting application
// ops of past epochs when the op changed the epoch.
func (m *mlsGroup) record(o op, epochChanged bool) {
	if epochChanged {
		kept := m.ops[:0:0]
		for _, x := range m.ops {
			if !x.App {
				kept = append(kept, x)
			}
		}
		m.ops = kept
	}
	if !o.App && m.g != nil && !m.g.Removed() {
		o.Auth = m.g.EpochAuthenticator()
	}
	m.ops = append(m.ops, o)
}

// replayGroup rebuilds a group from its log and checks the epoch authenticator.
func replayGroup(devSK ed25519.PrivateKey, ops []op, wantAuth []byte) (*mlsGroup, error) {
	m := newMLSGroup(devSK)
	for i := range ops {
		if _, err := m.apply(&ops[i], true); err != nil {
			return nil, fmt.Errorf("client: rebuilding group state (operation %d, %s): %w", i, ops[i].Kind, err)
		}
		if a := ops[i].Auth; a != nil && !m.g.Removed() && !bytes.Equal(a, m.g.EpochAuthenticator()) {
			return nil, fmt.Errorf("client: rebuilding group state: operation %d (%s) diverged", i, ops[i].Kind)
		}
	}
	m.ops = ops
	if m.g == nil {
		return nil, errors.New("client: group state has no create or join operation")
	}
	if wantAuth != nil && !m.g.Removed() && !bytes.Equal(m.g.EpochAuthenticator(), wantAuth) {
		return nil, errors.New("client: rebuilt group state diverged from the stored epoch authenticator")
	}
	return m, nil
}

// cryptoReader is crypto/rand.Reader as the process started; it is what
// this package uses for fresh seeds and TLS while the variable is swapped.
var cryptoReader = rand.Reader

// hpkeMu serializes the swap of crypto/rand.Reader in withDeterministicHPKE.
var hpkeMu sync.Mutex

// withDeterministicHPKE runs f (a Commit) with crypto/rand.Reader replaced by
// a ChaCha20 stream of seed (nonce 1, independent of the op's Config.Rand
// stream).
//
// Why: mls/suite.EncryptWithLabel draws its HPKE ephemeral keys from
// crypto/rand.Reader, not from group.Config.Rand, so a Commit with an
// UpdatePath cannot be re-created from the op log, and the epoch after it
// depends on those ciphertexts (they are in the confirmed transcript). Until
// mls/group offers state Marshal/Unmarshal (or passes Config.Rand to HPKE),
// this swap makes the commit reproducible. The seed is fresh from crypto/rand
// per op and kept only in the encrypted local store, whose holder has the
// group secrets anyway. The swap is process-wide: it is serialized by hpkeMu,
// brief (one Commit), and this package's own TLS and seeds use cryptoReader.
// Never copy this pattern; remove it when mls/group can snapshot a Group.
func withDeterministicHPKE(seed []byte, f func() error) error {
	hpkeMu.Lock()
	defer hpkeMu.Unlock()
	nonce := make([]byte, chacha20.NonceSize)
	nonce[0] = 1
	c, err := chacha20.NewUnauthenticatedCipher(seed, nonce)
	if err != nil {
		return err
	}
	orig := rand.Reader
	rand.Reader = &streamReader{c: c}
	defer func() { rand.Reader = orig }()
	return f()
}

type streamReader struct{ c *chacha20.Cipher }

func (r *streamReader) Read(p []byte) (int, error) {
	clear(p)
	r.c.XORKeyStream(p, p)
	return len(p), nil
}

// newSeed draws an op seed from r.
func newSeed(r io.Reader) ([]byte, error) {
	s := make([]byte, 32)
	_, err := io.ReadFull(r, s)
	return s, err
}
