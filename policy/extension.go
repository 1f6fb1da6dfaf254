package policy

import (
	"errors"
	"fmt"
)

// ExtensionType is the MLS GroupContext extension that carries a group's
// access policy id (A10, docs/lawful-access.md "Visible policy"), from the
// private-use range of RFC 9420, Section 17.3 (0xF000-0xFFFF). Every
// Daylight client lists it in its leaves' capabilities.extensions, so a
// group carrying it can add only clients that understand it.
const ExtensionType uint16 = 0xF0A1

// GroupPolicy is the content of the extension: the id of the signed policy
// the group's epochs are escrowed under, or none ("no escrow", a valid
// policy for a deployment that offers no lawful access).
type GroupPolicy struct {
	None bool
	ID   ID // zero when None
}

const groupPolicyVersion = 1

// Marshal encodes the extension data: struct { uint8 version = 1;
// opaque policy_id<0..255>; } where policy_id is empty for none or the
// 32-byte policy id.
func (g GroupPolicy) Marshal() []byte {
	if g.None {
		return []byte{groupPolicyVersion, 0}
	}
	return append([]byte{groupPolicyVersion, 32}, g.ID[:]...)
}

// String is the id in hex, or "none".
func (g GroupPolicy) String() string {
	if g.None {
		return "none"
	}
	return fmt.Sprintf("%x", g.ID[:])
}

// ParseGroupPolicy decodes the extension data strictly: version 1, an id of
// length 0 or 32, no trailing bytes.
func ParseGroupPolicy(b []byte) (GroupPolicy, error) {
	if len(b) < 2 {
		return GroupPolicy{}, errors.New("policy: group policy extension: truncated")
	}
	if b[0] != groupPolicyVersion {
		return GroupPolicy{}, fmt.Errorf("policy: group policy extension: version %d, want %d", b[0], groupPolicyVersion)
	}
	n := int(b[1])
	if len(b)-2 != n {
		return GroupPolicy{}, fmt.Errorf("policy: group policy extension: policy_id of %d bytes declared, %d present", n, len(b)-2)
	}
	switch n {
	case 0:
		return GroupPolicy{None: true}, nil
	case 32:
		var g GroupPolicy
		copy(g.ID[:], b[2:])
		return g, nil
	default:
		return GroupPolicy{}, fmt.Errorf("policy: group policy extension: policy_id of %d bytes, want 0 (none) or 32", n)
	}
}
