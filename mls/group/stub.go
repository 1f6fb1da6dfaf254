package group

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
)

// KeyPackageBundle is a KeyPackage with its private keys (RFC 9420, Section 10).
type KeyPackageBundle struct {
	Message        []byte // MLSMessage(KeyPackage)
	InitPriv       []byte
	EncryptionPriv []byte
	SignaturePriv  []byte
}

// Group is one member's state of one group in one epoch.
type Group struct {
	cfg Config
}

// StagedCommit is a validated Commit, not yet merged.
type StagedCommit struct{}

func unsupported(op string) error { return fmt.Errorf("mls/group: %s: %w", op, ErrUnsupported) }

// NewKeyPackage creates a KeyPackage for identity (basic credential).
func NewKeyPackage(cfg Config, cs suite.ID, identity []byte) (*KeyPackageBundle, error) {
	return nil, unsupported("NewKeyPackage")
}

// Create creates a one-member group (RFC 9420, Section 11).
func Create(cfg Config, cs suite.ID, groupID, identity []byte) (*Group, error) {
	return nil, unsupported("Create")
}

// Join joins a group from a Welcome (RFC 9420, Section 12.4.3.1).
func Join(cfg Config, kp *KeyPackageBundle, welcome, ratchetTree []byte) (*Group, error) {
	return nil, unsupported("Join")
}

// ExternalJoin joins through an external Commit (RFC 9420, Section 12.4.3.2).
func ExternalJoin(cfg Config, groupInfo []byte, opts ExternalJoinOptions) (*Group, []byte, error) {
	return nil, nil, unsupported("ExternalJoin")
}

func (g *Group) EpochAuthenticator() []byte { return nil }

func (g *Group) Export(label string, context []byte, length int) ([]byte, error) {
	return nil, unsupported("Export")
}
func (g *Group) GroupInfo(externalTree bool) ([]byte, []byte, error) {
	return nil, nil, unsupported("GroupInfo")
}
func (g *Group) Protect(aad, plaintext []byte) ([]byte, error) { return nil, unsupported("Protect") }
func (g *Group) Process(msg []byte) (*Received, error)         { return nil, unsupported("Process") }
func (g *Group) ReceiveProposal(msg []byte) error              { return unsupported("ReceiveProposal") }
func (g *Group) Propose(p ProposalSpec) ([]byte, error)        { return nil, unsupported("Propose") }
func (g *Group) Commit(opts CommitOptions) (*CommitResult, error) {
	return nil, unsupported("Commit")
}
func (g *Group) Merge(sc *StagedCommit) error { return unsupported("Merge") }
func (g *Group) MergePendingCommit() error    { return unsupported("MergePendingCommit") }
