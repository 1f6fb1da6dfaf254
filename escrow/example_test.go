package escrow_test

import (
	"bytes"
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/escrow"
)

// A member builds the escrow record of its epoch; another member verifies it
// byte for byte; three of five trustees release their shares; the authority
// recovers the epoch secrets.
func Example() {
	var params escrow.Params
	var trusteeKeys [][]byte
	params.K = 3
	for i := 0; i < 5; i++ {
		sk, pk, _ := xwing.GenerateKeyPairPacked(rand.Reader)
		trusteeKeys = append(trusteeKeys, sk)
		params.TrusteeKeys = append(params.TrusteeKeys, pk)
	}
	c := escrow.Context{KeyPeriod: 1, GroupID: []byte("group"), Epoch: 7}
	p := escrow.Secrets{EncryptionSecret: bytes.Repeat([]byte{1}, 32), SenderDataSecret: bytes.Repeat([]byte{2}, 32)}

	rec, _ := escrow.Build(c, p, params)
	fmt.Println("verifies:", escrow.Verify(rec, c, p, params) == nil)

	var shares []*escrow.ReleasedShare
	for _, i := range []int{0, 2, 4} {
		s, _ := escrow.DecryptShare(rec, i, trusteeKeys[i])
		shares = append(shares, s)
	}
	r, err := escrow.Recover(rec, params, shares)
	fmt.Println("recovered:", err == nil && bytes.Equal(r.Secrets.EncryptionSecret, p.EncryptionSecret), "liars:", len(r.Liars))
	// Output:
	// verifies: true
	// recovered: true liars: 0
}
