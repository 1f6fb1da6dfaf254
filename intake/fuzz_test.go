package intake_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
)

// FuzzParseAgreements: whatever parses re-encodes to a canonical form that
// parses to the same canonical form.
func FuzzParseAgreements(f *testing.F) {
	fx := intaketest.New(f)
	b, _ := fx.Agreements.Marshal()
	f.Add(b)
	f.Add([]byte(`{"version":1,"provider_jurisdiction":"US","agreements":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := intake.ParseAgreements(data)
		if err != nil {
			return
		}
		c1, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		a2, err := intake.ParseAgreements(c1)
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := a2.Marshal()
		if !bytes.Equal(c1, c2) {
			t.Fatal("canonical form not stable")
		}
	})
}

// FuzzParseRequest: a request parses only in canonical form, so parse then
// re-marshal gives the input back byte for byte; no strict prefix parses.
func FuzzParseRequest(f *testing.F) {
	b, _ := intaketest.Valid(1767225600, "seed").Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := intake.ParseRequest(data)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip: %v\n%s\n%s", err, data, out)
		}
		if _, err := intake.ParseRequest(data[:len(data)-1]); err == nil {
			t.Fatal("a strict prefix parsed")
		}
	})
}

// FuzzParseSigned: signed requests parse strictly and re-encode.
func FuzzParseSigned(f *testing.F) {
	fx := intaketest.New(f)
	f.Add(fx.Sign(f, intaketest.Valid(1767225600, "seed")))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, r, err := intake.ParseSigned(data)
		if err != nil {
			return
		}
		out, _ := s.Marshal()
		s2, r2, err := intake.ParseSigned(out)
		if err != nil || !bytes.Equal(s2.Body, s.Body) || !bytes.Equal(s2.Signature, s.Signature) || r2.Nonce != r.Nonce {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzVerifyAnswer: answer bundles decode strictly; a bundle that verifies
// re-encodes to one that verifies to the same answer.
func FuzzVerifyAnswer(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	b, _ := intake.SignAnswer(&intake.AnswerBody{Version: 1, Request: "00", Jurisdiction: "UK", Authority: "a", Category: intake.Subscriber,
		Answered: 1, Accounts: []intake.AccountData{{Account: "m", Exists: true, Created: 5}}}, priv)
	enc, _ := b.Marshal()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := intake.VerifyAnswer(data, pub)
		if err != nil {
			return
		}
		var bb intake.Bundle
		if err := json.Unmarshal(data, &bb); err != nil {
			t.Fatal(err)
		}
		out, _ := bb.Marshal()
		a2, err := intake.VerifyAnswer(out, pub)
		if err != nil || a2.Request != a.Request || len(a2.Accounts) != len(a.Accounts) {
			t.Fatalf("re-encoded bundle: %v", err)
		}
	})
}
