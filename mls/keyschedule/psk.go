package keyschedule

import (
	"fmt"

	"github.com/daylight-im/daylight/mls/suite"
)

// PSK is one pre-shared key injected into an epoch: the serialized
// PreSharedKeyID (RFC 9420, Section 8.4; produced by mls/wire) and the PSK
// value (an external PSK, or a ResumptionPSK's Bytes).
type PSK struct {
	ID     []byte
	Secret []byte
}

// PSKSecret is psk_secret (RFC 9420, Section 8.4).
type PSKSecret struct{ secret }

// ZeroPSKSecret returns psk_secret_[0], the all-zero psk_secret of an epoch
// without PSKs.
func ZeroPSKSecret(s *suite.Suite) *PSKSecret {
	return &PSKSecret{secret{s: s, b: make([]byte, s.Nh())}}
}

// maxPSKs is the largest count a uint16 PSKLabel.count can carry.
const maxPSKs = 1<<16 - 1

// ComputePSKSecret implements the PSK chaining of RFC 9420, Section 8.4, in
// the order given (the order of the Commit's PreSharedKey proposals or of
// GroupSecrets.psks):
//
//	psk_extracted_[i] = KDF.Extract(0, psk_[i])
//	psk_input_[i] = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel{id, i, n}, Nh)
//	psk_secret_[i+1] = KDF.Extract(psk_input_[i], psk_secret_[i])
//
// With no PSKs it returns the all-zero psk_secret.
func ComputePSKSecret(s *suite.Suite, psks []PSK) (*PSKSecret, error) {
	if len(psks) > maxPSKs {
		return nil, fmt.Errorf("mls/keyschedule: %d PSKs exceed PSKLabel.count", len(psks))
	}
	acc := make([]byte, s.Nh())
	zero := make([]byte, s.Nh())
	n := len(psks)
	for i, p := range psks {
		if len(p.ID) == 0 {
			return nil, fmt.Errorf("mls/keyschedule: psks[%d]: empty PreSharedKeyID", i)
		}
		extracted := s.Extract(zero, p.Secret)
		label := make([]byte, 0, len(p.ID)+4)
		label = append(label, p.ID...)
		label = append(label, byte(i>>8), byte(i), byte(n>>8), byte(n))
		input := s.ExpandWithLabel(extracted, "derived psk", label, s.Nh())
		next := s.Extract(input, acc)
		clear(extracted)
		clear(input)
		clear(acc)
		acc = next
	}
	return &PSKSecret{secret{s: s, b: acc}}, nil
}
