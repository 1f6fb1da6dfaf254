// Package mlsvalidator adapts the MLS engine to ds.GroupValidator, so the
// delivery service checks MLS messages with the same code as clients.
//
// Inspect and VerifyKeyPackage are implemented here over mls/wire and
// mls/suite. Group validation (NewGroup, Apply) needs mls/group's PublicGroup;
// until that is exported it is plugged in through PublicEngine, and without
// one the validator refuses group operations with ds.ErrInvalidMessage.
package mlsvalidator

import (
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

// ExtensionTypeLastResort marks a last-resort KeyPackage
// (draft-ietf-mls-extensions, "last_resort" KeyPackage extension, 0x000A).
const ExtensionTypeLastResort wire.ExtensionType = 0x000A

// refLabel is the KeyPackageRef label (RFC 9420, Section 5.2).
const refLabel = "MLS 1.0 KeyPackage Reference"

// PublicEngine is what the DS needs from mls/group's PublicGroup: create a
// group's public state from a GroupInfo and apply a handshake message to it.
type PublicEngine interface {
	NewGroup(groupInfo []byte) (ds.PublicState, error)
	Apply(state, msg []byte) (ds.Verdict, error)
}

// Validator implements ds.GroupValidator. Safe for concurrent use.
type Validator struct {
	engine PublicEngine
}

var _ ds.GroupValidator = (*Validator)(nil)

// New returns a validator; engine may be nil until PublicGroup exists.
func New(engine PublicEngine) *Validator { return &Validator{engine: engine} }

func invalid(field string, err error) error {
	return fmt.Errorf("mlsvalidator: %s: %v: %w", field, err, ds.ErrInvalidMessage)
}

// Inspect implements ds.GroupValidator: it decodes the MLSMessage strictly
// and returns the fields in clear (RFC 9420, Sections 6.2 and 6.3).
func (v *Validator) Inspect(msg []byte) (ds.Envelope, error) {
	m, err := wire.ParseMLSMessage(msg)
	if err != nil {
		return ds.Envelope{}, invalid("MLSMessage", err)
	}
	env := ds.Envelope{WireFormat: ds.WireFormat(m.WireFormat)}
	switch m.WireFormat {
	case wire.WireFormatPublicMessage:
		c := &m.Public.Content
		env.GroupID, env.Epoch, env.ContentType = c.GroupID, c.Epoch, ds.ContentType(c.ContentType)
	case wire.WireFormatPrivateMessage:
		p := m.Private
		env.GroupID, env.Epoch, env.ContentType = p.GroupID, p.Epoch, ds.ContentType(p.ContentType)
	}
	return env, nil
}

// VerifyKeyPackage implements ds.GroupValidator: KeyPackage validation
// (RFC 9420, Section 10.1) as far as it does not depend on a group: supported
// cipher suite and version, leaf_node_source key_package, the leaf node's and
// the KeyPackage's signatures (LeafNodeTBS, KeyPackageTBS), init_key distinct
// from encryption_key, a basic credential, a well-formed lifetime.
func (v *Validator) VerifyKeyPackage(b []byte) (ds.KeyPackageInfo, error) {
	m, err := wire.ParseMLSMessage(b)
	if err != nil {
		return ds.KeyPackageInfo{}, invalid("KeyPackage", err)
	}
	if m.WireFormat != wire.WireFormatKeyPackage {
		return ds.KeyPackageInfo{}, invalid("KeyPackage", fmt.Errorf("wire_format %d", m.WireFormat))
	}
	kp := m.KeyPackage
	if kp.Version != wire.MLS10 {
		return ds.KeyPackageInfo{}, invalid("KeyPackage.version", fmt.Errorf("%d", kp.Version))
	}
	s, err := suite.Lookup(suite.ID(kp.CipherSuite))
	if err != nil {
		return ds.KeyPackageInfo{}, invalid("KeyPackage.cipher_suite", err)
	}
	ln := &kp.LeafNode
	if ln.Source != wire.LeafNodeSourceKeyPackage {
		return ds.KeyPackageInfo{}, invalid("KeyPackage.leaf_node.leaf_node_source", fmt.Errorf("%d", ln.Source))
	}
	if err := s.VerifyWithLabel(ln.SignatureKey, "LeafNodeTBS", ln.AppendTBS(nil, nil, 0), ln.Signature); err != nil {
		return ds.KeyPackageInfo{}, sigErr("KeyPackage.leaf_node.signature", err)
	}
	if err := s.VerifyWithLabel(ln.SignatureKey, "KeyPackageTBS", kp.AppendTBS(nil), kp.Signature); err != nil {
		return ds.KeyPackageInfo{}, sigErr("KeyPackage.signature", err)
	}
	if string(kp.InitKey) == string(ln.EncryptionKey) {
		return ds.KeyPackageInfo{}, invalid("KeyPackage.init_key", errors.New("equals leaf_node.encryption_key"))
	}
	if ln.Credential.Type != wire.CredentialTypeBasic {
		return ds.KeyPackageInfo{}, invalid("KeyPackage.leaf_node.credential", fmt.Errorf("type %d, want basic", ln.Credential.Type))
	}
	if ln.Lifetime.NotBefore > ln.Lifetime.NotAfter {
		return ds.KeyPackageInfo{}, invalid("KeyPackage.leaf_node.lifetime", errors.New("not_before after not_after"))
	}
	return ds.KeyPackageInfo{
		Ref:          s.RefHash(refLabel, kp.Raw),
		Identity:     ln.Credential.Identity,
		SignatureKey: ln.SignatureKey,
		NotAfter:     ln.Lifetime.NotAfter,
		LastResort:   kp.Extensions.Has(ExtensionTypeLastResort),
	}, nil
}

func sigErr(field string, err error) error {
	if errors.Is(err, suite.ErrInvalidSignature) {
		return fmt.Errorf("mlsvalidator: %s: %w", field, ds.ErrBadSignature)
	}
	return invalid(field, err)
}

// NewGroup implements ds.GroupValidator through the PublicEngine.
func (v *Validator) NewGroup(groupInfo []byte) (ds.PublicState, error) {
	if v.engine == nil {
		return ds.PublicState{}, fmt.Errorf("mlsvalidator: group creation needs mls/group's PublicGroup, not yet available: %w", ds.ErrInvalidMessage)
	}
	return v.engine.NewGroup(groupInfo)
}

// Apply implements ds.GroupValidator through the PublicEngine.
func (v *Validator) Apply(state, msg []byte) (ds.Verdict, error) {
	if v.engine == nil {
		return ds.Verdict{}, fmt.Errorf("mlsvalidator: handshake validation needs mls/group's PublicGroup, not yet available: %w", ds.ErrInvalidMessage)
	}
	return v.engine.Apply(state, msg)
}

var _ ds.EpochStateReader = (*Validator)(nil)

// EpochStates implements ds.EpochStateReader through the PublicEngine, if it
// can rebuild past epochs (Engine can).
func (v *Validator) EpochStates(state []byte, epochs []uint64) ([]ds.EpochPublicState, error) {
	er, ok := v.engine.(ds.EpochStateReader)
	if !ok {
		return nil, fmt.Errorf("mlsvalidator: the engine cannot rebuild past epochs: %w", ds.ErrNotFound)
	}
	return er.EpochStates(state, epochs)
}
