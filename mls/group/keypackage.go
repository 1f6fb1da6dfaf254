package group

import (
	"bytes"
	"fmt"
	"time"

	"github.com/daylight-im/daylight/mls/codec"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

const (
	labelLeafNodeTBS   = "LeafNodeTBS"
	labelKeyPackageTBS = "KeyPackageTBS"
	labelGroupInfoTBS  = "GroupInfoTBS"
	labelWelcome       = "Welcome"
	refKeyPackage      = "MLS 1.0 KeyPackage Reference"
	refProposal        = "MLS 1.0 Proposal Reference"
)

// KeyPackageBundle is a KeyPackage with its private keys (RFC 9420, Section 10).
// The private keys are exported for the interop harness and the passive-client
// vectors; callers must treat them as secrets.
type KeyPackageBundle struct {
	Message        []byte // MLSMessage(KeyPackage)
	InitPriv       []byte
	EncryptionPriv []byte
	SignaturePriv  []byte

	kp *keyPackage
}

// Ref returns the KeyPackageRef (RFC 9420, Section 5.2).
func (b *KeyPackageBundle) Ref() ([]byte, error) {
	s, err := suite.Lookup(suite.ID(b.kp.CipherSuite))
	if err != nil {
		return nil, err
	}
	return s.RefHash(refKeyPackage, b.kp.Raw), nil
}

// defaultCapabilities lists what this engine supports (RFC 9420, Section 7.2):
// MLS 1.0, every suite mls/suite implements, the basic credential.
func defaultCapabilities(cs wire.CipherSuite) wire.Capabilities {
	suites := []wire.CipherSuite{cs}
	for _, id := range []wire.CipherSuite{1, 2, 3, 4, 5, 6, 7, 0x4D} {
		if id != cs {
			if _, err := suite.Lookup(suite.ID(id)); err == nil {
				suites = append(suites, id)
			}
		}
	}
	return wire.Capabilities{Versions: []wire.ProtocolVersion{mls10}, CipherSuites: suites, Credentials: []wire.CredentialType{credentialBasic}}
}

// capabilities is defaultCapabilities plus cfg.ExtensionTypes.
func (c Config) capabilities(cs wire.CipherSuite) wire.Capabilities {
	caps := defaultCapabilities(cs)
	for _, t := range c.ExtensionTypes {
		if !hasU16(caps.Extensions, wire.ExtensionType(t)) {
			caps.Extensions = append(caps.Extensions, wire.ExtensionType(t))
		}
	}
	return caps
}

// NewKeyPackage creates a KeyPackage for identity with a basic credential and fresh
// signature, init and encryption keys (RFC 9420, Section 10).
func NewKeyPackage(cfg Config, cs suite.ID, identity []byte) (*KeyPackageBundle, error) {
	s, err := suite.Lookup(cs)
	if err != nil {
		return nil, fmt.Errorf("mls/group: NewKeyPackage: %w", err)
	}
	sigPriv, sigPub, err := s.GenerateSignatureKey(cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls/group: NewKeyPackage: %w", err)
	}
	return newKeyPackageWithSigner(cfg, s, identity, sigPriv, sigPub)
}

func newKeyPackageWithSigner(cfg Config, s *suite.Suite, identity, sigPriv, sigPub []byte) (*KeyPackageBundle, error) {
	initPriv, initPub, err := s.GenerateKeyPair(cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls/group: NewKeyPackage: init key: %w", err)
	}
	encPriv, encPub, err := s.GenerateKeyPair(cfg.rand())
	if err != nil {
		return nil, fmt.Errorf("mls/group: NewKeyPackage: encryption key: %w", err)
	}
	life := cfg.Lifetime
	if life <= 0 {
		life = 90 * 24 * time.Hour
	}
	now := cfg.now()
	ln := leafNode{
		EncryptionKey: encPub,
		SignatureKey:  sigPub,
		Credential:    credential{Type: credentialBasic, Identity: clone(identity)},
		Capabilities:  cfg.capabilities(wire.CipherSuite(s.ID())),
		Source:        leafSourceKeyPackage,
		Lifetime:      wire.Lifetime{NotBefore: uint64(now.Add(-time.Hour).Unix()), NotAfter: uint64(now.Add(life).Unix())},
	}
	if ln.Signature, err = s.SignWithLabel(sigPriv, labelLeafNodeTBS, ln.AppendTBS(nil, nil, 0)); err != nil {
		return nil, fmt.Errorf("mls/group: NewKeyPackage: %w", err)
	}
	kp := &keyPackage{Version: mls10, CipherSuite: wire.CipherSuite(s.ID()), InitKey: initPub, LeafNode: ln}
	if kp.Signature, err = s.SignWithLabel(sigPriv, labelKeyPackageTBS, kp.AppendTBS(nil)); err != nil {
		return nil, fmt.Errorf("mls/group: NewKeyPackage: %w", err)
	}
	kp.Raw = kp.Marshal()
	msg := mlsMessageBytes(wireFormatKeyPackage, func(w *codec.Builder) { w.Raw(kp.Raw) })
	return &KeyPackageBundle{Message: msg, InitPriv: initPriv, EncryptionPriv: encPriv, SignaturePriv: sigPriv, kp: kp}, nil
}

// LoadKeyPackageBundle rebuilds a bundle from an encoded KeyPackage (bare or wrapped
// in an MLSMessage) and its private keys, checking that the keys match.
func LoadKeyPackageBundle(keyPackage, initPriv, encryptionPriv, signaturePriv []byte) (*KeyPackageBundle, error) {
	kp, err := parseKeyPackageAny(keyPackage)
	if err != nil {
		return nil, err
	}
	s, err := suite.Lookup(suite.ID(kp.CipherSuite))
	if err != nil {
		return nil, fmt.Errorf("mls/group: KeyPackage.cipher_suite: %w", err)
	}
	if pub, err := s.HPKEPublicKey(initPriv); err != nil || !bytes.Equal(pub, kp.InitKey) {
		return nil, fmt.Errorf("mls/group: init private key does not match KeyPackage.init_key")
	}
	if pub, err := s.HPKEPublicKey(encryptionPriv); err != nil || !bytes.Equal(pub, kp.LeafNode.EncryptionKey) {
		return nil, fmt.Errorf("mls/group: encryption private key does not match leaf_node.encryption_key")
	}
	msg := mlsMessageBytes(wireFormatKeyPackage, func(w *codec.Builder) { w.Raw(kp.Raw) })
	return &KeyPackageBundle{Message: msg, InitPriv: clone(initPriv), EncryptionPriv: clone(encryptionPriv), SignaturePriv: clone(signaturePriv), kp: kp}, nil
}

func parseKeyPackageAny(b []byte) (*keyPackage, error) {
	if m, err := parseMLSMessage(b); err == nil {
		if m.keyPackage == nil {
			return nil, fmt.Errorf("mls/group: MLSMessage is not a KeyPackage")
		}
		return m.keyPackage, nil
	}
	kp, err := wire.ParseKeyPackage(b)
	if err != nil {
		return nil, fmt.Errorf("mls/group: KeyPackage: %w", err)
	}
	return kp, nil
}

// verifyKeyPackage validates a KeyPackage for use in group g's suite
// (RFC 9420, Section 10.1; leaf node per Section 7.3).
func verifyKeyPackage(s *suite.Suite, kp *keyPackage) error {
	if kp.Version != mls10 {
		return fmt.Errorf("mls/group: KeyPackage.version %d", kp.Version)
	}
	if kp.CipherSuite != wire.CipherSuite(s.ID()) {
		return fmt.Errorf("mls/group: KeyPackage.cipher_suite %d does not match the group's %d", kp.CipherSuite, s.ID())
	}
	if kp.LeafNode.Source != leafSourceKeyPackage {
		return fmt.Errorf("mls/group: KeyPackage.leaf_node.leaf_node_source is not key_package")
	}
	if bytes.Equal(kp.InitKey, kp.LeafNode.EncryptionKey) {
		return fmt.Errorf("mls/group: KeyPackage.init_key equals leaf_node.encryption_key")
	}
	if err := s.ValidateHPKEPublicKey(kp.InitKey); err != nil {
		return fmt.Errorf("mls/group: KeyPackage.init_key: %w", err)
	}
	if err := s.VerifyWithLabel(kp.LeafNode.SignatureKey, labelKeyPackageTBS, kp.AppendTBS(nil), kp.Signature); err != nil {
		return fmt.Errorf("mls/group: KeyPackage.signature: %w", err)
	}
	if err := verifyLeafSignature(s, &kp.LeafNode, nil, 0); err != nil {
		return err
	}
	return nil
}

func verifyLeafSignature(s *suite.Suite, ln *leafNode, groupID []byte, leaf uint32) error {
	if err := s.VerifyWithLabel(ln.SignatureKey, labelLeafNodeTBS, ln.AppendTBS(nil, groupID, leaf), ln.Signature); err != nil {
		return fmt.Errorf("mls/group: LeafNode.signature (leaf %d): %w", leaf, err)
	}
	return nil
}
