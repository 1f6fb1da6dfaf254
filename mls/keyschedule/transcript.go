package keyschedule

import "github.com/daylight-im/daylight/mls/suite"

// ConfirmedTranscriptHash implements confirmed_transcript_hash_[epoch] =
// Hash(interim_transcript_hash_[epoch-1] || ConfirmedTranscriptHashInput)
// (RFC 9420, Section 8.2). confirmedInput is the serialized
// ConfirmedTranscriptHashInput (wire_format, FramedContent of the Commit,
// signature); interimPrev is empty for epoch 0.
func ConfirmedTranscriptHash(s *suite.Suite, interimPrev, confirmedInput []byte) []byte {
	h := s.NewHash()
	h.Write(interimPrev)
	h.Write(confirmedInput)
	return h.Sum(nil)
}

// InterimTranscriptHash implements interim_transcript_hash_[epoch] =
// Hash(confirmed_transcript_hash_[epoch] || InterimTranscriptHashInput)
// (RFC 9420, Section 8.2), where InterimTranscriptHashInput is
// struct { MAC confirmation_tag; } and MAC is opaque<V>: the function encodes
// it from the raw tag.
func InterimTranscriptHash(s *suite.Suite, confirmed, confirmationTag []byte) []byte {
	h := s.NewHash()
	h.Write(confirmed)
	h.Write(appendVarint(nil, len(confirmationTag)))
	h.Write(confirmationTag)
	return h.Sum(nil)
}

// appendVarint appends the minimal variable-length vector header for n
// (RFC 9420, Section 2.1.2); n is at most a MAC length here.
func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	default:
		return append(b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
