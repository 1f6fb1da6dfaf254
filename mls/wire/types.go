// Package wire holds every RFC 9420 structure with an append-style encoder
// (Append(b) / Marshal()) and a strict decoder (ParseXxx): trailing bytes,
// non-minimal lengths, unknown enum values where the RFC leaves no way to skip
// them, and duplicate extensions are rejected; errors name the field path.
// Structures covered by a signature or transcript keep the exact bytes they
// were parsed from in a Raw field. The package does no cryptography: parsing
// is not validating.
//
// Decoded byte slices alias the input buffer; callers that keep a parsed value
// must not modify the buffer afterwards.
package wire

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/codec"
)

// ProtocolVersion (RFC 9420, Section 6).
type ProtocolVersion uint16

// MLS10 is the only protocol version defined by RFC 9420.
const MLS10 ProtocolVersion = 1

// CipherSuite is a cipher suite code point (RFC 9420, Section 17.1); it has the
// same values as suite.ID.
type CipherSuite uint16

// WireFormat (RFC 9420, Section 6).
type WireFormat uint16

// Wire formats.
const (
	WireFormatPublicMessage  WireFormat = 1
	WireFormatPrivateMessage WireFormat = 2
	WireFormatWelcome        WireFormat = 3
	WireFormatGroupInfo      WireFormat = 4
	WireFormatKeyPackage     WireFormat = 5
)

// ContentType (RFC 9420, Section 6).
type ContentType uint8

// Content types.
const (
	ContentTypeApplication ContentType = 1
	ContentTypeProposal    ContentType = 2
	ContentTypeCommit      ContentType = 3
)

// SenderType (RFC 9420, Section 6).
type SenderType uint8

// Sender types.
const (
	SenderTypeMember            SenderType = 1
	SenderTypeExternal          SenderType = 2
	SenderTypeNewMemberProposal SenderType = 3
	SenderTypeNewMemberCommit   SenderType = 4
)

// CredentialType (RFC 9420, Section 5.3).
type CredentialType uint16

// Credential types.
const (
	CredentialTypeBasic CredentialType = 1
	CredentialTypeX509  CredentialType = 2
)

// ExtensionType (RFC 9420, Section 17.3).
type ExtensionType uint16

// Extension types defined by RFC 9420.
const (
	ExtensionTypeApplicationID        ExtensionType = 1
	ExtensionTypeRatchetTree          ExtensionType = 2
	ExtensionTypeRequiredCapabilities ExtensionType = 3
	ExtensionTypeExternalPub          ExtensionType = 4
	ExtensionTypeExternalSenders      ExtensionType = 5
)

// ProposalType (RFC 9420, Section 12.1).
type ProposalType uint16

// Proposal types defined by RFC 9420.
const (
	ProposalTypeAdd                    ProposalType = 1
	ProposalTypeUpdate                 ProposalType = 2
	ProposalTypeRemove                 ProposalType = 3
	ProposalTypePSK                    ProposalType = 4
	ProposalTypeReInit                 ProposalType = 5
	ProposalTypeExternalInit           ProposalType = 6
	ProposalTypeGroupContextExtensions ProposalType = 7
)

// IsDefault reports whether t is one of the seven RFC 9420 proposal types.
func (t ProposalType) IsDefault() bool { return t >= 1 && t <= 7 }

// LeafNodeSource (RFC 9420, Section 7.2).
type LeafNodeSource uint8

// Leaf node sources.
const (
	LeafNodeSourceKeyPackage LeafNodeSource = 1
	LeafNodeSourceUpdate     LeafNodeSource = 2
	LeafNodeSourceCommit     LeafNodeSource = 3
)

// NodeType (RFC 9420, Section 7.8).
type NodeType uint8

// Node types.
const (
	NodeTypeLeaf   NodeType = 1
	NodeTypeParent NodeType = 2
)

// PSKType (RFC 9420, Section 8.4).
type PSKType uint8

// PSK types.
const (
	PSKTypeExternal   PSKType = 1
	PSKTypeResumption PSKType = 2
)

// ResumptionPSKUsage (RFC 9420, Section 8.4).
type ResumptionPSKUsage uint8

// Resumption PSK usages.
const (
	ResumptionPSKUsageApplication ResumptionPSKUsage = 1
	ResumptionPSKUsageReInit      ResumptionPSKUsage = 2
	ResumptionPSKUsageBranch      ResumptionPSKUsage = 3
)

// ProposalOrRefType (RFC 9420, Section 12.4).
type ProposalOrRefType uint8

// ProposalOrRef types.
const (
	ProposalOrRefTypeProposal  ProposalOrRefType = 1
	ProposalOrRefTypeReference ProposalOrRefType = 2
)

func badEnum(r *codec.Reader, field string, v uint64) {
	r.Fail(field, fmt.Errorf("%w %d", codec.ErrBadEnum, v))
}

func appendU16s[T ~uint16](b []byte, vs []T) []byte {
	b = codec.AppendVarint(b, 2*len(vs))
	for _, v := range vs {
		b = codec.AppendUint16(b, uint16(v))
	}
	return b
}

func readU16s[T ~uint16](r *codec.Reader, field string) []T {
	body := r.Opaque(field)
	if r.Err() != nil {
		return nil
	}
	if len(body)%2 != 0 {
		r.Fail(field, fmt.Errorf("%w: odd length %d for a uint16 vector", codec.ErrTruncated, len(body)))
		return nil
	}
	out := make([]T, len(body)/2)
	for i := range out {
		out[i] = T(uint16(body[2*i])<<8 | uint16(body[2*i+1]))
	}
	return out
}

func parse[T any](what string, b []byte, decode func(*T, *codec.Reader)) (*T, error) {
	r := codec.NewReader(b)
	v := new(T)
	decode(v, r)
	if err := r.Finish("mls/wire: " + what); err != nil {
		return nil, err
	}
	return v, nil
}
