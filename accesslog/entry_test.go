package accesslog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func h(b byte) (out [32]byte) {
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

// examples holds one filled entry of each type; tests and fuzz seeds use them.
func examples() []Entry {
	return []Entry{
		&Policy{PolicyID: h(1), SignedPolicy: []byte("signed policy document"), Time: 1764000000},
		&WarrantCommitment{Commitment: h(2), PolicyID: h(1), Court: "Tribunal judiciaire de Paris", Jurisdiction: "FR", NumTargets: 2,
			WindowStart: 1763000000, WindowEnd: 1763600000, EmbargoEnd: 1779000000, Filed: 1764000100},
		&Release{WarrantCommitment: h(2), Trustee: "trustee.example/oversight", Count: 14, RecordsHash: h(3), Time: 1764000200, Signature: bytes.Repeat([]byte{7}, 64)},
		&Opening{WarrantCommitment: h(2), Trustee: "trustee.example/oversight", Time: 1779000001, Sealed: []byte("ciphertext")},
		&Evidence{Kind: EvidenceAbuseReport, Digest: h(4), Jurisdiction: "DE", Time: 1764000300, Ref: "case-17"},
		&KeyDirectory{Epoch: 42, Root: h(5), Time: 1764000400, Signature: bytes.Repeat([]byte{9}, 64)},
		&Request{RequestID: h(6), Jurisdiction: "US", Authority: "FBI", Instrument: "CLOUD Act agreement", Category: "content", State: "received", Reason: "", Time: 1764000500},
		&TrusteeKey{Trustee: "trustee.example/court", Period: 7, PublicKey: bytes.Repeat([]byte{1}, 1216), NotBefore: 1760000000, NotAfter: 1762592000, DestroyBy: 1778144000, Time: 1760000000, Signature: []byte{1, 2, 3}},
	}
}

func TestRoundTripEveryType(t *testing.T) {
	seen := map[Type]bool{}
	for _, e := range examples() {
		t.Run(e.Type().String(), func(t *testing.T) {
			b, err := Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[:4], []byte("DLAL")) || b[4] != Version || Type(b[5]) != e.Type() {
				t.Fatalf("envelope = %x", b[:6])
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			b2, err := Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("re-marshal differs:\n%x\n%x", b, b2)
			}
			// No strict prefix parses.
			for i := range b {
				if _, err := Parse(b[:i]); err == nil {
					t.Fatalf("prefix of %d bytes parsed", i)
				}
			}
		})
		seen[e.Type()] = true
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("type %s has no example", typ)
		}
	}
}

func TestMalformedEntriesNameTheField(t *testing.T) {
	rel, _ := Marshal(examples()[2])
	ev, _ := Marshal(examples()[4])
	badKind := append([]byte(nil), ev...)
	badKind[6] = 9
	badUTF8 := append([]byte(nil), rel...)
	badUTF8[6+32+2] = 0xff // first byte of Release.Trustee
	tests := []struct {
		name string
		in   []byte
		want error
		text string
	}{
		{"empty", nil, ErrTruncated, "envelope.magic"},
		{"bad magic", append([]byte("XXXX"), rel[4:]...), ErrBadMagic, "envelope.magic"},
		{"version 2", append(append([]byte("DLAL"), 2), rel[5:]...), ErrUnsupportedVersion, "envelope.version"},
		{"unknown type", append([]byte("DLAL\x01\x63"), rel[6:]...), ErrUnknownType, "envelope.type"},
		{"truncated signature", rel[:len(rel)-1], ErrTruncated, "Release.Signature"},
		{"truncated trustee", rel[:6+32+3], ErrTruncated, "Release.Trustee"},
		{"trailing byte", append(append([]byte(nil), rel...), 0), ErrTrailingData, "Release"},
		{"unknown evidence kind", badKind, ErrUnknownKind, "Evidence.Kind"},
		{"invalid utf-8", badUTF8, ErrInvalidUTF8, "Release.Trustee"},
		{"too large", make([]byte, MaxEntrySize+1), ErrTooLarge, "entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err %q does not name %q", err, tt.text)
			}
		})
	}
}

func TestMarshalRejectsBadFields(t *testing.T) {
	if _, err := Marshal(&Evidence{Kind: 0}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("Evidence kind 0: %v", err)
	}
	if _, err := Marshal(&Request{State: "\xff"}); !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "Request.State") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := Marshal(&Policy{SignedPolicy: make([]byte, MaxEntrySize)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized policy: %v", err)
	}
}

func TestSignedMessageExcludesSignature(t *testing.T) {
	r := examples()[2].(*Release)
	full, _ := Marshal(r)
	msg, err := r.SignedMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(full, msg) || len(full) != len(msg)+2+len(r.Signature) {
		t.Fatalf("signed message is not the entry minus its Signature field")
	}
	r2 := *r
	r2.Signature = []byte("other")
	msg2, _ := r2.SignedMessage()
	if !bytes.Equal(msg, msg2) {
		t.Fatal("signed message depends on the signature")
	}
}

func TestParseAs(t *testing.T) {
	b, _ := Marshal(examples()[2])
	if r, err := ParseAs[*Release](b); err != nil || r.Count != 14 {
		t.Fatalf("ParseAs[*Release] = %v, %v", r, err)
	}
	if _, err := ParseAs[*Opening](b); err == nil {
		t.Fatal("a Release parsed as an Opening")
	}
}

// fuzzRoundTrip: whatever parses re-marshals to the same bytes.
func fuzzRoundTrip(f *testing.F, typ Type) {
	for _, e := range examples() {
		if e.Type() == typ {
			b, err := Marshal(e)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 6 {
			b[5] = byte(typ) // keep the fuzzer on this type
		}
		e, err := Parse(b)
		if err != nil {
			return
		}
		if e.Type() != typ {
			t.Fatalf("parsed type %s", e.Type())
		}
		out, err := Marshal(e)
		if err != nil {
			t.Fatalf("parsed entry does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip differs:\n%x\n%x", b, out)
		}
	})
}

func FuzzPolicy(f *testing.F)            { fuzzRoundTrip(f, TypePolicy) }
func FuzzWarrantCommitment(f *testing.F) { fuzzRoundTrip(f, TypeWarrantCommitment) }
func FuzzRelease(f *testing.F)           { fuzzRoundTrip(f, TypeRelease) }
func FuzzOpening(f *testing.F)           { fuzzRoundTrip(f, TypeOpening) }
func FuzzEvidence(f *testing.F)          { fuzzRoundTrip(f, TypeEvidence) }
func FuzzKeyDirectory(f *testing.F)      { fuzzRoundTrip(f, TypeKeyDirectory) }
func FuzzRequest(f *testing.F)           { fuzzRoundTrip(f, TypeRequest) }
func FuzzTrusteeKey(f *testing.F)        { fuzzRoundTrip(f, TypeTrusteeKey) }
