package mlsclient

import (
	"context"
	"fmt"

	pb "github.com/daylight-im/daylight/internal/interop/mlspb"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// reinit is a member of a group that committed a ReInit, waiting for the new group.
type reinit struct {
	old    *member
	bundle *group.KeyPackageBundle // for the new group
}

// ReInitProposal implements the ReInitProposal RPC.
func (s *Server) ReInitProposal(_ context.Context, req *pb.ReInitProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("ReInitProposal", req.StateId, group.ProposalSpec{Type: group.ProposalReInit, GroupID: req.GroupId, CipherSuite: suite.ID(req.CipherSuite), Extensions: extensions(req.Extensions)})
}

// ReInitCommit implements the ReInitCommit RPC (a Commit of the ReInit by reference).
func (s *Server) ReInitCommit(ctx context.Context, req *pb.CommitRequest) (*pb.CommitResponse, error) {
	return s.Commit(ctx, req)
}

// afterReInit makes the KeyPackage for the new group once the ReInit is merged.
func (s *Server) afterReInit(op string, m *member) (*pb.HandleReInitCommitResponse, error) {
	_, cs, _, ok := m.g.ReInitParams()
	if !ok {
		return nil, invalid(op, fmt.Errorf("the commit carried no ReInit"))
	}
	b, err := group.NewKeyPackage(s.groupConfig(false, nil), cs, m.g.Members()[m.g.LeafIndex()])
	if err != nil {
		return nil, s.fail(op, err)
	}
	id := s.newID()
	s.reinits[id] = &reinit{old: m, bundle: b}
	return &pb.HandleReInitCommitResponse{ReinitId: id, KeyPackage: b.Message, EpochAuthenticator: m.g.EpochAuthenticator()}, nil
}

// HandlePendingReInitCommit implements the HandlePendingReInitCommit RPC.
func (s *Server) HandlePendingReInitCommit(_ context.Context, req *pb.HandlePendingCommitRequest) (*pb.HandleReInitCommitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("HandlePendingReInitCommit", req.StateId)
	if err != nil {
		return nil, err
	}
	if err := m.g.MergePendingCommit(); err != nil {
		return nil, s.fail("HandlePendingReInitCommit", err)
	}
	return s.afterReInit("HandlePendingReInitCommit", m)
}

// HandleReInitCommit implements the HandleReInitCommit RPC.
func (s *Server) HandleReInitCommit(_ context.Context, req *pb.HandleCommitRequest) (*pb.HandleReInitCommitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("HandleReInitCommit", req.StateId)
	if err != nil {
		return nil, err
	}
	if err := s.handleCommit("HandleReInitCommit", m, req); err != nil {
		return nil, err
	}
	return s.afterReInit("HandleReInitCommit", m)
}

// ReInitWelcome implements the ReInitWelcome RPC.
func (s *Server) ReInitWelcome(_ context.Context, req *pb.ReInitWelcomeRequest) (*pb.CreateSubgroupResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reinits[req.ReinitId]
	if !ok {
		return nil, notFound("ReInitWelcome", "reinit id", req.ReinitId)
	}
	cfg := s.groupConfig(r.old.encrypt, r.old.psks)
	ng, res, err := r.old.g.ReInitWelcome(cfg, group.SubgroupOptions{KeyPackages: req.KeyPackage, ForcePath: req.ForcePath, ExternalTree: req.ExternalTree})
	if err != nil {
		return nil, s.fail("ReInitWelcome", err)
	}
	id := s.newID()
	s.states[id] = &member{g: ng, psks: r.old.psks, encrypt: r.old.encrypt}
	return &pb.CreateSubgroupResponse{StateId: id, Welcome: res.Welcome, RatchetTree: res.RatchetTree, EpochAuthenticator: ng.EpochAuthenticator()}, nil
}

// HandleReInitWelcome implements the HandleReInitWelcome RPC.
func (s *Server) HandleReInitWelcome(_ context.Context, req *pb.HandleReInitWelcomeRequest) (*pb.JoinGroupResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reinits[req.ReinitId]
	if !ok {
		return nil, notFound("HandleReInitWelcome", "reinit id", req.ReinitId)
	}
	ng, err := group.JoinSubgroup(s.groupConfig(r.old.encrypt, r.old.psks), r.bundle, req.Welcome, req.RatchetTree, r.old.g)
	if err != nil {
		return nil, s.fail("HandleReInitWelcome", err)
	}
	id := s.newID()
	s.states[id] = &member{g: ng, psks: r.old.psks, encrypt: r.old.encrypt}
	return &pb.JoinGroupResponse{StateId: id, EpochAuthenticator: ng.EpochAuthenticator()}, nil
}

// CreateBranch implements the CreateBranch RPC.
func (s *Server) CreateBranch(_ context.Context, req *pb.CreateBranchRequest) (*pb.CreateSubgroupResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("CreateBranch", req.StateId)
	if err != nil {
		return nil, err
	}
	ng, res, err := m.g.Branch(s.groupConfig(m.encrypt, m.psks), group.SubgroupOptions{GroupID: req.GroupId, Extensions: extensions(req.Extensions), KeyPackages: req.KeyPackages, ForcePath: req.ForcePath, ExternalTree: req.ExternalTree})
	if err != nil {
		return nil, s.fail("CreateBranch", err)
	}
	id := s.newID()
	s.states[id] = &member{g: ng, psks: m.psks, encrypt: m.encrypt}
	return &pb.CreateSubgroupResponse{StateId: id, Welcome: res.Welcome, RatchetTree: res.RatchetTree, EpochAuthenticator: ng.EpochAuthenticator()}, nil
}

// HandleBranch implements the HandleBranch RPC.
func (s *Server) HandleBranch(_ context.Context, req *pb.HandleBranchRequest) (*pb.HandleBranchResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("HandleBranch", req.StateId)
	if err != nil {
		return nil, err
	}
	j, ok := s.joins[req.TransactionId]
	if !ok {
		return nil, notFound("HandleBranch", "transaction id", req.TransactionId)
	}
	ng, err := group.JoinSubgroup(s.groupConfig(m.encrypt, m.psks), j.bundle, req.Welcome, req.RatchetTree, m.g)
	if err != nil {
		return nil, s.fail("HandleBranch", err)
	}
	id := s.newID()
	s.states[id] = &member{g: ng, psks: m.psks, encrypt: m.encrypt}
	return &pb.HandleBranchResponse{StateId: id, EpochAuthenticator: ng.EpochAuthenticator()}, nil
}
