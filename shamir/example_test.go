package shamir_test

import (
	"crypto/rand"
	"fmt"

	"github.com/daylight-im/daylight/shamir"
)

func ExampleSplit() {
	shares, _ := shamir.Split([]byte("a 32-byte data encryption key.."), 3, 5, rand.Reader)
	secret, _ := shamir.Combine([]shamir.Share{shares[4], shares[0], shares[2]})
	fmt.Println(string(secret))
	// Output: a 32-byte data encryption key..
}
