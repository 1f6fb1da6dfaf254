package client

import (
	"testing"

	"github.com/daylight-im/daylight/policy"
)

// TestingOnlyStartServer exposes startServer to the external test package.
func TestingOnlyStartServer(t testing.TB) string { return startServer(t) }

// TestingOnlyClaimPolicy makes c a non-compliant member: the groups it
// creates carry policy id, and it sends in them without escrowing (its
// Config.Escrow stays nil).
func TestingOnlyClaimPolicy(c *Client, id policy.ID) { c.claimed = &policy.GroupPolicy{ID: id} }
