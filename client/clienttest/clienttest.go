// Package clienttest helps the client's tests run a complete daylight
// server in-process (ds over SQLite with server's HTTP adapter, assembled in
// the tests: client packages may not import server).
//
// mls/group does not export PublicGroup yet, so the DS's group validation is
// provided here by TestingOnlyRoutingEngine: it tracks epochs and the member
// list from the public handshake messages (enough for ordering, stale-epoch
// conflicts and fan-out) but verifies no signature or tag. It is for tests
// only; daylightd must use the real PublicGroup.
package clienttest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// NewValidator returns a ds.GroupValidator for tests: ds/mlsvalidator
// (real Inspect and KeyPackage checks) over TestingOnlyRoutingEngine.
func NewValidator() ds.GroupValidator { return mlsvalidator.New(TestingOnlyRoutingEngine{}) }

// TestingOnlyRoutingEngine is a mlsvalidator.PublicEngine that follows
// membership without verifying anything. Never use it outside tests.
type TestingOnlyRoutingEngine struct{}

type leaf struct {
	Identity []byte `json:"i"`
	SigKey   []byte `json:"k"`
}

type state struct {
	GroupID   []byte            `json:"g"`
	Epoch     uint64            `json:"e"`
	Leaves    []*leaf           `json:"l"`
	Proposals map[string][]byte `json:"p"` // hex ProposalRef -> Proposal
}

func (s *state) public() (ds.PublicState, error) {
	b, err := json.Marshal(s)
	ps := ds.PublicState{GroupID: s.GroupID, Epoch: s.Epoch, Opaque: b}
	for i, l := range s.Leaves {
		if l != nil {
			ps.Members = append(ps.Members, ds.Member{Leaf: uint32(i), Identity: l.Identity, SignatureKey: l.SigKey})
		}
	}
	return ps, err
}

// NewGroup reads the members from the GroupInfo's ratchet_tree extension.
func (TestingOnlyRoutingEngine) NewGroup(b []byte) (ds.PublicState, error) {
	var gi *wire.GroupInfo
	if m, err := wire.ParseMLSMessage(b); err == nil && m.GroupInfo != nil {
		gi = m.GroupInfo
	} else if gi, err = wire.ParseGroupInfo(b); err != nil {
		return ds.PublicState{}, fmt.Errorf("GroupInfo: %v: %w", err, ds.ErrInvalidMessage)
	}
	ext, ok := gi.Extensions.Find(wire.ExtensionTypeRatchetTree)
	if !ok {
		return ds.PublicState{}, fmt.Errorf("GroupInfo: no ratchet_tree: %w", ds.ErrInvalidMessage)
	}
	tree, err := wire.ParseRatchetTree(ext)
	if err != nil {
		return ds.PublicState{}, fmt.Errorf("ratchet_tree: %v: %w", err, ds.ErrInvalidMessage)
	}
	s := &state{GroupID: gi.GroupContext.GroupID, Epoch: gi.GroupContext.Epoch, Proposals: map[string][]byte{}}
	for i := 0; i < len(tree); i += 2 {
		var l *leaf
		if n := tree[i]; n != nil && n.Leaf != nil {
			l = &leaf{Identity: n.Leaf.Credential.Identity, SigKey: n.Leaf.SignatureKey}
		}
		s.Leaves = append(s.Leaves, l)
	}
	return s.public()
}

// Apply follows Add, Remove and Update proposals (by value or reference).
func (TestingOnlyRoutingEngine) Apply(raw, msg []byte) (ds.Verdict, error) {
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return ds.Verdict{}, err
	}
	m, err := wire.ParseMLSMessage(msg)
	if err != nil || m.Public == nil {
		return ds.Verdict{}, fmt.Errorf("handshake must be a PublicMessage: %w", ds.ErrInvalidMessage)
	}
	c := m.Public.Content
	if c.Epoch != s.Epoch {
		return ds.Verdict{}, fmt.Errorf("epoch %d, group at %d: %w", c.Epoch, s.Epoch, ds.ErrStaleEpoch)
	}
	if c.Sender.Type != wire.SenderTypeMember || int(c.Sender.Index) >= len(s.Leaves) || s.Leaves[c.Sender.Index] == nil {
		return ds.Verdict{}, fmt.Errorf("sender: %w", ds.ErrNotMember)
	}
	sl := s.Leaves[c.Sender.Index]
	v := ds.Verdict{Sender: ds.Member{Leaf: c.Sender.Index, Identity: sl.Identity, SignatureKey: sl.SigKey}}
	switch c.ContentType {
	case wire.ContentTypeProposal:
		ac := wire.AuthenticatedContent{WireFormat: wire.WireFormatPublicMessage, Content: c, Auth: m.Public.Auth}
		s1, _ := suite.Lookup(suite.ID(0x0001))
		ref := s1.RefHash("MLS 1.0 Proposal Reference", ac.Marshal())
		if s.Proposals == nil {
			s.Proposals = map[string][]byte{}
		}
		s.Proposals[hex.EncodeToString(ref)] = c.Proposal.Marshal()
	case wire.ContentTypeCommit:
		var props []*wire.Proposal
		for _, p := range c.Commit.Proposals {
			if p.Proposal != nil {
				props = append(props, p.Proposal)
				continue
			}
			b, ok := s.Proposals[hex.EncodeToString(p.Reference)]
			if !ok {
				return ds.Verdict{}, fmt.Errorf("unknown proposal reference: %w", ds.ErrInvalidMessage)
			}
			pr, err := wire.ParseProposal(b)
			if err != nil {
				return ds.Verdict{}, err
			}
			props = append(props, pr)
		}
		for _, p := range props {
			if p.Type == wire.ProposalTypeRemove && int(p.Removed) < len(s.Leaves) {
				s.Leaves[p.Removed] = nil
			}
		}
		for _, p := range props {
			if p.Type != wire.ProposalTypeAdd {
				continue
			}
			l := &leaf{Identity: p.KeyPackage.LeafNode.Credential.Identity, SigKey: p.KeyPackage.LeafNode.SignatureKey}
			placed := false
			for i := range s.Leaves {
				if s.Leaves[i] == nil {
					s.Leaves[i], placed = l, true
					break
				}
			}
			if !placed {
				s.Leaves = append(s.Leaves, l)
			}
		}
		for len(s.Leaves) > 0 && s.Leaves[len(s.Leaves)-1] == nil {
			s.Leaves = s.Leaves[:len(s.Leaves)-1]
		}
		s.Epoch++
		s.Proposals = map[string][]byte{}
		v.Commit = true
	default:
		return ds.Verdict{}, fmt.Errorf("content type: %w", ds.ErrInvalidMessage)
	}
	ps, err := s.public()
	v.NewState = ps
	return v, err
}
