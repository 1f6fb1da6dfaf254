package group

import (
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/wire"
)

// The RFC 9420 structs of the group layer are mls/wire's (Sections 5.3, 6, 7,
// 10, 12): one strict, fuzzed encoder and decoder. The aliases keep the group
// code's short names. Re-marshalling a parsed value reproduces its bytes, so
// signatures and hashes over re-encoded values match the sender's.

const (
	mls10 = 1

	credentialBasic = 1
	credentialX509  = 2

	leafSourceKeyPackage = 1
	leafSourceUpdate     = 2
	leafSourceCommit     = 3

	nodeLeaf   = 1
	nodeParent = 2

	wireFormatPublic     = 1
	wireFormatPrivate    = 2
	wireFormatWelcome    = 3
	wireFormatGroupInfo  = 4
	wireFormatKeyPackage = 5

	propAdd          = 1
	propUpdate       = 2
	propRemove       = 3
	propPSK          = 4
	propReInit       = 5
	propExternalInit = 6
	propGCE          = 7

	pskExternal   = 1
	pskResumption = 2

	usageApplication = 1
	usageReinit      = 2
	usageBranch      = 3

	extApplicationID        = 1
	extRatchetTree          = 2
	extRequiredCapabilities = 3
	extExternalPub          = 4
	extExternalSenders      = 5
)

type (
	credential            = wire.Credential
	leafNode              = wire.LeafNode
	keyPackage            = wire.KeyPackage
	hpkeCiphertext        = wire.HPKECiphertext
	updatePath            = wire.UpdatePath
	pskID                 = wire.PreSharedKeyID
	proposal              = wire.Proposal
	reInit                = wire.ReInit
	proposalOrRef         = wire.ProposalOrRef
	commit                = wire.Commit
	groupContext          = wire.GroupContext
	groupInfo             = wire.GroupInfo
	groupSecrets          = wire.GroupSecrets
	encryptedGroupSecrets = wire.EncryptedGroupSecrets
	welcome               = wire.Welcome
)

func hasU16[T ~uint16](v []T, x T) bool { return slices.Contains(v, x) }

func findExtension(exts wire.Extensions, typ wire.ExtensionType) ([]byte, bool) {
	return exts.Find(typ)
}

// toWireExtensions converts the public Extension list to mls/wire's.
func toWireExtensions(exts []Extension) wire.Extensions {
	if exts == nil {
		return nil
	}
	out := make(wire.Extensions, len(exts))
	for i, e := range exts {
		out[i] = wire.Extension{Type: wire.ExtensionType(e.Type), Data: e.Data}
	}
	return out
}

// fromWireExtensions converts mls/wire extensions to the public Extension list.
func fromWireExtensions(exts wire.Extensions) []Extension {
	if exts == nil {
		return nil
	}
	out := make([]Extension, len(exts))
	for i, e := range exts {
		out[i] = Extension{Type: uint16(e.Type), Data: e.Data}
	}
	return out
}

// nonNil returns an empty list for nil (an encoded empty vector decodes to a
// non-nil empty list; keep values built in memory the same).
func nonNil(e wire.Extensions) wire.Extensions {
	if e == nil {
		return wire.Extensions{}
	}
	return e
}

// pskKey identifies the PSK without its nonce (for duplicate detection).
func pskKey(p *pskID) string {
	q := *p
	q.Nonce = nil
	return string(q.Marshal())
}

// checkKnownProposal rejects proposal types the group does not implement:
// mls/wire carries them opaquely, but a Commit or Proposal naming one is
// refused (RFC 9420, Section 12.1: a member must support every proposal
// type it processes).
func checkKnownProposal(p *proposal) error {
	if !p.Type.IsDefault() {
		return fmt.Errorf("proposal.proposal_type: %w %d", codec.ErrBadEnum, p.Type)
	}
	return nil
}

func checkKnownProposals(c *commit) error {
	for i := range c.Proposals {
		if c.Proposals[i].Proposal != nil {
			if err := checkKnownProposal(c.Proposals[i].Proposal); err != nil {
				return fmt.Errorf("commit.proposals[%d]: %w", i, err)
			}
		}
	}
	return nil
}

func parseCommit(b []byte) (*commit, error) {
	c, err := wire.ParseCommit(b)
	if err == nil {
		err = checkKnownProposals(c)
	}
	if err != nil {
		return nil, fmt.Errorf("mls/group: Commit: %w", err)
	}
	return c, nil
}

func parseProposal(b []byte) (*proposal, error) {
	p, err := wire.ParseProposal(b)
	if err == nil {
		err = checkKnownProposal(p)
	}
	if err != nil {
		return nil, fmt.Errorf("mls/group: Proposal: %w", err)
	}
	return p, nil
}

// mlsMessage is an MLSMessage (Section 6) with its body still encoded for the
// framed wire formats (mls/framing parses and unprotects those).
type mlsMessage struct {
	wireFormat uint16
	body       []byte // the rest of the message after wire_format
	welcome    *welcome
	groupInfo  *groupInfo
	keyPackage *keyPackage
}

func parseMLSMessage(b []byte) (*mlsMessage, error) {
	r := codec.NewReader(b)
	if v := r.Uint16("mls_message.version"); r.Err() == nil && v != mls10 {
		return nil, fmt.Errorf("mls/group: MLSMessage.version: unsupported %d", v)
	}
	m := &mlsMessage{wireFormat: r.Uint16("mls_message.wire_format")}
	if r.Err() != nil {
		return nil, fmt.Errorf("mls/group: MLSMessage: %w", r.Err())
	}
	m.body = r.Fixed("mls_message.body", r.Len())
	var err error
	switch m.wireFormat {
	case wireFormatPublic, wireFormatPrivate:
		return m, nil
	case wireFormatWelcome:
		m.welcome, err = wire.ParseWelcome(m.body)
	case wireFormatGroupInfo:
		m.groupInfo, err = wire.ParseGroupInfo(m.body)
	case wireFormatKeyPackage:
		m.keyPackage, err = wire.ParseKeyPackage(m.body)
	default:
		return nil, fmt.Errorf("mls/group: MLSMessage.wire_format: %w %d", codec.ErrBadEnum, m.wireFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("mls/group: MLSMessage: %w", err)
	}
	m.body = nil
	return m, nil
}

func mlsMessageBytes(wireFormat uint16, body func(w *codec.Builder)) []byte {
	var w codec.Builder
	w.Uint16(mls10)
	w.Uint16(wireFormat)
	body(&w)
	return w.Bytes()
}

// publicMessageBytes encodes a PublicMessage as an MLSMessage.
func publicMessageBytes(pm *framing.PublicMessage) ([]byte, error) {
	body, err := pm.Marshal()
	if err != nil {
		return nil, err
	}
	return mlsMessageBytes(wireFormatPublic, func(w *codec.Builder) { w.Raw(body) }), nil
}
