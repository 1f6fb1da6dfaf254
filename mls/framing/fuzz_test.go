package framing

import (
	"bytes"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

// seeds returns the framing encodings found in the vectors: PublicMessage
// and PrivateMessage bodies of message-protection.json, and
// AuthenticatedContent of transcript-hashes.json.
func seeds(f *testing.F) (pub, priv, ac [][]byte) {
	var mp []protectionVector
	testkit.LoadVectors(f, "message-protection.json", &mp)
	for _, v := range mp {
		pub = append(pub, v.ProposalPub[4:], v.CommitPub[4:])
		priv = append(priv, v.ProposalPriv[4:], v.CommitPriv[4:], v.ApplicationPriv[4:])
	}
	var th []struct {
		CipherSuite                  uint16           `json:"cipher_suite"`
		ConfirmationKey              testkit.HexBytes `json:"confirmation_key"`
		AuthenticatedContent         testkit.HexBytes `json:"authenticated_content"`
		InterimTranscriptHashBefore  testkit.HexBytes `json:"interim_transcript_hash_before"`
		ConfirmedTranscriptHashAfter testkit.HexBytes `json:"confirmed_transcript_hash_after"`
		InterimTranscriptHashAfter   testkit.HexBytes `json:"interim_transcript_hash_after"`
	}
	testkit.LoadVectors(f, "transcript-hashes.json", &th)
	for _, v := range th {
		ac = append(ac, v.AuthenticatedContent)
	}
	return pub, priv, ac
}

// FuzzParsePublicMessage: parse, re-marshal, compare bytes.
func FuzzParsePublicMessage(f *testing.F) {
	pub, _, _ := seeds(f)
	for _, s := range pub {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pm, err := ParsePublicMessage(data, testBody)
		if err != nil {
			return
		}
		re, err := pm.Marshal()
		if err != nil {
			t.Fatalf("parsed message does not marshal: %v", err)
		}
		if !bytes.Equal(re, data) {
			t.Fatalf("round trip mismatch:\n in  %x\n out %x", data, re)
		}
	})
}

// FuzzParsePrivateMessage: parse, re-marshal, compare bytes.
func FuzzParsePrivateMessage(f *testing.F) {
	_, priv, _ := seeds(f)
	for _, s := range priv {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pm, err := ParsePrivateMessage(data)
		if err != nil {
			return
		}
		re, err := pm.Marshal()
		if err != nil {
			t.Fatalf("parsed message does not marshal: %v", err)
		}
		if !bytes.Equal(re, data) {
			t.Fatalf("round trip mismatch:\n in  %x\n out %x", data, re)
		}
	})
}

// FuzzParseAuthenticatedContent: parse, re-marshal, compare bytes; the
// FramedContent inside round-trips too.
func FuzzParseAuthenticatedContent(f *testing.F) {
	_, _, ac := seeds(f)
	for _, s := range ac {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAuthenticatedContent(data, testBody)
		if err != nil {
			return
		}
		re, err := a.Marshal()
		if err != nil {
			t.Fatalf("parsed content does not marshal: %v", err)
		}
		if !bytes.Equal(re, data) {
			t.Fatalf("round trip mismatch:\n in  %x\n out %x", data, re)
		}
		fc, err := a.Content.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseFramedContent(fc, testBody)
		if err != nil {
			t.Fatalf("FramedContent of a valid AuthenticatedContent does not parse: %v", err)
		}
		if re2, _ := c2.Marshal(); !bytes.Equal(re2, fc) {
			t.Fatal("FramedContent round trip mismatch")
		}
	})
}

// FuzzParseFramedContent: parse, re-marshal, compare bytes.
func FuzzParseFramedContent(f *testing.F) {
	_, _, ac := seeds(f)
	for _, s := range ac {
		f.Add(s[2 : len(s)-2]) // not exact FramedContent: lets the fuzzer find the boundary
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseFramedContent(data, testBody)
		if err != nil {
			return
		}
		re, err := c.Marshal()
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("round trip mismatch: %v", err)
		}
	})
}
