package group

import (
	"errors"
	"fmt"
)

// This file is the small presentation-language codec (RFC 9420, Section 2.1) that
// the group layer's structs use until they move onto mls/wire: fixed-width integers,
// opaque<V> vectors with minimal variable-length length headers. Decoding is strict.

var (
	errShort      = errors.New("truncated")
	errNonMinimal = errors.New("non-minimal variable-length integer")
	errVarint     = errors.New("invalid variable-length integer prefix")
	errTrailing   = errors.New("trailing bytes")
	errEnum       = errors.New("unknown enum value")
)

const maxVarint = 1<<30 - 1

// builder appends encodings to a byte slice.
type builder struct{ b []byte }

func (w *builder) u8(v uint8)   { w.b = append(w.b, v) }
func (w *builder) u16(v uint16) { w.b = append(w.b, byte(v>>8), byte(v)) }
func (w *builder) u32(v uint32) { w.b = append(w.b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
func (w *builder) u64(v uint64) {
	w.u32(uint32(v >> 32))
	w.u32(uint32(v))
}
func (w *builder) raw(v []byte) { w.b = append(w.b, v...) }

func (w *builder) varint(n int) {
	switch {
	case n < 0 || n > maxVarint:
		panic("mls/group: vector length out of range")
	case n < 1<<6:
		w.b = append(w.b, byte(n))
	case n < 1<<14:
		w.b = append(w.b, 0x40|byte(n>>8), byte(n))
	default:
		w.b = append(w.b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// opaque writes opaque<V>.
func (w *builder) opaque(v []byte) {
	w.varint(len(v))
	w.b = append(w.b, v...)
}

// vector writes a vector<V> whose elements f appends.
func (w *builder) vector(f func(w *builder)) {
	var inner builder
	f(&inner)
	w.opaque(inner.b)
}

func (w *builder) optional(present bool, f func(w *builder)) {
	if !present {
		w.u8(0)
		return
	}
	w.u8(1)
	f(w)
}

// reader decodes from a byte slice; the first error sticks and names the field.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(field string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", field, err)
	}
}

func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail(field, errShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(field string) uint8 {
	b := r.take(field, 1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16(field string) uint16 {
	b := r.take(field, 2)
	if b == nil {
		return 0
	}
	return uint16(b[0])<<8 | uint16(b[1])
}

func (r *reader) u32(field string) uint32 {
	b := r.take(field, 4)
	if b == nil {
		return 0
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (r *reader) u64(field string) uint64 {
	hi := r.u32(field)
	lo := r.u32(field)
	return uint64(hi)<<32 | uint64(lo)
}

func (r *reader) varint(field string) int {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(field, errShort)
		return 0
	}
	prefix := r.b[0] >> 6
	var n, size int
	switch prefix {
	case 0:
		size = 1
	case 1:
		size = 2
	case 2:
		size = 4
	default:
		r.fail(field, errVarint)
		return 0
	}
	b := r.take(field, size)
	if b == nil {
		return 0
	}
	n = int(b[0] & 0x3f)
	for _, c := range b[1:] {
		n = n<<8 | int(c)
	}
	if (size == 2 && n < 1<<6) || (size == 4 && n < 1<<14) {
		r.fail(field, errNonMinimal)
		return 0
	}
	return n
}

// opaque reads opaque<V>; the result aliases the input.
func (r *reader) opaque(field string) []byte {
	n := r.varint(field)
	return r.take(field, n)
}

// vector reads vector<V> and calls f on a reader over its body until exhausted.
func (r *reader) vector(field string, f func(r *reader)) {
	body := r.opaque(field)
	if r.err != nil {
		return
	}
	sub := &reader{b: body}
	for len(sub.b) > 0 && sub.err == nil {
		f(sub)
	}
	if sub.err != nil {
		r.fail(field, sub.err)
	}
}

func (r *reader) optional(field string) bool {
	switch v := r.u8(field); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail(field, errEnum)
		return false
	}
}

// done fails if bytes remain.
func (r *reader) done(field string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(field, errTrailing)
	}
	return r.err
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
