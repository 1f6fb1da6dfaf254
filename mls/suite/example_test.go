package suite_test

import (
	"crypto/rand"
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
)

func Example() {
	s, err := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	if err != nil {
		panic(err)
	}
	// HPKE: encrypt a path secret to a node key (RFC 9420, Section 5.1.3).
	priv, pub, _ := s.GenerateKeyPair(rand.Reader)
	kemOutput, ct, _ := s.EncryptWithLabel(pub, "UpdatePathNode", []byte("group context"), []byte("path secret"))
	pt, _ := s.DecryptWithLabel(priv, "UpdatePathNode", []byte("group context"), kemOutput, ct)
	fmt.Println(string(pt))

	// Signatures (Section 5.1.2), with a parsed key for repeated use.
	sigPriv, sigPub, _ := s.GenerateSignatureKey(rand.Reader)
	signer, _ := s.NewSigner(sigPriv)
	sig, _ := signer.SignWithLabel("LeafNodeTBS", []byte("leaf"))
	fmt.Println(s.VerifyWithLabel(sigPub, "LeafNodeTBS", []byte("leaf"), sig))
	// Output:
	// path secret
	// <nil>
}

func ExampleRegistry() {
	// Another stack numbers the X-Wing suite 0xF001.
	r, _ := suite.NewRegistry(0xF001)
	s, _ := r.Lookup(0xF001)
	kem, _, _ := s.HPKEIDs()
	fmt.Printf("%#04x %#04x\n", uint16(s.ID()), kem)
	// Output: 0xf001 0x647a
}
