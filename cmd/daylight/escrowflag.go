package main

import (
	"fmt"
	"os"

	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/policy"
)

// escrowPolicy reads the signed access policy named by $DAYLIGHT_ESCROW_POLICY
// (a policy.Signed file, as the provider published it): with it the client
// escrows each epoch of its groups under that policy (client.Config.Escrow,
// docs/lawful-access.md "Upload"). Unset: no escrow. The policy is checked
// (every trustee and the provider signed it) before use.
func escrowPolicy() (*client.EscrowPolicy, error) {
	path := os.Getenv("DAYLIGHT_ESCROW_POLICY")
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("$DAYLIGHT_ESCROW_POLICY: %w", err)
	}
	s, err := policy.ParseSigned(b)
	if err != nil {
		return nil, fmt.Errorf("$DAYLIGHT_ESCROW_POLICY %s: %w", path, err)
	}
	v, err := policy.Verify(s)
	if err != nil {
		return nil, fmt.Errorf("$DAYLIGHT_ESCROW_POLICY %s: %w", path, err)
	}
	return &client.EscrowPolicy{Policy: v}, nil
}
