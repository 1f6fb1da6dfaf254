package wire

import (
	"github.com/daylight-im/daylight/mls/codec"
)

// PreSharedKeyID (RFC 9420, Section 8.4).
type PreSharedKeyID struct {
	Type PSKType
	// external
	PSKID []byte
	// resumption
	Usage      ResumptionPSKUsage
	PSKGroupID []byte
	PSKEpoch   uint64

	Nonce []byte
}

// Append encodes the PreSharedKeyID.
func (p *PreSharedKeyID) Append(b []byte) []byte {
	b = codec.AppendUint8(b, uint8(p.Type))
	switch p.Type {
	case PSKTypeExternal:
		b = codec.AppendOpaque(b, p.PSKID)
	case PSKTypeResumption:
		b = codec.AppendUint8(b, uint8(p.Usage))
		b = codec.AppendOpaque(b, p.PSKGroupID)
		b = codec.AppendUint64(b, p.PSKEpoch)
	default:
		panic("mls/wire: cannot encode psktype")
	}
	return codec.AppendOpaque(b, p.Nonce)
}

// Marshal returns the encoding of the PreSharedKeyID.
func (p *PreSharedKeyID) Marshal() []byte { return p.Append(nil) }

func (p *PreSharedKeyID) decode(r *codec.Reader) {
	p.Type = PSKType(r.Uint8("psktype"))
	switch p.Type {
	case PSKTypeExternal:
		p.PSKID = r.Opaque("psk_id")
	case PSKTypeResumption:
		p.Usage = ResumptionPSKUsage(r.Uint8("usage"))
		if p.Usage < ResumptionPSKUsageApplication || p.Usage > ResumptionPSKUsageBranch {
			if r.Err() == nil {
				badEnum(r, "usage", uint64(p.Usage))
			}
		}
		p.PSKGroupID = r.Opaque("psk_group_id")
		p.PSKEpoch = r.Uint64("psk_epoch")
	default:
		if r.Err() == nil {
			badEnum(r, "psktype", uint64(p.Type))
		}
	}
	p.Nonce = r.Opaque("psk_nonce")
}

// ParsePreSharedKeyID decodes a PreSharedKeyID.
func ParsePreSharedKeyID(b []byte) (*PreSharedKeyID, error) {
	return parse("PreSharedKeyID", b, func(p *PreSharedKeyID, r *codec.Reader) { p.decode(r) })
}

// AppendPSKLabel encodes PSKLabel (RFC 9420, Section 8.4).
func AppendPSKLabel(b []byte, id *PreSharedKeyID, index, count uint16) []byte {
	b = id.Append(b)
	b = codec.AppendUint16(b, index)
	return codec.AppendUint16(b, count)
}

// ReInit is the body of a ReInit proposal (RFC 9420, Section 12.1.5).
type ReInit struct {
	GroupID     []byte
	Version     ProtocolVersion
	CipherSuite CipherSuite
	Extensions  Extensions
}

// Proposal (RFC 9420, Section 12.1). The field matching Type is set; a
// proposal of a type RFC 9420 does not define carries its body opaquely in
// Data, encoded as opaque<V> (the convention for custom proposals).
type Proposal struct {
	Type       ProposalType
	KeyPackage *KeyPackage     // add
	LeafNode   *LeafNode       // update
	Removed    uint32          // remove
	PSK        *PreSharedKeyID // psk
	ReInit     *ReInit         // reinit
	KEMOutput  []byte          // external_init
	Extensions Extensions      // group_context_extensions
	Data       []byte          // any other type
}

// Append encodes the Proposal.
func (p *Proposal) Append(b []byte) []byte {
	b = codec.AppendUint16(b, uint16(p.Type))
	switch p.Type {
	case ProposalTypeAdd:
		b = p.KeyPackage.Append(b)
	case ProposalTypeUpdate:
		b = p.LeafNode.Append(b)
	case ProposalTypeRemove:
		b = codec.AppendUint32(b, p.Removed)
	case ProposalTypePSK:
		b = p.PSK.Append(b)
	case ProposalTypeReInit:
		b = codec.AppendOpaque(b, p.ReInit.GroupID)
		b = codec.AppendUint16(b, uint16(p.ReInit.Version))
		b = codec.AppendUint16(b, uint16(p.ReInit.CipherSuite))
		b = p.ReInit.Extensions.Append(b)
	case ProposalTypeExternalInit:
		b = codec.AppendOpaque(b, p.KEMOutput)
	case ProposalTypeGroupContextExtensions:
		b = p.Extensions.Append(b)
	default:
		b = codec.AppendOpaque(b, p.Data)
	}
	return b
}

// Marshal returns the encoding of the Proposal.
func (p *Proposal) Marshal() []byte { return p.Append(nil) }

func (p *Proposal) decode(r *codec.Reader) {
	p.Type = ProposalType(r.Uint16("proposal_type"))
	switch p.Type {
	case ProposalTypeAdd:
		p.KeyPackage = new(KeyPackage)
		r.Enter("add.key_package")
		p.KeyPackage.decode(r)
		r.Leave()
	case ProposalTypeUpdate:
		p.LeafNode = new(LeafNode)
		r.Enter("update.leaf_node")
		p.LeafNode.decode(r)
		r.Leave()
	case ProposalTypeRemove:
		p.Removed = r.Uint32("remove.removed")
	case ProposalTypePSK:
		p.PSK = new(PreSharedKeyID)
		r.Enter("psk")
		p.PSK.decode(r)
		r.Leave()
	case ProposalTypeReInit:
		ri := new(ReInit)
		ri.GroupID = r.Opaque("reinit.group_id")
		ri.Version = ProtocolVersion(r.Uint16("reinit.version"))
		ri.CipherSuite = CipherSuite(r.Uint16("reinit.cipher_suite"))
		ri.Extensions = readExtensions(r, "reinit.extensions")
		p.ReInit = ri
	case ProposalTypeExternalInit:
		p.KEMOutput = r.Opaque("external_init.kem_output")
	case ProposalTypeGroupContextExtensions:
		p.Extensions = readExtensions(r, "group_context_extensions.extensions")
	default:
		p.Data = r.Opaque("proposal_data")
	}
}

// ParseProposal decodes a Proposal.
func ParseProposal(b []byte) (*Proposal, error) {
	return parse("Proposal", b, func(p *Proposal, r *codec.Reader) { p.decode(r) })
}

// ProposalOrRef (RFC 9420, Section 12.4): Proposal set, or Reference.
type ProposalOrRef struct {
	Proposal  *Proposal
	Reference []byte // ProposalRef
}

// Commit (RFC 9420, Section 12.4).
type Commit struct {
	Proposals []ProposalOrRef
	Path      *UpdatePath // optional
}

// Append encodes the Commit.
func (c *Commit) Append(b []byte) []byte {
	b = codec.AppendVector(b, func(b []byte) []byte {
		for _, p := range c.Proposals {
			if p.Proposal != nil {
				b = p.Proposal.Append(codec.AppendUint8(b, uint8(ProposalOrRefTypeProposal)))
			} else {
				b = codec.AppendOpaque(codec.AppendUint8(b, uint8(ProposalOrRefTypeReference)), p.Reference)
			}
		}
		return b
	})
	if c.Path == nil {
		return append(b, 0)
	}
	return c.Path.Append(append(b, 1))
}

// Marshal returns the encoding of the Commit.
func (c *Commit) Marshal() []byte { return c.Append(nil) }

func (c *Commit) decode(r *codec.Reader) {
	c.Proposals = []ProposalOrRef{}
	r.Vector("proposals", func(r *codec.Reader) {
		var por ProposalOrRef
		switch t := ProposalOrRefType(r.Uint8("type")); t {
		case ProposalOrRefTypeProposal:
			por.Proposal = new(Proposal)
			r.Enter("proposal")
			por.Proposal.decode(r)
			r.Leave()
		case ProposalOrRefTypeReference:
			por.Reference = r.Opaque("reference")
		default:
			if r.Err() == nil {
				badEnum(r, "type", uint64(t))
			}
		}
		c.Proposals = append(c.Proposals, por)
	})
	if r.Optional("path") {
		c.Path = new(UpdatePath)
		r.Enter("path")
		c.Path.decode(r)
		r.Leave()
	}
}

// ParseCommit decodes a Commit.
func ParseCommit(b []byte) (*Commit, error) {
	return parse("Commit", b, func(c *Commit, r *codec.Reader) { c.decode(r) })
}

// DecodeProposal decodes a Proposal from r, for encodings that embed one
// without a length prefix (framing bodies, stored state). Errors stick in r.
func DecodeProposal(r *codec.Reader) *Proposal {
	p := new(Proposal)
	p.decode(r)
	return p
}

// DecodeCommit decodes a Commit from r (see DecodeProposal).
func DecodeCommit(r *codec.Reader) *Commit {
	c := new(Commit)
	c.decode(r)
	return c
}
