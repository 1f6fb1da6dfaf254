package wire

import (
	"github.com/daylight-im/daylight/mls/codec"
)

// RequiredCapabilities is the required_capabilities extension (RFC 9420,
// Section 11.1).
type RequiredCapabilities struct {
	Extensions  []ExtensionType
	Proposals   []ProposalType
	Credentials []CredentialType
}

// Append encodes the extension body.
func (c *RequiredCapabilities) Append(b []byte) []byte {
	b = appendU16s(b, c.Extensions)
	b = appendU16s(b, c.Proposals)
	return appendU16s(b, c.Credentials)
}

// ParseRequiredCapabilities decodes a required_capabilities body.
func ParseRequiredCapabilities(b []byte) (*RequiredCapabilities, error) {
	return parse("RequiredCapabilities", b, func(c *RequiredCapabilities, r *codec.Reader) {
		c.Extensions = readU16s[ExtensionType](r, "extension_types")
		c.Proposals = readU16s[ProposalType](r, "proposal_types")
		c.Credentials = readU16s[CredentialType](r, "credential_types")
	})
}

// ExternalSender is one entry of the external_senders extension (RFC 9420,
// Section 12.1.8.1).
type ExternalSender struct {
	SignatureKey []byte
	Credential   Credential
}

// Append encodes one ExternalSender.
func (s *ExternalSender) Append(b []byte) []byte {
	return s.Credential.Append(codec.AppendOpaque(b, s.SignatureKey))
}

func (s *ExternalSender) decode(r *codec.Reader) {
	s.SignatureKey = r.Opaque("signature_key")
	r.Enter("credential")
	s.Credential.decode(r)
	r.Leave()
}

// ParseExternalSender decodes one ExternalSender.
func ParseExternalSender(b []byte) (*ExternalSender, error) {
	return parse("ExternalSender", b, func(s *ExternalSender, r *codec.Reader) { s.decode(r) })
}

// AppendExternalSenders encodes an external_senders body.
func AppendExternalSenders(b []byte, s []ExternalSender) []byte {
	return codec.AppendVector(b, func(b []byte) []byte {
		for i := range s {
			b = s[i].Append(b)
		}
		return b
	})
}

// ParseExternalSenders decodes an external_senders body.
func ParseExternalSenders(b []byte) ([]ExternalSender, error) {
	r := codec.NewReader(b)
	out := []ExternalSender{}
	r.Vector("external_senders", func(r *codec.Reader) {
		var s ExternalSender
		s.decode(r)
		out = append(out, s)
	})
	if err := r.Finish("mls/wire: ExternalSenders"); err != nil {
		return nil, err
	}
	return out, nil
}

// AppendExternalPub encodes an external_pub body (RFC 9420, Section 12.4.3.2).
func AppendExternalPub(b, pub []byte) []byte { return codec.AppendOpaque(b, pub) }

// ParseExternalPub decodes an external_pub body.
func ParseExternalPub(b []byte) ([]byte, error) {
	r := codec.NewReader(b)
	pub := r.Opaque("external_pub")
	if err := r.Finish("mls/wire: ExternalPub"); err != nil {
		return nil, err
	}
	return pub, nil
}

// AppendApplicationID encodes an application_id body (RFC 9420, Section 5.3.3).
func AppendApplicationID(b, id []byte) []byte { return codec.AppendOpaque(b, id) }

// ParseApplicationID decodes an application_id body.
func ParseApplicationID(b []byte) ([]byte, error) {
	r := codec.NewReader(b)
	id := r.Opaque("application_id")
	if err := r.Finish("mls/wire: ApplicationID"); err != nil {
		return nil, err
	}
	return id, nil
}
