package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/policy"
)

// With --mls the load uses real MLS (RFC 9420, suite 0x0001): each group is
// created with mls/group, members join by Welcome, application messages are
// PrivateMessages from Group.Protect, and daylightd runs its real validator
// (no --testing-only-fake-mls). Receivers do not decrypt (that would measure
// the clients, not the server): the send time is looked up by the SHA-256 of
// the ciphertext.

const mlsSuite = suite.X25519AES128GCMSHA256Ed25519

// mlsConfig makes the device's Ed25519 key the MLS signature key: mls/group
// draws the signature key seed first from Config.Rand (as client/ does).
// keepEscrow keeps each epoch's escrow secrets (--escrow).
func mlsConfig(s *sim, keepEscrow bool) group.Config {
	return group.Config{Rand: io.MultiReader(bytes.NewReader(s.sig.Key.Seed()), rand.Reader), KeepEscrowSecrets: keepEscrow}
}

// mlsState is the per-client MLS group and the shared send-time table.
type mlsState struct {
	mu sync.Mutex
	g  *group.Group
	// escrowEpoch is the epoch this member last saw a correct escrow record
	// of (valid when escrowed).
	escrowed    bool
	escrowEpoch uint64
}

type sentTable struct{ m sync.Map }

func (t *sentTable) put(msg []byte, at time.Time) { t.m.Store(sha256.Sum256(msg), at) }

func (t *sentTable) take(msg []byte) (time.Time, bool) {
	v, ok := t.m.Load(sha256.Sum256(msg))
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// setupMLSGroup creates a real MLS group of members on the server.
func setupMLSGroup(ctx context.Context, members []*sim, gid []byte, keepEscrow bool) error {
	owner := members[0]
	g, err := group.Create(mlsConfig(owner, keepEscrow), mlsSuite, gid, ds.Identity(owner.sig.Username, owner.sig.Device))
	if err != nil {
		return fmt.Errorf("mls create: %w", err)
	}
	gi, _, err := g.GroupInfo(false)
	if err != nil {
		return err
	}
	if _, err := owner.c.CreateGroup(ctx, gi); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	owner.mls = &mlsState{g: g}
	if len(members) == 1 {
		return nil
	}
	kps := make([]*group.KeyPackageBundle, len(members))
	var specs []group.ProposalSpec
	for i, m := range members[1:] {
		kp, err := group.NewKeyPackage(mlsConfig(m, keepEscrow), mlsSuite, ds.Identity(m.sig.Username, m.sig.Device))
		if err != nil {
			return err
		}
		kps[i+1] = kp
		specs = append(specs, group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: kp.Message})
	}
	res, err := g.Commit(group.CommitOptions{ByValue: specs})
	if err != nil {
		return fmt.Errorf("mls commit: %w", err)
	}
	if _, err := owner.c.SendCommit(ctx, res.Commit, res.Welcome); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := g.MergePendingCommit(); err != nil {
		return err
	}
	for i, m := range members[1:] {
		jg, err := group.Join(mlsConfig(m, keepEscrow), kps[i+1], res.Welcome, nil)
		if err != nil {
			return fmt.Errorf("mls join: %w", err)
		}
		m.mls = &mlsState{g: jg}
	}
	return nil
}

// mlsMessage is what a client does to send payload: with escrow, make sure
// the epoch's record is on the DS first; with franking, commit to the
// payload (franking.Protect, the commitment as authenticated_data, as
// client/franking.go does); then encrypt the PrivateMessage.
func (s *sim) mlsMessage(ctx context.Context, payload []byte, frank bool, pol *policy.Verified) ([]byte, bool, error) {
	m := s.mls
	m.mu.Lock()
	defer m.mu.Unlock()
	var uploaded bool
	if pol != nil {
		var err error
		if uploaded, err = s.ensureEscrow(ctx, pol); err != nil {
			return nil, false, err
		}
	}
	if !frank {
		msg, err := m.g.Protect(nil, payload)
		return msg, uploaded, err
	}
	content, cm, err := franking.Protect(rand.Reader, s.gid, ds.StampSender(ds.Principal{Username: s.sig.Username, Device: s.sig.Device}), payload)
	if err != nil {
		return nil, false, err
	}
	msg, err := m.g.Protect(cm[:], content)
	return msg, uploaded, err
}

// groupSim is one group of the load: its members, and the epoch lock that
// keeps application messages out of the window in which a commit changes
// the epoch (senders hold it for reading from protect to receipt).
type groupSim struct {
	members []*sim
	epoch   sync.RWMutex
	sent    atomic.Int64
}
