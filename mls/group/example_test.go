package group_test

import (
	"bytes"
	"fmt"

	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
)

// Example shows a two-member group: create, add by KeyPackage and Welcome, send an
// application message, and process a commit (stage, inspect, merge).
func Example() {
	cfg := group.Config{}
	cs := suite.X25519AES128GCMSHA256Ed25519
	alice, _ := group.Create(cfg, cs, []byte("example"), []byte("alice"))
	bobKP, _ := group.NewKeyPackage(cfg, cs, []byte("bob"))

	res, _ := alice.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: bobKP.Message}}})
	_ = alice.MergePendingCommit()
	bob, err := group.Join(cfg, bobKP, res.Welcome, nil)
	if err != nil {
		panic(err)
	}

	ct, _ := alice.Protect(nil, []byte("hello bob"))
	r, _ := bob.Process(ct)
	fmt.Printf("%s\n", r.ApplicationData)

	res, _ = bob.Commit(group.CommitOptions{ForcePath: true})
	_ = bob.MergePendingCommit()
	r, _ = alice.Process(res.Commit)
	fmt.Println("new epoch", r.Staged.NewEpoch())
	_ = alice.Merge(r.Staged)
	fmt.Println("agree:", bytes.Equal(alice.EpochAuthenticator(), bob.EpochAuthenticator()))
	// Output:
	// hello bob
	// new epoch 2
	// agree: true
}
