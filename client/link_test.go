package client

import (
	"bytes"
	"testing"
)

// FuzzLinkCodes: the link-code and approval parsers never panic, and what
// they accept re-encodes to the same canonical string.
func FuzzLinkCodes(f *testing.F) {
	f.Add(linkCode("phone", make([]byte, 32)))
	f.Add(approvalString(7, bytes.Repeat([]byte{1}, 64)))
	f.Add("dl-link::")
	f.Add("dl-approve:01:AA")
	f.Fuzz(func(t *testing.T, s string) {
		if name, pub, err := parseLinkCode(s); err == nil {
			if again := linkCode(name, pub); again != trimmed(s) {
				t.Fatalf("link code %q re-encodes as %q", s, again)
			}
		}
		if id, sig, err := parseApproval(s); err == nil {
			if again := approvalString(id, sig); again != trimmed(s) {
				t.Fatalf("approval %q re-encodes as %q", s, again)
			}
		}
	})
}

func trimmed(s string) string { return string(bytes.TrimSpace([]byte(s))) }
