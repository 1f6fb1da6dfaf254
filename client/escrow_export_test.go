package client

import (
	"context"

	"github.com/daylight-im/daylight/escrow"
)

// TestingOnlyEpochSecrets returns P of the group's current epoch as this
// client escrows it, for tests that check what recovery yields.
func TestingOnlyEpochSecrets(c *Client, ref string) (escrow.Secrets, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs, err := c.activeGroup(context.Background(), ref)
	if err != nil {
		return escrow.Secrets{}, err
	}
	return epochSecrets(gs.m.g)
}
