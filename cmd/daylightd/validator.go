package main

import (
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
)

// newValidator returns the GroupValidator daylightd validates MLS with:
// ds/mlsvalidator (framing, KeyPackages) with its Engine over mls/group's
// PublicGroup for group creation and every handshake.
// --testing-only-fake-mls selects ds/dstest's toy framing for the load tool
// and the crash test.
func newValidator(o *options) (ds.GroupValidator, error) {
	if o.fakeMLS {
		return dstest.Fake{}, nil
	}
	return mlsvalidator.New(mlsvalidator.NewEngine(0)), nil
}
