package main

import (
	"io"
	"testing"
)

// TestFrankingFlag: franking is on unless --franking=false is given.
func TestFrankingFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		off  bool
	}{{nil, false}, {[]string{"--franking"}, false}, {[]string{"--franking=true"}, false}, {[]string{"--franking=false"}, true}} {
		var o options
		fs := newFlagSet("serve", &o, io.Discard)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(tc.args, err)
		}
		if o.noFranking != tc.off {
			t.Errorf("%v: noFranking = %v, want %v", tc.args, o.noFranking, tc.off)
		}
	}
	var o options
	if err := newFlagSet("serve", &o, io.Discard).Parse([]string{"--franking=maybe"}); err == nil {
		t.Error("--franking=maybe accepted")
	}
}
