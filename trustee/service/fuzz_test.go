package service

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzReleaseRequest: whatever the body, decoding and conversion never
// panic, and an accepted request survives a round trip through the wire
// format unchanged.
func FuzzReleaseRequest(f *testing.F) {
	f.Add([]byte(`{"warrant":"AAAA","salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","warrant_entry":"","warrant_proof":"","records":[{"record":"","epoch_evidence":""}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"records":[]} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ReleaseRequest
		if err := decodeStrict(bytes.NewReader(data), &r); err != nil {
			return
		}
		req, err := r.ToTrustee()
		if err != nil {
			return
		}
		b, err := json.Marshal(FromTrustee(req))
		if err != nil {
			t.Fatal(err)
		}
		var r2 ReleaseRequest
		if err := decodeStrict(bytes.NewReader(b), &r2); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		req2, err := r2.ToTrustee()
		if err != nil {
			t.Fatalf("re-encoded request does not convert: %v", err)
		}
		if !bytes.Equal(req2.Warrant.Marshal(), req.Warrant.Marshal()) || req2.Salt != req.Salt || len(req2.Records) != len(req.Records) ||
			!bytes.Equal(req2.WarrantEntry.Checkpoint, req.WarrantEntry.Checkpoint) || req2.WarrantEntry.Index != req.WarrantEntry.Index {
			t.Fatal("round trip changed the request")
		}
	})
}
