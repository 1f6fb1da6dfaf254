package main

import (
	"flag"
	"strconv"
)

// addFrankingFlag registers --franking (default true). Turning franking off
// is for measuring its cost (daylight-load --franking=false,
// docs/benchmarks.md): without it the DS stamps nothing, consults no
// suspensions, and the moderation service (report intake, console) is not
// mounted.
func addFrankingFlag(fs *flag.FlagSet, o *options) {
	fs.Var((*frankingFlag)(o), "franking", "stamp franked messages, refuse suspended accounts, run the moderation service (false only to measure franking's cost)")
}

// frankingFlag is --franking as a boolean flag over options.noFranking, so
// that the zero options value keeps franking on.
type frankingFlag options

func (f *frankingFlag) String() string {
	if f == nil {
		return "true"
	}
	return strconv.FormatBool(!f.noFranking)
}

func (f *frankingFlag) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	f.noFranking = !on
	return nil
}

func (f *frankingFlag) IsBoolFlag() bool { return true }
