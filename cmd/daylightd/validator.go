package main

import (
	"fmt"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
)

// newValidator returns the GroupValidator daylightd validates MLS with.
//
// The adapter over mls/group's PublicGroup is not in the tree yet; until it
// is, daylightd serves accounts, devices, tokens and attachments, and refuses
// MLS messages with a clear error. --testing-only-fake-mls selects ds/dstest's
// toy framing for the load tool and the crash test.
func newValidator(o *options) (ds.GroupValidator, error) {
	if o.fakeMLS {
		return dstest.Fake{}, nil
	}
	return noMLS{}, nil
}

// noMLS refuses every MLS operation.
type noMLS struct{}

func unavailable(op string) error {
	return fmt.Errorf("%s: the MLS engine is not available in this build of daylightd: %w", op, ds.ErrInvalidMessage)
}

func (noMLS) Inspect([]byte) (ds.Envelope, error) { return ds.Envelope{}, unavailable("inspect") }
func (noMLS) NewGroup([]byte) (ds.PublicState, error) {
	return ds.PublicState{}, unavailable("group creation")
}
func (noMLS) Apply([]byte, []byte) (ds.Verdict, error) { return ds.Verdict{}, unavailable("handshake") }
func (noMLS) VerifyKeyPackage([]byte) (ds.KeyPackageInfo, error) {
	return ds.KeyPackageInfo{}, unavailable("KeyPackage")
}
