package ds

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/mls/wire"
)

// FuzzPrivateAuthenticatedData: the DS's partial decoder of a PrivateMessage
// agrees with mls/wire's full decoder on every input the latter accepts, and
// never panics.
func FuzzPrivateAuthenticatedData(f *testing.F) {
	pm := &wire.PrivateMessage{GroupID: []byte("family"), Epoch: 3, ContentType: 1,
		AuthenticatedData: bytes.Repeat([]byte{7}, 32), EncryptedSenderData: []byte{1, 2, 3}, Ciphertext: make([]byte, 100)}
	f.Add((&wire.MLSMessage{Version: 1, WireFormat: 2, Private: pm}).Marshal())
	pm.AuthenticatedData = nil
	f.Add((&wire.MLSMessage{Version: 1, WireFormat: 2, Private: pm}).Marshal())
	pm.GroupID = bytes.Repeat([]byte{1}, 300)
	pm.AuthenticatedData = bytes.Repeat([]byte{2}, 20000)
	f.Add((&wire.MLSMessage{Version: 1, WireFormat: 2, Private: pm}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		ad, err := privateAuthenticatedData(b)
		m, werr := wire.ParseMLSMessage(b)
		if werr != nil || m.Private == nil {
			return
		}
		if err != nil {
			t.Fatalf("mls/wire parses, the DS does not: %v", err)
		}
		if !bytes.Equal(ad, m.Private.AuthenticatedData) {
			t.Fatalf("authenticated_data %x, mls/wire says %x", ad, m.Private.AuthenticatedData)
		}
	})
}
