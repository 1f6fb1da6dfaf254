package franking_test

import (
	"crypto/rand"
	"fmt"

	"github.com/daylight-im/daylight/franking"
)

// Sender frames a message, the server stamps its commitment, the recipient
// checks it on receipt and later reports it; the provider verifies the report.
func Example() {
	group := []byte("group-1")
	alice := franking.Sender{Account: "alice", Device: "phone"}

	content, commitment, _ := franking.Protect(rand.Reader, group, alice, []byte("buy my pills"))
	// content goes into the MLS application_data, commitment into authenticated_data.

	key := make([]byte, franking.KeySize)
	rand.Read(key)
	server, _ := franking.NewStamper(key)
	stamp, _ := server.Stamp(commitment, alice, group, 1700000000000)

	text, kf, err := franking.Unprotect(content, commitment, group, alice)
	fmt.Println("accepted:", err == nil, string(text))

	v, err := server.VerifyReport(&franking.Report{Plaintext: text, Key: kf, Stamp: *stamp})
	fmt.Println("report verified:", err == nil, v.Sender.Account)
	// Output:
	// accepted: true buy my pills
	// report verified: true alice
}
