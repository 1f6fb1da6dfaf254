package mlsclient

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/daylight-im/daylight/internal/interop/mlspb"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// join is a pending join: a KeyPackage with its private keys, waiting for a Welcome.
type join struct {
	bundle *group.KeyPackageBundle
	psks   group.PSKStore
}

// member is one group state the runner refers to by state id.
type member struct {
	g       *group.Group
	psks    group.PSKStore
	encrypt bool
	pending bool // a Commit was created and awaits HandlePendingCommit
}

// state returns the member for id, or a NotFound status.
func (s *Server) state(op string, id uint32) (*member, error) {
	m, ok := s.states[id]
	if !ok {
		return nil, notFound(op, "state id", id)
	}
	return m, nil
}

func (s *Server) newID() uint32 {
	s.nextID++
	return s.nextID
}

func (s *Server) groupConfig(encrypt bool, psks group.PSKStore) group.Config {
	return group.Config{Rand: s.rand, Now: s.now, EncryptHandshake: encrypt, PSKs: psks}
}

// fail converts an engine error into a gRPC status naming the operation.
func (s *Server) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	s.log.Info("rpc failed", "op", op, "err", err)
	if errors.Is(err, group.ErrUnsupported) {
		return status.Errorf(codes.Unimplemented, "daylight: %s: %v", op, err)
	}
	return status.Errorf(codes.InvalidArgument, "daylight: %s: %v", op, err)
}

func suiteID(op string, cs uint32) (suite.ID, error) {
	if cs > 0xffff {
		return 0, status.Errorf(codes.InvalidArgument, "daylight: %s: cipher suite %d out of range", op, cs)
	}
	return suite.ID(cs), nil
}

// CreateGroup implements the CreateGroup RPC.
func (s *Server) CreateGroup(_ context.Context, req *pb.CreateGroupRequest) (*pb.CreateGroupResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := suiteID("CreateGroup", req.CipherSuite)
	if err != nil {
		return nil, err
	}
	psks := group.PSKStore{}
	g, err := group.Create(s.groupConfig(req.EncryptHandshake, psks), cs, req.GroupId, req.Identity)
	if err != nil {
		return nil, s.fail("CreateGroup", err)
	}
	id := s.newID()
	s.states[id] = &member{g: g, psks: psks, encrypt: req.EncryptHandshake}
	return &pb.CreateGroupResponse{StateId: id}, nil
}

// CreateKeyPackage implements the CreateKeyPackage RPC.
func (s *Server) CreateKeyPackage(_ context.Context, req *pb.CreateKeyPackageRequest) (*pb.CreateKeyPackageResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := suiteID("CreateKeyPackage", req.CipherSuite)
	if err != nil {
		return nil, err
	}
	b, err := group.NewKeyPackage(s.groupConfig(false, nil), cs, req.Identity)
	if err != nil {
		return nil, s.fail("CreateKeyPackage", err)
	}
	id := s.newID()
	s.joins[id] = &join{bundle: b, psks: group.PSKStore{}}
	return &pb.CreateKeyPackageResponse{
		TransactionId:  id,
		KeyPackage:     b.Message,
		InitPriv:       b.InitPriv,
		EncryptionPriv: b.EncryptionPriv,
		SignaturePriv:  b.SignaturePriv,
	}, nil
}

// JoinGroup implements the JoinGroup RPC.
func (s *Server) JoinGroup(_ context.Context, req *pb.JoinGroupRequest) (*pb.JoinGroupResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.joins[req.TransactionId]
	if !ok {
		return nil, notFound("JoinGroup", "transaction id", req.TransactionId)
	}
	g, err := group.Join(s.groupConfig(req.EncryptHandshake, j.psks), j.bundle, req.Welcome, req.RatchetTree)
	if err != nil {
		return nil, s.fail("JoinGroup", err)
	}
	id := s.newID()
	s.states[id] = &member{g: g, psks: j.psks, encrypt: req.EncryptHandshake}
	return &pb.JoinGroupResponse{StateId: id, EpochAuthenticator: g.EpochAuthenticator()}, nil
}

// ExternalJoin implements the ExternalJoin RPC.
func (s *Server) ExternalJoin(_ context.Context, req *pb.ExternalJoinRequest) (*pb.ExternalJoinResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	psks := group.PSKStore{}
	var ids [][]byte
	for _, p := range req.Psks {
		psks.Add(p.PskId, p.PskSecret)
		ids = append(ids, p.PskId)
	}
	g, commit, err := group.ExternalJoin(s.groupConfig(req.EncryptHandshake, psks), req.GroupInfo, group.ExternalJoinOptions{
		RatchetTree: req.RatchetTree,
		Identity:    req.Identity,
		RemovePrior: req.RemovePrior,
		PSKIDs:      ids,
	})
	if err != nil {
		return nil, s.fail("ExternalJoin", err)
	}
	id := s.newID()
	s.states[id] = &member{g: g, psks: psks, encrypt: req.EncryptHandshake}
	return &pb.ExternalJoinResponse{StateId: id, Commit: commit, EpochAuthenticator: g.EpochAuthenticator()}, nil
}

// GroupInfo implements the GroupInfo RPC.
func (s *Server) GroupInfo(_ context.Context, req *pb.GroupInfoRequest) (*pb.GroupInfoResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("GroupInfo", req.StateId)
	if err != nil {
		return nil, err
	}
	gi, tree, err := m.g.GroupInfo(req.ExternalTree)
	if err != nil {
		return nil, s.fail("GroupInfo", err)
	}
	return &pb.GroupInfoResponse{GroupInfo: gi, RatchetTree: tree}, nil
}

// StateAuth implements the StateAuth RPC: the epoch authenticator.
func (s *Server) StateAuth(_ context.Context, req *pb.StateAuthRequest) (*pb.StateAuthResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("StateAuth", req.StateId)
	if err != nil {
		return nil, err
	}
	return &pb.StateAuthResponse{StateAuthSecret: m.g.EpochAuthenticator()}, nil
}

// Export implements the Export RPC (MLS-Exporter, RFC 9420 Section 8.5).
func (s *Server) Export(_ context.Context, req *pb.ExportRequest) (*pb.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("Export", req.StateId)
	if err != nil {
		return nil, err
	}
	out, err := m.g.Export(req.Label, req.Context, int(req.KeyLength))
	if err != nil {
		return nil, s.fail("Export", err)
	}
	return &pb.ExportResponse{ExportedSecret: out}, nil
}

// Protect implements the Protect RPC.
func (s *Server) Protect(_ context.Context, req *pb.ProtectRequest) (*pb.ProtectResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("Protect", req.StateId)
	if err != nil {
		return nil, err
	}
	ct, err := m.g.Protect(req.AuthenticatedData, req.Plaintext)
	if err != nil {
		return nil, s.fail("Protect", err)
	}
	return &pb.ProtectResponse{Ciphertext: ct}, nil
}

// Unprotect implements the Unprotect RPC.
func (s *Server) Unprotect(_ context.Context, req *pb.UnprotectRequest) (*pb.UnprotectResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("Unprotect", req.StateId)
	if err != nil {
		return nil, err
	}
	r, err := m.g.Process(req.Ciphertext)
	if err != nil {
		return nil, s.fail("Unprotect", err)
	}
	if r.Kind != group.KindApplication {
		return nil, status.Errorf(codes.InvalidArgument, "daylight: Unprotect: message is a %v, not application data", r.Kind)
	}
	return &pb.UnprotectResponse{AuthenticatedData: r.AuthenticatedData, Plaintext: r.ApplicationData}, nil
}

// StorePSK implements the StorePSK RPC: the id may name a state or a pending join.
func (s *Server) StorePSK(_ context.Context, req *pb.StorePSKRequest) (*pb.StorePSKResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.states[req.StateOrTransactionId]; ok {
		m.psks.Add(req.PskId, req.PskSecret)
		return &pb.StorePSKResponse{}, nil
	}
	if j, ok := s.joins[req.StateOrTransactionId]; ok {
		j.psks.Add(req.PskId, req.PskSecret)
		return &pb.StorePSKResponse{}, nil
	}
	return nil, notFound("StorePSK", "state or transaction id", req.StateOrTransactionId)
}

func (s *Server) propose(op string, id uint32, p group.ProposalSpec) (*pb.ProposalResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state(op, id)
	if err != nil {
		return nil, err
	}
	msg, err := m.g.Propose(p)
	if err != nil {
		return nil, s.fail(op, err)
	}
	return &pb.ProposalResponse{Proposal: msg}, nil
}

// AddProposal implements the AddProposal RPC.
func (s *Server) AddProposal(_ context.Context, req *pb.AddProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("AddProposal", req.StateId, group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: req.KeyPackage})
}

// UpdateProposal implements the UpdateProposal RPC.
func (s *Server) UpdateProposal(_ context.Context, req *pb.UpdateProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("UpdateProposal", req.StateId, group.ProposalSpec{Type: group.ProposalUpdate})
}

// RemoveProposal implements the RemoveProposal RPC; removed_id is the member's identity.
func (s *Server) RemoveProposal(_ context.Context, req *pb.RemoveProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("RemoveProposal", req.StateId, group.ProposalSpec{Type: group.ProposalRemove, RemovedIdentity: req.RemovedId})
}

// ExternalPSKProposal implements the ExternalPSKProposal RPC.
func (s *Server) ExternalPSKProposal(_ context.Context, req *pb.ExternalPSKProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("ExternalPSKProposal", req.StateId, group.ProposalSpec{Type: group.ProposalExternalPSK, PSKID: req.PskId})
}

// ResumptionPSKProposal implements the ResumptionPSKProposal RPC.
func (s *Server) ResumptionPSKProposal(_ context.Context, req *pb.ResumptionPSKProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("ResumptionPSKProposal", req.StateId, group.ProposalSpec{Type: group.ProposalResumptionPSK, Epoch: req.EpochId})
}

// GroupContextExtensionsProposal implements the GroupContextExtensionsProposal RPC.
func (s *Server) GroupContextExtensionsProposal(_ context.Context, req *pb.GroupContextExtensionsProposalRequest) (*pb.ProposalResponse, error) {
	return s.propose("GroupContextExtensionsProposal", req.StateId, group.ProposalSpec{Type: group.ProposalGroupContextExtensions, Extensions: extensions(req.Extensions)})
}

func extensions(in []*pb.Extension) []group.Extension {
	out := make([]group.Extension, 0, len(in))
	for _, e := range in {
		out = append(out, group.Extension{Type: uint16(e.ExtensionType), Data: e.ExtensionData})
	}
	return out
}

// description converts a by-value ProposalDescription.
func description(d *pb.ProposalDescription) (group.ProposalSpec, error) {
	switch string(d.ProposalType) {
	case "add":
		return group.ProposalSpec{Type: group.ProposalAdd, KeyPackage: d.KeyPackage}, nil
	case "remove":
		return group.ProposalSpec{Type: group.ProposalRemove, RemovedIdentity: d.RemovedId}, nil
	case "externalPSK":
		return group.ProposalSpec{Type: group.ProposalExternalPSK, PSKID: d.PskId}, nil
	case "resumptionPSK":
		return group.ProposalSpec{Type: group.ProposalResumptionPSK, Epoch: d.EpochId}, nil
	case "groupContextExtensions":
		return group.ProposalSpec{Type: group.ProposalGroupContextExtensions, Extensions: extensions(d.Extensions)}, nil
	case "reinit":
		return group.ProposalSpec{Type: group.ProposalReInit, GroupID: d.GroupId, CipherSuite: suite.ID(d.CipherSuite), Extensions: extensions(d.Extensions)}, nil
	}
	return group.ProposalSpec{}, fmt.Errorf("unknown proposal type %q", d.ProposalType)
}

// Commit implements the Commit RPC: process the by-reference proposals, then commit
// them together with the by-value ones. The new epoch is entered by HandlePendingCommit.
func (s *Server) Commit(_ context.Context, req *pb.CommitRequest) (*pb.CommitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("Commit", req.StateId)
	if err != nil {
		return nil, err
	}
	return s.commit("Commit", m, req)
}

func (s *Server) commit(op string, m *member, req *pb.CommitRequest) (*pb.CommitResponse, error) {
	for i, p := range req.ByReference {
		if err := m.g.ReceiveProposal(p); err != nil {
			return nil, s.fail(op, fmt.Errorf("by_reference[%d]: %w", i, err))
		}
	}
	opts := group.CommitOptions{ForcePath: req.ForcePath, ExternalTree: req.ExternalTree}
	for i, d := range req.ByValue {
		p, err := description(d)
		if err != nil {
			return nil, invalid(op, fmt.Errorf("by_value[%d]: %w", i, err))
		}
		opts.ByValue = append(opts.ByValue, p)
	}
	res, err := m.g.Commit(opts)
	if err != nil {
		return nil, s.fail(op, err)
	}
	m.pending = true
	return &pb.CommitResponse{Commit: res.Commit, Welcome: res.Welcome, RatchetTree: res.RatchetTree}, nil
}

// HandleCommit implements the HandleCommit RPC.
func (s *Server) HandleCommit(_ context.Context, req *pb.HandleCommitRequest) (*pb.HandleCommitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("HandleCommit", req.StateId)
	if err != nil {
		return nil, err
	}
	if err := s.handleCommit("HandleCommit", m, req); err != nil {
		return nil, err
	}
	return &pb.HandleCommitResponse{StateId: req.StateId, EpochAuthenticator: m.g.EpochAuthenticator()}, nil
}

func (s *Server) handleCommit(op string, m *member, req *pb.HandleCommitRequest) error {
	for i, p := range req.Proposal {
		if err := m.g.ReceiveProposal(p); err != nil {
			return s.fail(op, fmt.Errorf("proposal[%d]: %w", i, err))
		}
	}
	r, err := m.g.Process(req.Commit)
	if err != nil {
		return s.fail(op, err)
	}
	if r.Kind != group.KindCommit {
		return status.Errorf(codes.InvalidArgument, "daylight: %s: message is a %v, not a commit", op, r.Kind)
	}
	if err := m.g.Merge(r.Staged); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// HandlePendingCommit implements the HandlePendingCommit RPC.
func (s *Server) HandlePendingCommit(_ context.Context, req *pb.HandlePendingCommitRequest) (*pb.HandleCommitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("HandlePendingCommit", req.StateId)
	if err != nil {
		return nil, err
	}
	if err := m.g.MergePendingCommit(); err != nil {
		return nil, s.fail("HandlePendingCommit", err)
	}
	m.pending = false
	return &pb.HandleCommitResponse{StateId: req.StateId, EpochAuthenticator: m.g.EpochAuthenticator()}, nil
}

// Free implements the Free RPC.
func (s *Server) Free(_ context.Context, req *pb.FreeRequest) (*pb.FreeResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.states, req.StateId)
	return &pb.FreeResponse{}, nil
}
