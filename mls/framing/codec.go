package framing

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file holds the small presentation-language codec (RFC 9420, Section
// 2.1) the framing structs need: fixed-width integers and opaque<V> vectors
// with minimal variable-length headers. Decoding is strict.

var (
	errShort      = errors.New("truncated")
	errNonMinimal = errors.New("non-minimal variable-length integer")
	errVarint     = errors.New("invalid variable-length integer prefix")
	errTrailing   = errors.New("trailing bytes")
)

const maxVarint = 1<<30 - 1

func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 0 || n > maxVarint:
		panic("mls/framing: vector length out of range")
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	default:
		return append(b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendOpaque(b, v []byte) []byte { return append(appendVarint(b, len(v)), v...) }

func checkLen(field string, v []byte) error {
	if len(v) > maxVarint {
		return fmt.Errorf("mls/framing: %s: %d bytes exceed the vector limit", field, len(v))
	}
	return nil
}

// reader decodes from a byte slice; every method records the first error.
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
	v := r.take(field, 1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u16(field string) uint16 {
	v := r.take(field, 2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (r *reader) u32(field string) uint32 {
	v := r.take(field, 4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (r *reader) u64(field string) uint64 {
	v := r.take(field, 8)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// varint decodes a minimal variable-length integer (RFC 9420, Section 2.1.2).
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
		n, size = int(r.b[0]&0x3f), 1
	case 1:
		if len(r.b) < 2 {
			r.fail(field, errShort)
			return 0
		}
		n, size = int(r.b[0]&0x3f)<<8|int(r.b[1]), 2
		if n < 1<<6 {
			r.fail(field, errNonMinimal)
			return 0
		}
	case 2:
		if len(r.b) < 4 {
			r.fail(field, errShort)
			return 0
		}
		n, size = int(r.b[0]&0x3f)<<24|int(r.b[1])<<16|int(r.b[2])<<8|int(r.b[3]), 4
		if n < 1<<14 {
			r.fail(field, errNonMinimal)
			return 0
		}
	default:
		r.fail(field, errVarint)
		return 0
	}
	r.b = r.b[size:]
	return n
}

func (r *reader) opaque(field string) []byte {
	n := r.varint(field)
	return r.take(field, n)
}

func (r *reader) finish(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d %w", len(r.b), errTrailing)
	}
	if r.err != nil {
		return fmt.Errorf("mls/framing: %s: %w", what, r.err)
	}
	return nil
}
