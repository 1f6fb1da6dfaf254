package mlsclient

import (
	"context"

	pb "github.com/daylight-im/daylight/internal/interop/mlspb"
	"github.com/daylight-im/daylight/mls/group"
)

// NewMemberAddProposal implements the NewMemberAddProposal RPC.
func (s *Server) NewMemberAddProposal(_ context.Context, req *pb.NewMemberAddProposalRequest) (*pb.NewMemberAddProposalResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, msg, err := group.NewMemberAddProposal(s.groupConfig(false, nil), req.GroupInfo, req.Identity)
	if err != nil {
		return nil, s.fail("NewMemberAddProposal", err)
	}
	id := s.newID()
	s.joins[id] = &join{bundle: b, psks: group.PSKStore{}}
	return &pb.NewMemberAddProposalResponse{TransactionId: id, Proposal: msg, InitPriv: b.InitPriv, EncryptionPriv: b.EncryptionPriv, SignaturePriv: b.SignaturePriv}, nil
}

// CreateExternalSigner implements the CreateExternalSigner RPC.
func (s *Server) CreateExternalSigner(_ context.Context, req *pb.CreateExternalSignerRequest) (*pb.CreateExternalSignerResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, err := suiteID("CreateExternalSigner", req.CipherSuite)
	if err != nil {
		return nil, err
	}
	x, err := group.NewExternalSigner(s.groupConfig(false, nil), cs, req.Identity)
	if err != nil {
		return nil, s.fail("CreateExternalSigner", err)
	}
	id := s.newID()
	s.signers[id] = x
	return &pb.CreateExternalSignerResponse{SignerId: id, ExternalSender: x.ExternalSender()}, nil
}

// AddExternalSigner implements the AddExternalSigner RPC: a GroupContextExtensions
// proposal appending the signer to external_senders.
func (s *Server) AddExternalSigner(_ context.Context, req *pb.AddExternalSignerRequest) (*pb.ProposalResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.state("AddExternalSigner", req.StateId)
	if err != nil {
		return nil, err
	}
	msg, err := m.g.ProposeAddExternalSender(req.ExternalSender)
	if err != nil {
		return nil, s.fail("AddExternalSigner", err)
	}
	return &pb.ProposalResponse{Proposal: msg}, nil
}

// ExternalSignerProposal implements the ExternalSignerProposal RPC.
func (s *Server) ExternalSignerProposal(_ context.Context, req *pb.ExternalSignerProposalRequest) (*pb.ProposalResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.signers[req.SignerId]
	if !ok {
		return nil, notFound("ExternalSignerProposal", "signer id", req.SignerId)
	}
	if req.Description == nil {
		return nil, invalid("ExternalSignerProposal", errNoDescription)
	}
	spec, err := description(req.Description)
	if err != nil {
		return nil, invalid("ExternalSignerProposal", err)
	}
	msg, err := x.Propose(req.GroupInfo, req.RatchetTree, spec)
	if err != nil {
		return nil, s.fail("ExternalSignerProposal", err)
	}
	return &pb.ProposalResponse{Proposal: msg}, nil
}
