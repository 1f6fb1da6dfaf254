package secrettree_test

import (
	"bytes"
	"fmt"

	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
)

func Example() {
	s, _ := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	newTree := func() *secrettree.Tree {
		enc, _ := keyschedule.NewEncryptionSecret(s, bytes.Repeat([]byte{7}, s.Nh()))
		t, _ := secrettree.New(s, enc, 4, secrettree.Config{})
		return t
	}
	sender, receiver := newTree(), newTree()

	gen, key, nonce, _ := sender.Next(2, secrettree.Application)
	err := receiver.Open(2, secrettree.Application, gen, func(k, n []byte) error {
		fmt.Println(bytes.Equal(k, key) && bytes.Equal(n, nonce))
		return nil // decryption succeeded: the key is consumed
	})
	fmt.Println(err)
	// A replay of the same generation finds no key.
	fmt.Println(receiver.Open(2, secrettree.Application, gen, func(k, n []byte) error { return nil }) != nil)
	// Output:
	// true
	// <nil>
	// true
}
