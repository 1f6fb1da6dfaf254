package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
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
func mlsConfig(s *sim) group.Config {
	return group.Config{Rand: io.MultiReader(bytes.NewReader(s.sig.Key.Seed()), rand.Reader)}
}

// mlsState is the per-client MLS group and the shared send-time table.
type mlsState struct {
	mu sync.Mutex
	g  *group.Group
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
func setupMLSGroup(ctx context.Context, members []*sim, gid []byte) error {
	owner := members[0]
	g, err := group.Create(mlsConfig(owner), mlsSuite, gid, ds.Identity(owner.sig.Username, owner.sig.Device))
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
		kp, err := group.NewKeyPackage(mlsConfig(m), mlsSuite, ds.Identity(m.sig.Username, m.sig.Device))
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
		jg, err := group.Join(mlsConfig(m), kps[i+1], res.Welcome, nil)
		if err != nil {
			return fmt.Errorf("mls join: %w", err)
		}
		m.mls = &mlsState{g: jg}
	}
	return nil
}

// protect encrypts payload as this member's PrivateMessage.
func (m *mlsState) protect(payload []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.g.Protect(nil, payload)
}
