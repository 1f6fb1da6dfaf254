// Package group implements an MLS group member (RFC 9420, Sections 10-12): KeyPackages,
// group creation, proposals, commits that are staged then merged, Welcome creation and
// processing, GroupInfo and external commits, PSKs, the exporter and application
// messages; and PublicGroup, the delivery server's view of a group, which validates
// handshake messages with the same code as a member.
//
// Messages cross this package's API as encoded MLSMessage bytes (RFC 9420, Section 6);
// parsed forms stay inside. A Commit that fails validation leaves the Group unchanged.
package group

import (
	"crypto/rand"
	"errors"
	"io"
	"time"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// Sentinel errors callers branch on.
var (
	// ErrUnsupported reports a valid request the engine does not implement.
	ErrUnsupported = errors.New("mls/group: not supported")
	// ErrInvalid reports a message that failed RFC 9420 validation.
	ErrInvalid = errors.New("mls/group: invalid message")
	// ErrWrongEpoch reports a handshake message for another epoch.
	ErrWrongEpoch = errors.New("mls/group: message for another epoch")
	// ErrNoPendingCommit reports MergePendingCommit without a prior Commit.
	ErrNoPendingCommit = errors.New("mls/group: no pending commit")
	// ErrUnknownPSK reports a PreSharedKeyID whose secret is not available.
	ErrUnknownPSK = errors.New("mls/group: unknown PSK")
)

// Config injects the environment of a Group.
type Config struct {
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Now returns the current time (KeyPackage lifetimes); nil means time.Now.
	Now func() time.Time
	// EncryptHandshake sends proposals and commits as PrivateMessage instead of
	// PublicMessage (RFC 9420, Section 6).
	EncryptHandshake bool
	// PSKs holds the external PSKs this client knows (Section 8.4); may be nil.
	PSKs PSKStore
	// Lifetime of KeyPackages created with this Config; zero means 90 days.
	Lifetime time.Duration
	// PadBlock pads PrivateMessage contents to a multiple of this many bytes
	// (RFC 9420, Section 6.3); 0 or 1 means no padding.
	PadBlock int
	// KeepEscrowSecrets keeps a copy of the current epoch's encryption_secret
	// (and persists it in MarshalBinary) so that EscrowSecrets can return it for
	// the lawful-access escrow record (docs/lawful-access.md). RFC 9420,
	// Section 9.2 deletes encryption_secret once the secret tree is built; a
	// deployment whose policy has escrow deviates from that for the current
	// epoch only: the copy is zeroed when the group leaves the epoch. Off by
	// default.
	KeepEscrowSecrets bool
	// CredentialValidator, if set, authenticates the credential and signature
	// key of every leaf the group accepts (RFC 9420, Sections 5.3.1 and 7.3):
	// the KeyPackage of every Add (proposed, committed or built by us), every
	// leaf of the ratchet tree a joiner receives (Join, ExternalJoin), Update
	// proposal leaves and UpdatePath leaves (member and external commits). An
	// error rejects the message or the join, wrapped in ErrInvalid (errors.Is
	// also finds the validator's own error); the state is then unchanged. It
	// may be called from several goroutines at once. nil accepts every
	// credential (the only rule is then equality of identity in resync).
	CredentialValidator func(cred *wire.Credential, signatureKey []byte) error
	// ExtensionTypes lists application extension types (beyond RFC 9420's
	// defaults) this client supports; they are advertised in the
	// capabilities.extensions of every leaf it creates (Section 7.2), which a
	// group whose GroupContext carries such an extension requires of every
	// member (Sections 11.1, 12.1.7).
	ExtensionTypes []uint16
}

func (c Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// PSKStore maps an external psk_id to its secret (RFC 9420, Section 8.4).
type PSKStore map[string][]byte

// Add records an external PSK.
func (p PSKStore) Add(id, secret []byte) { p[string(id)] = append([]byte(nil), secret...) }

// Extension is a (type, data) extension (RFC 9420, Section 13).
type Extension struct {
	Type uint16
	Data []byte
}

// ProposalType names the proposals a member can create (RFC 9420, Section 12.1).
type ProposalType int

// Proposal kinds for ProposalSpec.
const (
	ProposalAdd ProposalType = iota + 1
	ProposalUpdate
	ProposalRemove
	ProposalExternalPSK
	ProposalResumptionPSK
	ProposalReInit
	ProposalGroupContextExtensions
)

// ProposalSpec describes a proposal to create, by value in a Commit or as a
// standalone proposal message.
type ProposalSpec struct {
	Type ProposalType
	// KeyPackage is an MLSMessage(KeyPackage) for ProposalAdd.
	KeyPackage []byte
	// RemovedLeaf is the leaf index for ProposalRemove, unless RemovedIdentity is set,
	// in which case the member with that basic-credential identity is removed.
	RemovedLeaf     uint32
	RemovedIdentity []byte
	// PSKID is the external psk_id for ProposalExternalPSK.
	PSKID []byte
	// Epoch is the epoch of the resumption PSK for ProposalResumptionPSK.
	Epoch uint64
	// GroupID, CipherSuite, Extensions for ProposalReInit; Extensions also for
	// ProposalGroupContextExtensions.
	GroupID     []byte
	CipherSuite suite.ID
	Extensions  []Extension

	// Resumption PSKs of subgroups (branch, reinit) name another group and usage.
	pskUsage   uint8
	pskGroupID []byte
}

// CommitOptions configures Group.Commit.
type CommitOptions struct {
	// ByValue proposals are created and included inline.
	ByValue []ProposalSpec
	// ForcePath includes an UpdatePath even when no proposal requires one.
	ForcePath bool
	// ExternalTree leaves the ratchet_tree extension out of the Welcome and returns
	// the tree in CommitResult.RatchetTree instead.
	ExternalTree bool
	// AuthenticatedData is carried, signed, in the commit's FramedContent
	// authenticated_data (RFC 9420, Section 6), e.g. the committer's signed time.
	AuthenticatedData []byte
}

// CommitResult is what Commit produces. The Group stays in its epoch until
// MergePendingCommit.
type CommitResult struct {
	Commit      []byte // MLSMessage(PublicMessage or PrivateMessage)
	Welcome     []byte // MLSMessage(Welcome), nil if nobody was added
	RatchetTree []byte // encoded ratchet tree when CommitOptions.ExternalTree
}

// MessageKind tells what Process received.
type MessageKind int

// Kinds of received messages.
const (
	KindApplication MessageKind = iota + 1
	KindProposal
	KindCommit
)

func (k MessageKind) String() string {
	switch k {
	case KindApplication:
		return "application message"
	case KindProposal:
		return "proposal"
	case KindCommit:
		return "commit"
	}
	return "unknown message"
}

// Received is the result of Group.Process.
type Received struct {
	Kind              MessageKind
	Sender            uint32 // leaf index of a member sender
	AuthenticatedData []byte
	ApplicationData   []byte        // KindApplication
	Staged            *StagedCommit // KindCommit: validated, not yet merged
}

// ExternalJoinOptions configures ExternalJoin.
type ExternalJoinOptions struct {
	RatchetTree []byte // the tree when the GroupInfo carries no ratchet_tree extension
	Identity    []byte // basic credential identity of the joiner
	RemovePrior bool   // resync: remove the leaf holding the same identity
	PSKIDs      [][]byte

	removeLeaf *uint32 // tests: force a Remove of this leaf (an attack)
}
