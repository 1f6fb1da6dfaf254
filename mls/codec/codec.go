// Package codec implements the TLS presentation language as profiled by MLS
// (RFC 9420, Section 2.1): fixed-width big-endian integers, opaque and nested
// vectors whose lengths are QUIC-style variable-length integers (Section
// 2.1.2), and optional<T>.
//
// Builder appends encodings to a byte slice. Reader decodes strictly: lengths
// must be minimally encoded and fit the input, the 0b11 prefix is rejected,
// vectors must be consumed exactly, and the first error sticks and names the
// field path where decoding stopped ("leaf_node.capabilities: truncated").
// Slices returned by Reader alias the input (zero copy) with their capacity
// capped, so appending to them never overwrites the input.
package codec

import (
	"errors"
	"fmt"
	"strings"
)

// MaxVectorLen is the largest vector length a variable-length header can
// express (RFC 9420, Section 2.1.2: 30 bits).
const MaxVectorLen = 1<<30 - 1

// Sentinel errors; decoding errors wrap one of these.
var (
	ErrTruncated  = errors.New("truncated")
	ErrNonMinimal = errors.New("non-minimal variable-length integer")
	ErrBadPrefix  = errors.New("invalid variable-length integer prefix 0b11")
	ErrTrailing   = errors.New("trailing bytes")
	ErrTooLong    = errors.New("vector longer than allowed")
	ErrBadEnum    = errors.New("unknown enum value")
	ErrDuplicate  = errors.New("duplicate entry")
	ErrInvalid    = errors.New("invalid value")
)

// AppendVarint appends n as a minimal variable-length integer (Section
// 2.1.2). It panics if n > MaxVectorLen: encoders control their inputs.
func AppendVarint(b []byte, n int) []byte {
	switch {
	case n < 0 || n > MaxVectorLen:
		panic(fmt.Sprintf("mls/codec: vector length %d out of range", n))
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	default:
		return append(b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// VarintLen returns the size of the header AppendVarint writes for n.
func VarintLen(n int) int {
	switch {
	case n < 1<<6:
		return 1
	case n < 1<<14:
		return 2
	default:
		return 4
	}
}

// AppendUint8 and friends append fixed-width big-endian integers.
func AppendUint8(b []byte, v uint8) []byte { return append(b, v) }

// AppendUint16 appends a big-endian uint16.
func AppendUint16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

// AppendUint32 appends a big-endian uint32.
func AppendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// AppendUint64 appends a big-endian uint64.
func AppendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// AppendOpaque appends opaque<V>: a variable-length header then v.
func AppendOpaque(b, v []byte) []byte { return append(AppendVarint(b, len(v)), v...) }

// AppendVector appends vector<V> whose body f appends to its argument. The
// body is written in place and the header inserted afterwards, so nested
// vectors cost one memmove each instead of a temporary buffer.
func AppendVector(b []byte, f func(b []byte) []byte) []byte {
	// Reserve one header byte (the common case) and fix up if longer.
	start := len(b)
	b = append(b, 0)
	b = f(b)
	n := len(b) - start - 1
	h := VarintLen(n)
	if h == 1 {
		b[start] = byte(n)
		return b
	}
	for i := 1; i < h; i++ {
		b = append(b, 0)
	}
	copy(b[start+h:], b[start+1:start+1+n])
	AppendVarint(b[start:start], n)
	return b
}

// AppendOptional appends optional<T>: 0 if absent, else 1 and f's encoding.
func AppendOptional(b []byte, present bool, f func(b []byte) []byte) []byte {
	if !present {
		return append(b, 0)
	}
	return f(append(b, 1))
}

// AppendBool appends a presentation-language bool as uint8 0/1.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Builder is an append-style encoder wrapping a byte slice, for callers who
// prefer methods to the Append functions.
type Builder struct{ buf []byte }

// NewBuilder returns a Builder appending to buf (which may be nil).
func NewBuilder(buf []byte) *Builder { return &Builder{buf: buf} }

// Bytes returns the encoding built so far.
func (b *Builder) Bytes() []byte { return b.buf }

// Len returns the number of bytes built so far.
func (b *Builder) Len() int { return len(b.buf) }

// Uint8 appends v.
func (b *Builder) Uint8(v uint8) { b.buf = append(b.buf, v) }

// Uint16 appends v big-endian.
func (b *Builder) Uint16(v uint16) { b.buf = AppendUint16(b.buf, v) }

// Uint32 appends v big-endian.
func (b *Builder) Uint32(v uint32) { b.buf = AppendUint32(b.buf, v) }

// Uint64 appends v big-endian.
func (b *Builder) Uint64(v uint64) { b.buf = AppendUint64(b.buf, v) }

// Raw appends v without a header.
func (b *Builder) Raw(v []byte) { b.buf = append(b.buf, v...) }

// Opaque appends opaque<V>.
func (b *Builder) Opaque(v []byte) { b.buf = AppendOpaque(b.buf, v) }

// Vector appends vector<V> whose body f builds.
func (b *Builder) Vector(f func(b *Builder)) {
	b.buf = AppendVector(b.buf, func(buf []byte) []byte {
		inner := Builder{buf: buf}
		f(&inner)
		return inner.buf
	})
}

// Append lets an append-style encoder (such as mls/wire's Append methods)
// write into the Builder: b.Append(v.Append).
func (b *Builder) Append(f func(b []byte) []byte) { b.buf = f(b.buf) }

// Optional appends optional<T>.
func (b *Builder) Optional(present bool, f func(b *Builder)) {
	if !present {
		b.buf = append(b.buf, 0)
		return
	}
	b.buf = append(b.buf, 1)
	f(b)
}

// Reader decodes a presentation-language encoding strictly. The zero value
// is an empty reader. The first error sticks; later reads return zero values.
type Reader struct {
	b      []byte
	off    int // bytes consumed from the original input (for Raw marks)
	orig   []byte
	err    error
	maxVec int
	path   []string // enclosing struct fields, joined into error messages
}

// NewReader returns a Reader over b. Vectors may be up to MaxVectorLen bytes.
func NewReader(b []byte) *Reader { return &Reader{b: b, orig: b, maxVec: MaxVectorLen} }

// NewReaderLimit returns a Reader that additionally rejects any vector longer
// than maxVector bytes (ErrTooLong).
func NewReaderLimit(b []byte, maxVector int) *Reader {
	if maxVector > MaxVectorLen || maxVector < 0 {
		maxVector = MaxVectorLen
	}
	return &Reader{b: b, orig: b, maxVec: maxVector}
}

// Err returns the first decoding error.
func (r *Reader) Err() error { return r.err }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Rest returns the unread bytes without consuming them (aliasing the input,
// capacity capped), for a caller-supplied parser that reports how many bytes
// of them it takes; nil after an error.
func (r *Reader) Rest() []byte {
	if r.err != nil {
		return nil
	}
	return r.b[:len(r.b):len(r.b)]
}

// Empty reports whether all input has been read (or an error occurred).
func (r *Reader) Empty() bool { return len(r.b) == 0 || r.err != nil }

// Enter pushes name onto the field path used in error messages; call Leave
// when the nested structure is decoded. Cheap: the path is joined only when an
// error is recorded.
func (r *Reader) Enter(name string) { r.path = append(r.path, name) }

// Leave pops the name pushed by the matching Enter.
func (r *Reader) Leave() {
	if len(r.path) > 0 {
		r.path = r.path[:len(r.path)-1]
	}
}

// Fail records err for field if no error is recorded yet.
func (r *Reader) Fail(field string, err error) {
	if r.err == nil {
		if len(r.path) > 0 {
			field = strings.Join(r.path, ".") + "." + field
		}
		r.err = fmt.Errorf("%s: %w", field, err)
		r.b = nil
	}
}

// Failf records a formatted error for field.
func (r *Reader) Failf(field string, format string, args ...any) {
	r.Fail(field, fmt.Errorf(format, args...))
}

// Offset returns the number of bytes consumed so far; with Since it captures
// the raw encoding of a sub-structure (for signatures and transcripts).
func (r *Reader) Offset() int { return len(r.orig) - len(r.b) }

// Since returns the raw bytes consumed since Offset returned mark (aliasing
// the input, capacity capped).
func (r *Reader) Since(mark int) []byte {
	if r.err != nil {
		return nil
	}
	end := r.Offset()
	return r.orig[mark:end:end]
}

// Fixed reads exactly n bytes (aliasing the input).
func (r *Reader) Fixed(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.Fail(field, ErrTruncated)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Uint8 reads a uint8.
func (r *Reader) Uint8(field string) uint8 {
	if r.err != nil || len(r.b) < 1 {
		r.Fail(field, ErrTruncated)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16(field string) uint16 {
	if r.err != nil || len(r.b) < 2 {
		r.Fail(field, ErrTruncated)
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32(field string) uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.Fail(field, ErrTruncated)
		return 0
	}
	v := uint32(r.b[0])<<24 | uint32(r.b[1])<<16 | uint32(r.b[2])<<8 | uint32(r.b[3])
	r.b = r.b[4:]
	return v
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64(field string) uint64 {
	hi := r.Uint32(field)
	lo := r.Uint32(field)
	return uint64(hi)<<32 | uint64(lo)
}

// Bool reads a uint8 that must be 0 or 1.
func (r *Reader) Bool(field string) bool {
	switch r.Uint8(field) {
	case 0:
		return false
	case 1:
		return true
	default:
		r.Fail(field, ErrBadEnum)
		return false
	}
}

// Varint reads a minimal variable-length integer (Section 2.1.2).
func (r *Reader) Varint(field string) int {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.Fail(field, ErrTruncated)
		return 0
	}
	var n, size int
	switch r.b[0] >> 6 {
	case 0:
		n, size = int(r.b[0]), 1
	case 1:
		if len(r.b) < 2 {
			r.Fail(field, ErrTruncated)
			return 0
		}
		n, size = int(r.b[0]&0x3f)<<8|int(r.b[1]), 2
		if n < 1<<6 {
			r.Fail(field, ErrNonMinimal)
			return 0
		}
	case 2:
		if len(r.b) < 4 {
			r.Fail(field, ErrTruncated)
			return 0
		}
		n, size = int(r.b[0]&0x3f)<<24|int(r.b[1])<<16|int(r.b[2])<<8|int(r.b[3]), 4
		if n < 1<<14 {
			r.Fail(field, ErrNonMinimal)
			return 0
		}
	default:
		r.Fail(field, ErrBadPrefix)
		return 0
	}
	r.b = r.b[size:]
	return n
}

func (r *Reader) length(field string) int {
	n := r.Varint(field)
	if r.err != nil {
		return 0
	}
	if n > r.maxVec {
		r.Failf(field, "%w: %d > %d bytes", ErrTooLong, n, r.maxVec)
		return 0
	}
	if n > len(r.b) {
		r.Failf(field, "%w: vector of %d bytes, %d left", ErrTruncated, n, len(r.b))
		return 0
	}
	return n
}

// Opaque reads opaque<V> (aliasing the input). An empty vector yields a
// non-nil empty slice only if the input was non-nil.
func (r *Reader) Opaque(field string) []byte {
	n := r.length(field)
	if r.err != nil {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// OpaqueCopy reads opaque<V> into a fresh slice (for secrets or long-lived
// values that must not pin the input).
func (r *Reader) OpaqueCopy(field string) []byte {
	v := r.Opaque(field)
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

// Sub reads a vector<V> header and returns a Reader over its body. The caller
// decodes the body and calls r.Close(field, sub) to propagate errors and check
// that the body was consumed.
func (r *Reader) Sub(field string) *Reader {
	body := r.Opaque(field)
	start := 0
	if r.err == nil {
		start = r.Offset() - len(body)
	}
	return &Reader{b: body, orig: r.orig[:start+len(body)], maxVec: r.maxVec, err: r.err}
}

// Close propagates sub's error to r under field, and fails if sub has
// unread bytes.
func (r *Reader) Close(field string, sub *Reader) {
	if r.err != nil {
		return
	}
	if sub.err != nil {
		r.Fail(field, sub.err)
		return
	}
	if len(sub.b) != 0 {
		r.Failf(field, "%w: %d", ErrTrailing, len(sub.b))
	}
}

// Vector reads vector<V>, calling each on a Reader over the body until the
// body is consumed or an error occurs. Element errors are prefixed with
// field[i].
func (r *Reader) Vector(field string, each func(r *Reader)) {
	sub := r.Sub(field)
	for i := 0; len(sub.b) > 0 && sub.err == nil; i++ {
		before := len(sub.b)
		each(sub)
		if sub.err != nil {
			r.Fail(fmt.Sprintf("%s[%d]", field, i), sub.err)
			return
		}
		if len(sub.b) == before {
			r.Fail(fmt.Sprintf("%s[%d]", field, i), errors.New("element consumed no bytes"))
			return
		}
	}
	r.Close(field, sub)
}

// Optional reads the presence octet of optional<T> (must be 0 or 1).
func (r *Reader) Optional(field string) bool {
	switch v := r.Uint8(field); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.Failf(field, "%w: optional presence octet %d", ErrBadEnum, v)
		return false
	}
}

// Finish returns an error naming what if decoding failed or bytes remain.
func (r *Reader) Finish(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the end", ErrTrailing, len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	return nil
}
