package main

import (
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
)

// newValidator returns the GroupValidator daylightd validates MLS with:
// ds/mlsvalidator over the MLS engine (KeyPackages and message framing are
// checked now; group creation and commits once mls/group's PublicGroup is
// plugged into it, until then they are refused with invalid_message).
// --testing-only-fake-mls selects ds/dstest's toy framing for the load tool
// and the crash test.
func newValidator(o *options) (ds.GroupValidator, error) {
	if o.fakeMLS {
		return dstest.Fake{}, nil
	}
	return mlsvalidator.New(nil), nil
}
