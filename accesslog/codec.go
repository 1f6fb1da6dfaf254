package accesslog

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// Sentinel errors wrapped by Parse and Marshal; callers branch on them with errors.Is.
var (
	ErrBadMagic           = errors.New("not a Daylight access-log entry (bad magic)")
	ErrUnsupportedVersion = errors.New("unsupported entry version")
	ErrUnknownType        = errors.New("unknown entry type")
	ErrUnknownKind        = errors.New("unknown enum value")
	ErrTruncated          = errors.New("truncated")
	ErrTrailingData       = errors.New("trailing bytes after the last field")
	ErrInvalidUTF8        = errors.New("string is not valid UTF-8")
	ErrTooLarge           = errors.New("too large")
)

// MaxEntrySize is the largest encoded entry: C2SP tlog-tiles entry bundles
// prefix each entry with a big-endian uint16 length.
const MaxEntrySize = 1<<16 - 1

// writer wraps a cryptobyte.Builder and remembers the first error, naming the
// field that caused it.
type writer struct {
	b        *cryptobyte.Builder
	typ      string
	unsigned bool // omit the trailing Signature field (to compute the signed message)
	err      error
}

func (w *writer) u8(v uint8)               { w.b.AddUint8(v) }
func (w *writer) u16(v uint16)             { w.b.AddUint16(v) }
func (w *writer) u32(v uint32)             { w.b.AddUint32(v) }
func (w *writer) u64(v uint64)             { w.b.AddUint64(v) }
func (w *writer) hash(v [32]byte)          { w.b.AddBytes(v[:]) }
func (w *writer) str(f, v string)          { w.opaque(f, []byte(v), true) }
func (w *writer) bytes(f string, v []byte) { w.opaque(f, v, false) }

func (w *writer) opaque(field string, v []byte, isString bool) {
	if w.err != nil {
		return
	}
	if len(v) > MaxEntrySize {
		w.err = fmt.Errorf("accesslog: %s.%s: %d bytes: %w", w.typ, field, len(v), ErrTooLarge)
		return
	}
	if isString && !utf8.Valid(v) {
		w.err = fmt.Errorf("accesslog: %s.%s: %w", w.typ, field, ErrInvalidUTF8)
		return
	}
	w.b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

// reader wraps a cryptobyte.String and records the first error, naming the field.
type reader struct {
	s   cryptobyte.String
	typ string
	err error
}

func (r *reader) fail(field string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("accesslog: %s.%s: %w", r.typ, field, err)
	}
}

func (r *reader) u8(field string) uint8 {
	var v uint8
	if r.err == nil && !r.s.ReadUint8(&v) {
		r.fail(field, ErrTruncated)
	}
	return v
}

func (r *reader) u16(field string) uint16 {
	var v uint16
	if r.err == nil && !r.s.ReadUint16(&v) {
		r.fail(field, ErrTruncated)
	}
	return v
}

func (r *reader) u32(field string) uint32 {
	var v uint32
	if r.err == nil && !r.s.ReadUint32(&v) {
		r.fail(field, ErrTruncated)
	}
	return v
}

func (r *reader) u64(field string) uint64 {
	var v uint64
	if r.err == nil && !r.s.ReadUint64(&v) {
		r.fail(field, ErrTruncated)
	}
	return v
}

func (r *reader) hash(field string) [32]byte {
	var v [32]byte
	if r.err == nil && !r.s.CopyBytes(v[:]) {
		r.fail(field, ErrTruncated)
	}
	return v
}

func (r *reader) bytes(field string) []byte {
	var v cryptobyte.String
	if r.err == nil && !r.s.ReadUint16LengthPrefixed(&v) {
		r.fail(field, ErrTruncated)
		return nil
	}
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (r *reader) str(field string) string {
	b := r.bytes(field)
	if r.err == nil && !utf8.Valid(b) {
		r.fail(field, ErrInvalidUTF8)
	}
	return string(b)
}

func (r *reader) end() {
	if r.err == nil && !r.s.Empty() {
		r.err = fmt.Errorf("accesslog: %s: %d bytes: %w", r.typ, len(r.s), ErrTrailingData)
	}
}
