package keyschedule_test

import (
	"bytes"
	"fmt"

	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/suite"
)

func Example() {
	s, _ := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	groupContext := []byte("serialized GroupContext of epoch n") // from mls/wire

	init, _ := keyschedule.NewInitSecret(s, bytes.Repeat([]byte{1}, s.Nh()))
	commit := keyschedule.ZeroCommitSecret(s) // or the UpdatePath's commit_secret
	joiner, _ := init.JoinerSecret(commit, groupContext)
	psk, _ := keyschedule.ComputePSKSecret(s, nil) // no PSKs
	epoch, _ := joiner.EpochSecret(psk, groupContext)
	secrets := epoch.Derive()

	// Merge: the consumed stages are deleted (RFC 9420, Section 9.2).
	init.Destroy()
	commit.Destroy()
	joiner.Destroy()
	epoch.Destroy()

	fmt.Println(len(secrets.EpochAuthenticator), len(secrets.Exporter.Export("app", nil, 16)))
	// Output: 32 16
}
