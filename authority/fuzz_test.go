package authority_test

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/authority"
)

// FuzzParseCase: a stored case either fails to parse or re-encodes to a
// case that parses to the same encoding.
func FuzzParseCase(f *testing.F) {
	f.Add([]byte(`{"format":"daylight-authority-case/1"}`))
	f.Add([]byte(`{"format":"daylight-authority-case/1","policy":"","request":{},"releases":[],"refusals":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := authority.ParseCase(data)
		if err != nil {
			return
		}
		b, err := authority.MarshalCase(c)
		if err != nil {
			return // e.g. a policy that parses but does not re-marshal canonically
		}
		c2, err := authority.ParseCase(b)
		if err != nil {
			t.Fatalf("re-encoded case does not parse: %v", err)
		}
		b2, _ := authority.MarshalCase(c2)
		if !bytes.Equal(b, b2) {
			t.Fatal("case changed in a round trip")
		}
	})
}

// FuzzParseKeys: key files parse strictly and round-trip.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(`{"format":"daylight-authority-keys/1","name":"x","kem_seed":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signing_seed":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := authority.ParseKeys(data)
		if err != nil {
			return
		}
		b, err := k.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := authority.ParseKeys(b)
		if err != nil || !bytes.Equal(k2.KEMPub, k.KEMPub) || !k2.Sign.Equal(k.Sign) || k2.Name != k.Name {
			t.Fatalf("keys changed in a round trip: %v", err)
		}
	})
}
