package ds

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// WireFormat is the MLSMessage wire_format (RFC 9420, Section 6).
type WireFormat uint16

const (
	WirePublicMessage  WireFormat = 1
	WirePrivateMessage WireFormat = 2
	WireWelcome        WireFormat = 3
	WireGroupInfo      WireFormat = 4
	WireKeyPackage     WireFormat = 5
)

// ContentType is the FramedContent content_type (RFC 9420, Section 6).
type ContentType uint8

const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

// Envelope is the clear framing of an MLSMessage: the fields the DS may read
// without keys (RFC 9420, Sections 6.2 and 6.3: group_id, epoch and content_type
// are in clear in both PublicMessage and PrivateMessage).
type Envelope struct {
	WireFormat  WireFormat
	GroupID     []byte
	Epoch       uint64
	ContentType ContentType
}

// Member is a leaf of a group's ratchet tree as the validator reports it.
type Member struct {
	Leaf         uint32
	Identity     []byte // BasicCredential identity; see Identity
	SignatureKey []byte // the leaf's signature_key
}

// PublicState is a group's public state as the validator reports it.
type PublicState struct {
	GroupID []byte
	Epoch   uint64
	Members []Member
	Opaque  []byte // the validator's own serialization, stored as is, handed back to Apply
}

// Verdict is the outcome of validating one handshake message.
type Verdict struct {
	Commit   bool        // true for a commit (epoch advances), false for a proposal
	Sender   Member      // the member (or, for an external commit, the joiner) that signed it
	NewState PublicState // the group's public state after the message
}

// KeyPackageInfo is what the DS learns from a verified KeyPackage.
type KeyPackageInfo struct {
	Ref          []byte // KeyPackageRef (RFC 9420, Section 5.2)
	Identity     []byte
	SignatureKey []byte
	NotAfter     uint64 // lifetime.not_after, seconds since the Unix epoch
	LastResort   bool   // carries the last_resort extension
}

// GroupValidator is the DS's view of the MLS engine: an adapter over
// mls/group's PublicGroup (the server validates with the same code as clients).
// Implementations are pure computation and safe for concurrent use.
//
// Errors must wrap the sentinels of this package so the DS can tell the client
// precisely what was wrong: ErrInvalidMessage (malformed bytes, failed
// validation), ErrStaleEpoch (message for an epoch other than the state's),
// ErrBadSignature (signature or membership tag does not verify), ErrNotMember
// (sender is not, or no longer, a member).
type GroupValidator interface {
	// Inspect decodes the clear framing of an MLSMessage without verifying it.
	Inspect(msg []byte) (Envelope, error)
	// NewGroup validates a creator's GroupInfo (with the ratchet_tree extension)
	// and returns the group's initial public state.
	NewGroup(groupInfo []byte) (PublicState, error)
	// Apply validates a handshake PublicMessage (proposal or commit) against the
	// public state previously returned (Opaque) and returns the new state. It
	// does not modify state.
	Apply(state []byte, msg []byte) (Verdict, error)
	// VerifyKeyPackage decodes and verifies a KeyPackage (RFC 9420, Section
	// 10.1: signature, lifetime shape, supported suite).
	VerifyKeyPackage(kp []byte) (KeyPackageInfo, error)
}

// identityPrefix starts every device credential identity.
const identityPrefix = "daylight:"

// Identity is the BasicCredential identity a device puts in its MLS leaves:
// "daylight:<username>/<device id>". The DS maps leaves to devices with it and
// checks that the leaf signature key is the device's registered key.
func Identity(username string, id DeviceID) []byte {
	return []byte(identityPrefix + username + "/" + strconv.FormatInt(int64(id), 10))
}

// ParseIdentity is the inverse of Identity.
func ParseIdentity(b []byte) (string, DeviceID, error) {
	s, ok := bytes.CutPrefix(b, []byte(identityPrefix))
	if !ok {
		return "", 0, fmt.Errorf("ds: credential identity: missing %q prefix: %w", identityPrefix, ErrInvalidMessage)
	}
	user, num, ok := strings.Cut(string(s), "/")
	if !ok || ValidUsername(user) != nil {
		return "", 0, fmt.Errorf("ds: credential identity: bad username: %w", ErrInvalidMessage)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != num {
		return "", 0, fmt.Errorf("ds: credential identity: bad device id: %w", ErrInvalidMessage)
	}
	return user, DeviceID(n), nil
}

// ValidUsername accepts 1 to 32 characters of a-z, 0-9, '_', '-', '.', starting
// with a letter or digit.
func ValidUsername(u string) error {
	if len(u) == 0 || len(u) > 32 {
		return fmt.Errorf("ds: username must be 1-32 characters: %w", ErrInvalidInput)
	}
	for i, c := range u {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '-' || c == '.'):
		default:
			return fmt.Errorf("ds: username: character %q not allowed (use a-z, 0-9, _ - .): %w", c, ErrInvalidInput)
		}
	}
	return nil
}
