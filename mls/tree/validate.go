package tree

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// Signature labels (RFC 9420, Sections 7.2 and 10), without "MLS 1.0 ".
const (
	labelLeafNodeTBS   = "LeafNodeTBS"
	labelKeyPackageTBS = "KeyPackageTBS"
)

// VerifyLeafSignature checks the LeafNode signature (RFC 9420, Section 7.2)
// over LeafNodeTBS; groupID and leaf are used for the update and commit
// sources.
func VerifyLeafSignature(s *suite.Suite, ln *wire.LeafNode, groupID []byte, leaf LeafIndex) error {
	tbs := ln.AppendTBS(make([]byte, 0, len(ln.Raw)+len(groupID)+8), groupID, uint32(leaf))
	if err := s.VerifyWithLabel(ln.SignatureKey, labelLeafNodeTBS, tbs, ln.Signature); err != nil {
		return fmt.Errorf("%w: signature: %w", ErrInvalidLeafNode, err)
	}
	return nil
}

// SignLeafNode sets ln.Signature (and clears Raw) using signer; groupID and
// leaf are used for the update and commit sources.
func SignLeafNode(signer *suite.Signer, ln *wire.LeafNode, groupID []byte, leaf LeafIndex) error {
	ln.Raw = nil
	sig, err := signer.SignWithLabel(labelLeafNodeTBS, ln.AppendTBS(nil, groupID, uint32(leaf)))
	if err != nil {
		return err
	}
	ln.Signature = sig
	return nil
}

// isDefaultExtension reports the extension types that need not be listed
// in capabilities (RFC 9420, Section 7.2).
func isDefaultExtension(t wire.ExtensionType) bool { return t >= 1 && t <= 5 }

// checkLeafStandalone runs the group-independent checks of Section 7.3:
// keys well formed, credential type and non-default extensions listed in
// the leaf's own capabilities, the expected
// source, and the lifetime when now is non-zero.
func checkLeafStandalone(s *suite.Suite, ln *wire.LeafNode, source wire.LeafNodeSource, now time.Time) error {
	if ln.Source != source {
		return fmt.Errorf("%w: leaf_node_source %d, want %d", ErrInvalidLeafNode, ln.Source, source)
	}
	if err := s.ValidateHPKEPublicKey(ln.EncryptionKey); err != nil {
		return fmt.Errorf("%w: encryption_key: %w", ErrInvalidLeafNode, err)
	}
	if err := s.ValidateSignaturePublicKey(ln.SignatureKey); err != nil {
		return fmt.Errorf("%w: signature_key: %w", ErrInvalidLeafNode, err)
	}
	caps := &ln.Capabilities
	if !slices.Contains(caps.Credentials, ln.Credential.Type) {
		return fmt.Errorf("%w: credential type %d not in capabilities", ErrInvalidLeafNode, ln.Credential.Type)
	}
	// Capabilities listing the group's version and cipher suite is not a
	// Section 7.3 check, and interop vectors (treekem.json, suite 7) carry
	// leaves that omit their own suite: it is not enforced here.
	for _, e := range ln.Extensions {
		if !isDefaultExtension(e.Type) && !slices.Contains(caps.Extensions, e.Type) {
			return fmt.Errorf("%w: extension %d not in capabilities", ErrInvalidLeafNode, e.Type)
		}
	}
	if source == wire.LeafNodeSourceKeyPackage && !now.IsZero() {
		u := uint64(now.Unix())
		if u < ln.Lifetime.NotBefore || u > ln.Lifetime.NotAfter {
			return fmt.Errorf("%w: lifetime [%d, %d] excludes now (%d)", ErrInvalidLeafNode, ln.Lifetime.NotBefore, ln.Lifetime.NotAfter, u)
		}
	}
	return nil
}

// LeafCheck carries the group parameters a LeafNode is validated against.
type LeafCheck struct {
	// Source is the leaf_node_source the context requires (key_package for
	// Add, update for Update, commit for an UpdatePath).
	Source wire.LeafNodeSource
	// GroupID and Leaf are the signing context for update and commit leaves;
	// Leaf is also the leaf being replaced (excluded from uniqueness checks).
	GroupID []byte
	Leaf    LeafIndex
	// Now, if non-zero, checks key_package lifetimes.
	Now time.Time
	// Required is the group's required_capabilities extension, if any.
	Required *wire.RequiredCapabilities
	// CredentialValidator, if set, authenticates the credential and
	// signature key (RFC 9420, Section 5.3.1).
	CredentialValidator func(cred *wire.Credential, signatureKey []byte) error
}

// ValidateLeafNode performs the checks of RFC 9420, Section 7.3 for ln in
// this tree: credential (via CredentialValidator), signature, required
// capabilities, credential types supported by all members and this leaf
// supporting all credential types in use, lifetime (key_package, if Now is
// set), extensions listed in capabilities, leaf_node_source, and uniqueness of
// signature_key and encryption_key among the other members (for update, the
// encryption key must also differ from the replaced leaf's).
func (t *Tree) ValidateLeafNode(ln *wire.LeafNode, c LeafCheck) error {
	if err := checkLeafStandalone(t.s, ln, c.Source, c.Now); err != nil {
		return err
	}
	if c.CredentialValidator != nil {
		if err := c.CredentialValidator(&ln.Credential, ln.SignatureKey); err != nil {
			return fmt.Errorf("%w: credential: %w", ErrInvalidLeafNode, err)
		}
	}
	if err := VerifyLeafSignature(t.s, ln, c.GroupID, c.Leaf); err != nil {
		return err
	}
	if err := checkRequired(&ln.Capabilities, c.Required); err != nil {
		return err
	}
	replacing := c.Source != wire.LeafNodeSourceKeyPackage
	var err error
	t.Members(func(i LeafIndex, m *wire.LeafNode) bool {
		if replacing && i == c.Leaf {
			// An UpdatePath leaf follows the Update rules too (Section 7.5).
			if bytes.Equal(m.EncryptionKey, ln.EncryptionKey) {
				err = fmt.Errorf("%w: leaf reuses the replaced leaf's encryption_key", ErrInvalidLeafNode)
				return false
			}
			return true
		}
		if !slices.Contains(m.Capabilities.Credentials, ln.Credential.Type) {
			err = fmt.Errorf("%w: credential type %d not supported by leaf %d", ErrInvalidLeafNode, ln.Credential.Type, i)
			return false
		}
		if !slices.Contains(ln.Capabilities.Credentials, m.Credential.Type) {
			err = fmt.Errorf("%w: leaf does not support credential type %d used by leaf %d", ErrInvalidLeafNode, m.Credential.Type, i)
			return false
		}
		if bytes.Equal(m.SignatureKey, ln.SignatureKey) {
			err = fmt.Errorf("%w: signature_key already used by leaf %d", ErrInvalidLeafNode, i)
			return false
		}
		if bytes.Equal(m.EncryptionKey, ln.EncryptionKey) {
			err = fmt.Errorf("%w: encryption_key already used by leaf %d", ErrInvalidLeafNode, i)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	for i := range t.parents {
		if bytes.Equal(t.parents[i].key, ln.EncryptionKey) {
			return fmt.Errorf("%w: encryption_key already used by node %d", ErrInvalidLeafNode, 2*i+1)
		}
	}
	return nil
}

// checkRequired verifies capabilities list every required non-default
// extension and proposal and every required credential type (Section 11.1).
func checkRequired(caps *wire.Capabilities, req *wire.RequiredCapabilities) error {
	if req == nil {
		return nil
	}
	for _, e := range req.Extensions {
		if !isDefaultExtension(e) && !slices.Contains(caps.Extensions, e) {
			return fmt.Errorf("%w: required extension %d not supported", ErrInvalidLeafNode, e)
		}
	}
	for _, p := range req.Proposals {
		if !p.IsDefault() && !slices.Contains(caps.Proposals, p) {
			return fmt.Errorf("%w: required proposal %d not supported", ErrInvalidLeafNode, p)
		}
	}
	for _, cr := range req.Credentials {
		if !slices.Contains(caps.Credentials, cr) {
			return fmt.Errorf("%w: required credential %d not supported", ErrInvalidLeafNode, cr)
		}
	}
	return nil
}

// SupportsRequired reports whether every member supports req (Section 11.1,
// for GroupContextExtensions proposals).
func (t *Tree) SupportsRequired(req *wire.RequiredCapabilities) error {
	var err error
	t.Members(func(i LeafIndex, m *wire.LeafNode) bool {
		if e := checkRequired(&m.Capabilities, req); e != nil {
			err = fmt.Errorf("leaf %d: %w", i, e)
			return false
		}
		return true
	})
	return err
}

// VerifiedKeyPackage is a KeyPackage that passed VerifyKeyPackage: the only
// form AddKeyPackage (and the group layer's Add) accepts.
type VerifiedKeyPackage struct {
	kp  *wire.KeyPackage
	ref []byte
}

// KeyPackage returns the verified KeyPackage (must not be modified).
func (v *VerifiedKeyPackage) KeyPackage() *wire.KeyPackage { return v.kp }

// Ref returns KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", kp)
// (RFC 9420, Section 5.2).
func (v *VerifiedKeyPackage) Ref() []byte { return slices.Clone(v.ref) }

// VerifyKeyPackage performs the group-independent KeyPackage checks of RFC
// 9420, Section 10.1: version mls10 and cipher suite s, a leaf node valid for
// a KeyPackage (Section 7.3: source, keys, capabilities, extensions, lifetime
// when now is non-zero, signature), the KeyPackage signature, and init_key
// distinct from encryption_key. Group-dependent checks (required capabilities,
// credential support, key uniqueness) are ValidateLeafNode with Source
// key_package, which the group layer runs before AddKeyPackage.
func VerifyKeyPackage(s *suite.Suite, kp *wire.KeyPackage, now time.Time) (*VerifiedKeyPackage, error) {
	if kp.Version != wire.MLS10 {
		return nil, fmt.Errorf("%w: version %d", ErrInvalidKeyPackage, kp.Version)
	}
	if kp.CipherSuite != wire.CipherSuite(s.ID()) {
		return nil, fmt.Errorf("%w: cipher suite %d, group uses %d", ErrInvalidKeyPackage, kp.CipherSuite, s.ID())
	}
	ln := &kp.LeafNode
	if err := checkLeafStandalone(s, ln, wire.LeafNodeSourceKeyPackage, now); err != nil {
		return nil, fmt.Errorf("%w: leaf_node: %w", ErrInvalidKeyPackage, err)
	}
	if err := VerifyLeafSignature(s, ln, nil, 0); err != nil {
		return nil, fmt.Errorf("%w: leaf_node: %w", ErrInvalidKeyPackage, err)
	}
	if err := s.ValidateHPKEPublicKey(kp.InitKey); err != nil {
		return nil, fmt.Errorf("%w: init_key: %w", ErrInvalidKeyPackage, err)
	}
	if bytes.Equal(kp.InitKey, ln.EncryptionKey) {
		return nil, fmt.Errorf("%w: init_key equals leaf encryption_key", ErrInvalidKeyPackage)
	}
	if err := s.VerifyWithLabel(ln.SignatureKey, labelKeyPackageTBS, kp.AppendTBS(nil), kp.Signature); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrInvalidKeyPackage, err)
	}
	raw := kp.Raw
	if raw == nil {
		raw = kp.Marshal()
	}
	return &VerifiedKeyPackage{kp: kp, ref: s.RefHash("MLS 1.0 KeyPackage Reference", raw)}, nil
}

// TreeCheck carries the parameters of Validate.
type TreeCheck struct {
	GroupID  []byte
	TreeHash []byte // if non-nil, must equal the computed root tree hash
	Now      time.Time
	Required *wire.RequiredCapabilities
	// CredentialValidator as in LeafCheck.
	CredentialValidator func(cred *wire.Credential, signatureKey []byte) error
}

// Validate performs the ratchet-tree integrity checks of a joiner (RFC 9420,
// Section 12.4.3.1): tree hash, parent-hash validity of every non-blank
// parent (Section 7.9.2), every leaf valid (Section 7.3, including its
// signature and key uniqueness), unmerged leaves being non-blank descendants
// listed at every non-blank intermediate node, and parent encryption keys
// unique in the tree.
func (t *Tree) Validate(c TreeCheck) error {
	if len(t.leaves) == 0 {
		return fmt.Errorf("%w: empty tree", ErrInvalidTree)
	}
	if c.TreeHash != nil && !bytes.Equal(c.TreeHash, t.nodeHash(t.Root())) {
		return fmt.Errorf("%w: tree hash mismatch", ErrInvalidTree)
	}
	if err := t.VerifyParentHashes(); err != nil {
		return err
	}
	// Leaf signatures and standalone checks are independent: spread them
	// over the cores, then do the checks that need the whole tree.
	if err := t.verifyLeavesParallel(c.GroupID, c.Now); err != nil {
		return err
	}
	// Leaves: credentials, capabilities, uniqueness.
	sigKeys := make(map[string]LeafIndex, len(t.leaves))
	encKeys := make(map[string]NodeIndex, len(t.leaves)*2)
	var credTypes []wire.CredentialType
	var err error
	t.Members(func(i LeafIndex, m *wire.LeafNode) bool {
		if !slices.Contains(credTypes, m.Credential.Type) {
			credTypes = append(credTypes, m.Credential.Type)
		}
		if c.CredentialValidator != nil {
			if e := c.CredentialValidator(&m.Credential, m.SignatureKey); e != nil {
				err = fmt.Errorf("leaf %d: %w: credential: %w", i, ErrInvalidLeafNode, e)
				return false
			}
		}
		if e := checkRequired(&m.Capabilities, c.Required); e != nil {
			err = fmt.Errorf("leaf %d: %w", i, e)
			return false
		}
		if j, dup := sigKeys[string(m.SignatureKey)]; dup {
			err = fmt.Errorf("%w: leaves %d and %d share a signature_key", ErrInvalidLeafNode, j, i)
			return false
		}
		sigKeys[string(m.SignatureKey)] = i
		if j, dup := encKeys[string(m.EncryptionKey)]; dup {
			err = fmt.Errorf("%w: nodes %d and %d share an encryption_key", ErrInvalidTree, j, i.Node())
			return false
		}
		encKeys[string(m.EncryptionKey)] = i.Node()
		return true
	})
	if err != nil {
		return err
	}
	// Every member supports every credential type in use.
	t.Members(func(i LeafIndex, m *wire.LeafNode) bool {
		for _, ct := range credTypes {
			if !slices.Contains(m.Capabilities.Credentials, ct) {
				err = fmt.Errorf("%w: leaf %d does not support credential type %d in use", ErrInvalidLeafNode, i, ct)
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return t.VerifyUnmergedLeaves()
}

// VerifyUnmergedLeaves checks every unmerged_leaves entry of every non-blank
// parent names a non-blank descendant leaf listed at every non-blank node in
// between, without repeats, and that no encryption key appears in two nodes
// (RFC 9420, Section 12.4.3.1).
func (t *Tree) VerifyUnmergedLeaves() error {
	encKeys := make(map[string]NodeIndex, 2*len(t.leaves))
	for i := range t.leaves {
		if t.leaves[i].blank() {
			continue
		}
		x := LeafIndex(i).Node()
		if j, dup := encKeys[string(t.leaves[i].node.EncryptionKey)]; dup {
			return fmt.Errorf("%w: nodes %d and %d share an encryption_key", ErrInvalidTree, j, x)
		}
		encKeys[string(t.leaves[i].node.EncryptionKey)] = x
	}
	n := t.NumLeaves()
	for pi := range t.parents {
		p := &t.parents[pi]
		if p.blank() {
			continue
		}
		x := NodeIndex(2*pi + 1)
		if j, dup := encKeys[string(p.key)]; dup {
			return fmt.Errorf("%w: nodes %d and %d share an encryption_key", ErrInvalidTree, j, x)
		}
		encKeys[string(p.key)] = x
		for k, u := range p.unmerged {
			ul := LeafIndex(u)
			if slices.Contains(p.unmerged[:k], u) {
				return fmt.Errorf("%w: node %d lists unmerged leaf %d twice", ErrInvalidTree, x, u)
			}
			if u >= n || t.leaves[ul].blank() || !treemath.IsInSubtree(ul.Node(), x) {
				return fmt.Errorf("%w: node %d: unmerged leaf %d is not a non-blank descendant", ErrInvalidTree, x, u)
			}
			for _, a := range treemath.DirectPath(nil, ul.Node(), n) {
				if a == x {
					break
				}
				if ap := &t.parents[a>>1]; !ap.blank() && !slices.Contains(ap.unmerged, u) {
					return fmt.Errorf("%w: node %d lacks unmerged leaf %d listed at ancestor %d", ErrInvalidTree, a, u, x)
				}
			}
		}
	}
	return nil
}

// verifyLeavesParallel runs the standalone checks and the signature check of
// every non-blank leaf, on GOMAXPROCS goroutines when there are many, and
// returns the error of the lowest failing leaf.
func (t *Tree) verifyLeavesParallel(groupID []byte, now time.Time) error {
	var idx []LeafIndex
	t.Members(func(i LeafIndex, _ *wire.LeafNode) bool { idx = append(idx, i); return true })
	check := func(i LeafIndex) error {
		m := t.leaves[i].node
		if e := checkLeafStandalone(t.s, m, m.Source, now); e != nil {
			return fmt.Errorf("leaf %d: %w", i, e)
		}
		if e := VerifyLeafSignature(t.s, m, groupID, i); e != nil {
			return fmt.Errorf("leaf %d: %w", i, e)
		}
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(idx)/16+1)
	errs := make([]error, len(idx))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(idx) {
					return
				}
				errs[k] = check(idx[k])
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// FindLeaf returns the index of the leaf whose encoding equals ln's.
func (t *Tree) FindLeaf(ln *wire.LeafNode) (LeafIndex, bool) {
	raw := ln.Raw
	if raw == nil {
		raw = ln.Marshal()
	}
	for i := range t.leaves {
		if !t.leaves[i].blank() && bytes.Equal(t.leaves[i].node.Raw, raw) {
			return LeafIndex(i), true
		}
	}
	return 0, false
}
