package client

import (
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/policy"
)

// The group's access policy in its GroupContext (A10, docs/lawful-access.md
// "Visible policy"). Every group this client creates carries the
// policy.ExtensionType extension naming the policy it escrows under (or
// none), and every leaf it makes lists the type in its capabilities, so only
// clients that understand the extension can be added. A group whose policy
// is not the one this client accepts (its Config.Escrow policy, or none when
// it has none) is shown with a warning and refuses sending: the client never
// escrows under, nor sends into, a policy its user did not accept. A group
// without the extension (made by another MLS client) counts as "none".

// ErrGroupPolicy reports a group whose access policy this client does not accept.
var ErrGroupPolicy = errors.New("client: the group's access policy is not the one this client accepts")

// acceptedPolicy is the group policy this client accepts.
func (c *Client) acceptedPolicy() policy.GroupPolicy {
	if c.claimed != nil {
		return *c.claimed
	}
	if c.cfg.Escrow == nil || c.cfg.Escrow.Policy == nil {
		return policy.GroupPolicy{None: true}
	}
	return policy.GroupPolicy{ID: c.cfg.Escrow.Policy.ID}
}

// groupPolicyExtensions is what a group this client creates carries.
func (c *Client) groupPolicyExtensions() []group.Extension {
	return []group.Extension{{Type: policy.ExtensionType, Data: c.acceptedPolicy().Marshal()}}
}

// groupPolicy reads a group's policy from its GroupContext.
func groupPolicy(g *group.Group) (policy.GroupPolicy, error) {
	for _, e := range g.Extensions() {
		if e.Type == policy.ExtensionType {
			return policy.ParseGroupPolicy(e.Data)
		}
	}
	return policy.GroupPolicy{None: true}, nil
}

// checkGroupPolicy returns ErrGroupPolicy, with what the group says and what
// this client accepts, unless the two are the same.
func (c *Client) checkGroupPolicy(g *group.Group) error {
	got, err := groupPolicy(g)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrGroupPolicy, err)
	}
	if want := c.acceptedPolicy(); got != want {
		return fmt.Errorf("%w: the group says %s, this client accepts %s", ErrGroupPolicy, got, want)
	}
	return nil
}
