// Package accesslog defines the entries of Daylight's access log: versioned
// binary records, each in an envelope (magic, version, type), encoded
// explicitly (cryptobyte style, big-endian, uint16-length-prefixed strings and
// byte strings) and parsed strictly. docs/accesslog.md documents every type
// byte by byte.
//
// The package is pure: it does no I/O. It also holds the client-side checks
// of the log (checkpoint + witness cosignature policy, inclusion and
// consistency proofs); accesslog/tlog is the adapter that stores and serves
// the log.
package accesslog

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// magic is the first four bytes of every entry ("DLAL", Daylight Access Log).
const magic = "DLAL"

// Version is the envelope version this package writes and reads.
const Version uint8 = 1

// Type identifies the kind of an entry (the envelope's type byte).
type Type uint8

// Entry types. Values are part of the wire format; never renumber.
const (
	TypePolicy            Type = 1
	TypeWarrantCommitment Type = 2
	TypeRelease           Type = 3
	TypeOpening           Type = 4
	TypeEvidence          Type = 5
	TypeKeyDirectory      Type = 6
	TypeRequest           Type = 7
	TypeTrusteeKey        Type = 8
)

// String returns the type's name as used in docs and in daylight-verify output.
func (t Type) String() string {
	switch t {
	case TypePolicy:
		return "Policy"
	case TypeWarrantCommitment:
		return "WarrantCommitment"
	case TypeRelease:
		return "Release"
	case TypeOpening:
		return "Opening"
	case TypeEvidence:
		return "Evidence"
	case TypeKeyDirectory:
		return "KeyDirectory"
	case TypeRequest:
		return "Request"
	case TypeTrusteeKey:
		return "TrusteeKey"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Types lists every known entry type in wire order.
func Types() []Type {
	return []Type{TypePolicy, TypeWarrantCommitment, TypeRelease, TypeOpening, TypeEvidence, TypeKeyDirectory, TypeRequest, TypeTrusteeKey}
}

// Entry is one access-log record. The concrete types are *Policy,
// *WarrantCommitment, *Release, *Opening, *Evidence, *KeyDirectory, *Request
// and *TrusteeKey.
type Entry interface {
	Type() Type
	// EntryTime is the entry's Time field (unix seconds), used for per-period counts.
	EntryTime() uint64
	marshalBody(w *writer)
	parseBody(r *reader)
}

// Marshal encodes e in its envelope. It fails, naming the field, if a string
// is not valid UTF-8, a field exceeds 65535 bytes, or the whole entry exceeds
// MaxEntrySize.
func Marshal(e Entry) ([]byte, error) { return marshal(e, false) }

func marshal(e Entry, unsigned bool) ([]byte, error) {
	typ := e.Type().String()
	b := cryptobyte.NewBuilder(make([]byte, 0, 256))
	b.AddBytes([]byte(magic))
	b.AddUint8(Version)
	b.AddUint8(uint8(e.Type()))
	w := &writer{b: b, typ: typ, unsigned: unsigned}
	e.marshalBody(w)
	if w.err != nil {
		return nil, w.err
	}
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("accesslog: %s: %w", typ, err)
	}
	if len(out) > MaxEntrySize {
		return nil, fmt.Errorf("accesslog: %s: %d bytes (max %d): %w", typ, len(out), MaxEntrySize, ErrTooLarge)
	}
	return out, nil
}

// newEntry returns a zero entry of type t, or nil for an unknown type.
func newEntry(t Type) Entry {
	switch t {
	case TypePolicy:
		return &Policy{}
	case TypeWarrantCommitment:
		return &WarrantCommitment{}
	case TypeRelease:
		return &Release{}
	case TypeOpening:
		return &Opening{}
	case TypeEvidence:
		return &Evidence{}
	case TypeKeyDirectory:
		return &KeyDirectory{}
	case TypeRequest:
		return &Request{}
	case TypeTrusteeKey:
		return &TrusteeKey{}
	}
	return nil
}

// Parse decodes one entry strictly: the magic and version must match, the
// type and every enum must be known, every field must be present, strings
// must be valid UTF-8, and no byte may follow the last field. Errors name the
// type and field ("accesslog: Release.Trustee: truncated") and wrap one of the
// package's sentinel errors.
func Parse(b []byte) (Entry, error) {
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("accesslog: entry: %d bytes: %w", len(b), ErrTooLarge)
	}
	s := cryptobyte.String(b)
	var m [4]byte
	var version, typ uint8
	if !s.CopyBytes(m[:]) {
		return nil, fmt.Errorf("accesslog: envelope.magic: %w", ErrTruncated)
	}
	if string(m[:]) != magic {
		return nil, fmt.Errorf("accesslog: envelope.magic %q: %w", m[:], ErrBadMagic)
	}
	if !s.ReadUint8(&version) {
		return nil, fmt.Errorf("accesslog: envelope.version: %w", ErrTruncated)
	}
	if version != Version {
		return nil, fmt.Errorf("accesslog: envelope.version %d (this build reads %d): %w", version, Version, ErrUnsupportedVersion)
	}
	if !s.ReadUint8(&typ) {
		return nil, fmt.Errorf("accesslog: envelope.type: %w", ErrTruncated)
	}
	e := newEntry(Type(typ))
	if e == nil {
		return nil, fmt.Errorf("accesslog: envelope.type %d: %w", typ, ErrUnknownType)
	}
	r := &reader{s: s, typ: Type(typ).String()}
	e.parseBody(r)
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return e, nil
}

// ParseAs parses b and requires it to be of the entry type T (for example
// *Release).
func ParseAs[T Entry](b []byte) (T, error) {
	var zero T
	e, err := Parse(b)
	if err != nil {
		return zero, err
	}
	t, ok := e.(T)
	if !ok {
		return zero, fmt.Errorf("accesslog: entry is a %s, want %s: %w", e.Type(), zero.Type(), ErrUnknownType)
	}
	return t, nil
}
