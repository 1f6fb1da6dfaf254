package evidence

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// This file holds the little of RFC 9420 an offline verifier needs to check
// that a message's text is what its sender signed: the variable-length
// integer (Section 2.1.2), FramedContentTBS (Section 6.1) for application
// messages, and SignWithLabel (Section 5.1.2) for the Ed25519 cipher suites.
// It is deliberately independent of mls/... so that daylight-verify checks a
// bundle with code that did not produce it.

var errTBS = errors.New("FramedContentTBS")

type tbsReader struct {
	b   []byte
	err error
}

func (r *tbsReader) fail(field string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: malformed", errTBS, field)
	}
}

func (r *tbsReader) take(n int, field string) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.fail(field)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *tbsReader) uint(n int, field string) uint64 {
	var v uint64
	for _, c := range r.take(n, field) {
		v = v<<8 | uint64(c)
	}
	return v
}

// varint implements the variable-length integer of RFC 9420, Section 2.1.2,
// rejecting non-minimal encodings and the reserved 0b11 prefix.
func (r *tbsReader) varint(field string) int {
	if r.err != nil || len(r.b) == 0 {
		r.fail(field)
		return 0
	}
	prefix := r.b[0] >> 6
	if prefix == 3 {
		r.fail(field)
		return 0
	}
	n := 1 << prefix
	raw := r.take(n, field)
	if raw == nil {
		return 0
	}
	v := uint64(raw[0] & 0x3f)
	for _, c := range raw[1:] {
		v = v<<8 | uint64(c)
	}
	if (n == 2 && v < 64) || (n == 4 && v < 16384) {
		r.fail(field + " (non-minimal length)")
		return 0
	}
	return int(v)
}

func (r *tbsReader) vector(field string) []byte { return r.take(r.varint(field), field) }

// contentTBS is the part of a FramedContentTBS a bundle relies on.
type contentTBS struct {
	WireFormat      uint16
	GroupID         []byte
	Epoch           uint64
	LeafIndex       uint32
	AuthData        []byte
	ApplicationData []byte
	Context         []byte // the GroupContext, raw
}

// parseApplicationTBS parses a FramedContentTBS (RFC 9420, Section 6.1) of an
// application message from a member, including its GroupContext, strictly.
func parseApplicationTBS(b []byte) (*contentTBS, error) {
	r := &tbsReader{b: b}
	var c contentTBS
	if r.uint(2, "version") != 1 {
		r.fail("version (want mls10)")
	}
	c.WireFormat = uint16(r.uint(2, "wire_format"))
	if c.WireFormat != 1 && c.WireFormat != 2 {
		r.fail("wire_format (want public or private message)")
	}
	c.GroupID = r.vector("content.group_id")
	c.Epoch = r.uint(8, "content.epoch")
	if r.uint(1, "content.sender.sender_type") != 1 {
		r.fail("content.sender.sender_type (want member)")
	}
	c.LeafIndex = uint32(r.uint(4, "content.sender.leaf_index"))
	c.AuthData = r.vector("content.authenticated_data")
	if r.uint(1, "content.content_type") != 1 {
		r.fail("content.content_type (want application)")
	}
	c.ApplicationData = r.vector("content.application_data")
	// GroupContext (Section 8.1), present because the sender is a member.
	c.Context = r.b
	if r.uint(2, "context.version") != 1 {
		r.fail("context.version")
	}
	r.uint(2, "context.cipher_suite")
	gid := r.vector("context.group_id")
	epoch := r.uint(8, "context.epoch")
	r.vector("context.tree_hash")
	r.vector("context.confirmed_transcript_hash")
	r.vector("context.extensions")
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errTBS, len(r.b))
	}
	if string(gid) != string(c.GroupID) || epoch != c.Epoch {
		return nil, fmt.Errorf("%w: group context names another group or epoch than the content", errTBS)
	}
	return &c, nil
}

func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	default:
		return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
}

// signContent encodes SignContent (RFC 9420, Section 5.1.2) for label.
func signContent(label string, content []byte) []byte {
	full := "MLS 1.0 " + label
	b := appendVarint(nil, len(full))
	b = append(b, full...)
	b = appendVarint(b, len(content))
	return append(b, content...)
}

// Cipher suites whose signature scheme is Ed25519 (RFC 9420, Section 17.1,
// and the X-Wing suite 0x004D).
func ed25519Suite(s uint16) bool { return s == 0x0001 || s == 0x0003 || s == 0x004D }

// verifyWithLabel implements VerifyWithLabel (RFC 9420, Section 5.1.2) for
// the Ed25519 suites.
func verifyWithLabel(suite uint16, pub []byte, label string, content, sig []byte) error {
	if !ed25519Suite(suite) {
		return fmt.Errorf("cipher suite %#04x: signature scheme not supported by this verifier", suite)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signContent(label, content), sig) {
		return errors.New("MLS signature does not verify with the signer's key")
	}
	return nil
}
