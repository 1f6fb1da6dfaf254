package group

import (
	"bytes"
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
)

// ReInitParams returns the parameters of the ReInit proposal the last merged
// Commit carried (RFC 9420, Section 11.2); ok is false if there was none.
func (g *Group) ReInitParams() (groupID []byte, cs suite.ID, exts []Extension, ok bool) {
	if g.reinit == nil {
		return nil, 0, nil, false
	}
	return clone(g.reinit.GroupID), suite.ID(g.reinit.CipherSuite), fromWireExtensions(g.reinit.Extensions), true
}

// ownIdentity is this member's basic credential identity.
func (g *Group) ownIdentity() []byte { return clone(g.tree.identity(g.own)) }

// SubgroupOptions configures Branch and ReInitWelcome.
type SubgroupOptions struct {
	GroupID      []byte
	CipherSuite  suite.ID // ReInit only; Branch keeps the group's suite
	Extensions   []Extension
	KeyPackages  [][]byte // MLSMessage(KeyPackage) of the other members
	ForcePath    bool
	ExternalTree bool
}

// Branch creates a subgroup of this group with the given members' KeyPackages,
// bound to this group by a resumption PSK with usage branch (RFC 9420, Section
// 11.3). It returns the new group (in epoch 1) and its Welcome.
func (g *Group) Branch(cfg Config, opts SubgroupOptions) (*Group, *CommitResult, error) {
	if err := g.checkActive("Branch"); err != nil {
		return nil, nil, err
	}
	opts.CipherSuite = g.cs.ID()
	return g.subgroup(cfg, opts, usageBranch)
}

// ReInitWelcome creates the group that replaces this one after a ReInit commit
// (RFC 9420, Section 11.2) with the members' new KeyPackages, and its Welcome.
func (g *Group) ReInitWelcome(cfg Config, opts SubgroupOptions) (*Group, *CommitResult, error) {
	id, cs, exts, ok := g.ReInitParams()
	if !ok {
		return nil, nil, fmt.Errorf("mls/group: ReInitWelcome: %w: no ReInit was committed", ErrInvalid)
	}
	opts.GroupID, opts.CipherSuite, opts.Extensions = id, cs, exts
	return g.subgroup(cfg, opts, usageReinit)
}

func (g *Group) subgroup(cfg Config, opts SubgroupOptions, usage uint8) (*Group, *CommitResult, error) {
	ng, err := Create(cfg, opts.CipherSuite, opts.GroupID, g.ownIdentity())
	if err != nil {
		return nil, nil, err
	}
	ng.pskSource = g
	var specs []ProposalSpec
	if len(opts.Extensions) > 0 {
		specs = append(specs, ProposalSpec{Type: ProposalGroupContextExtensions, Extensions: opts.Extensions})
	}
	for _, kp := range opts.KeyPackages {
		specs = append(specs, ProposalSpec{Type: ProposalAdd, KeyPackage: kp})
	}
	specs = append(specs, ProposalSpec{Type: ProposalResumptionPSK, Epoch: g.ctx.Epoch, pskUsage: usage, pskGroupID: g.GroupID()})
	res, err := ng.Commit(CommitOptions{ByValue: specs, ForcePath: opts.ForcePath, ExternalTree: opts.ExternalTree})
	if err != nil {
		return nil, nil, err
	}
	if err := ng.MergePendingCommit(); err != nil {
		return nil, nil, err
	}
	return ng, res, nil
}

// JoinSubgroup joins a branch or reinitialised group from its Welcome; old is this
// client's state of the original group, which holds the resumption PSK (RFC 9420,
// Sections 11.2, 11.3). Every member of the new group must be a member of the old
// one (same identity), and the new group must be in epoch 1.
func JoinSubgroup(cfg Config, kp *KeyPackageBundle, welcomeMsg, ratchetTree []byte, old *Group) (*Group, error) {
	g, err := join(cfg, kp, welcomeMsg, ratchetTree, old)
	if err != nil {
		return nil, fmt.Errorf("mls/group: JoinSubgroup: %w", err)
	}
	if g.ctx.Epoch != 1 {
		return nil, fmt.Errorf("mls/group: JoinSubgroup: %w: new group is in epoch %d, want 1", ErrInvalid, g.ctx.Epoch)
	}
	for _, l := range g.tree.leaves() {
		id := g.tree.identity(l)
		found := false
		for _, ol := range old.tree.leaves() {
			if bytes.Equal(old.tree.identity(ol), id) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("mls/group: JoinSubgroup: %w: leaf %d is not a member of the original group", ErrInvalid, l)
		}
	}
	return g, nil
}
