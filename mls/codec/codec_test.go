package codec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

// TestDeserializationVectors checks every variable-length header in
// deserialization.json decodes to its length and re-encodes identically
// (RFC 9420, Section 2.1.2).
func TestDeserializationVectors(t *testing.T) {
	var vs []struct {
		Header testkit.HexBytes `json:"vlbytes_header"`
		Length int              `json:"length"`
	}
	testkit.LoadVectors(t, "deserialization.json", &vs)
	if len(vs) != 14 {
		t.Fatalf("got %d vectors, want 14", len(vs))
	}
	for _, v := range vs {
		r := NewReader(v.Header)
		n := r.Varint("len")
		if err := r.Finish("header"); err != nil {
			t.Fatalf("%x: %v", []byte(v.Header), err)
		}
		if n != v.Length {
			t.Errorf("%x: got %d want %d", []byte(v.Header), n, v.Length)
		}
		if got := AppendVarint(nil, v.Length); !bytes.Equal(got, v.Header) {
			t.Errorf("encode %d: got %x want %x", v.Length, got, []byte(v.Header))
		}
	}
}

// TestVarintRejectsNonMinimal checks non-minimal and 0b11-prefixed headers
// are rejected (RFC 9420, Section 2.1.2).
func TestVarintRejectsNonMinimal(t *testing.T) {
	cases := []struct {
		in   []byte
		want error
	}{
		{[]byte{0x40, 0x3f}, ErrNonMinimal},
		{[]byte{0x40, 0x00}, ErrNonMinimal},
		{[]byte{0x80, 0x00, 0x3f, 0xff}, ErrNonMinimal},
		{[]byte{0x80, 0x00, 0x00, 0x01}, ErrNonMinimal},
		{[]byte{0xc0, 0, 0, 0, 0, 0, 0, 1}, ErrBadPrefix},
		{[]byte{0x40}, ErrTruncated},
		{[]byte{0x80, 0x40, 0x00}, ErrTruncated},
		{nil, ErrTruncated},
	}
	for _, c := range cases {
		r := NewReader(c.in)
		r.Varint("len")
		if err := r.Err(); !errors.Is(err, c.want) {
			t.Errorf("%x: got %v want %v", c.in, err, c.want)
		}
	}
}

func TestRoundTripStructure(t *testing.T) {
	body := bytes.Repeat([]byte{7}, 300)
	var b []byte
	b = AppendUint8(b, 1)
	b = AppendUint16(b, 0x0203)
	b = AppendUint32(b, 0x04050607)
	b = AppendUint64(b, 0x08090a0b0c0d0e0f)
	b = AppendOpaque(b, body)
	b = AppendVector(b, func(b []byte) []byte {
		for i := 0; i < 30; i++ {
			b = AppendOpaque(b, []byte{byte(i), byte(i)})
		}
		return b
	})
	b = AppendOptional(b, true, func(b []byte) []byte { return AppendUint16(b, 9) })
	b = AppendOptional(b, false, nil)
	bb := NewBuilder(nil)
	bb.Raw(b)
	bb.Vector(func(b *Builder) { b.Vector(func(b *Builder) { b.Opaque(body) }) })
	enc := bb.Bytes()

	r := NewReader(enc)
	if r.Uint8("a") != 1 || r.Uint16("b") != 0x0203 || r.Uint32("c") != 0x04050607 || r.Uint64("d") != 0x08090a0b0c0d0e0f {
		t.Fatal("ints")
	}
	if !bytes.Equal(r.Opaque("e"), body) {
		t.Fatal("opaque")
	}
	i := 0
	r.Vector("f", func(r *Reader) {
		v := r.Opaque("g")
		if !bytes.Equal(v, []byte{byte(i), byte(i)}) {
			t.Errorf("elem %d: %x", i, v)
		}
		i++
	})
	if i != 30 {
		t.Fatalf("got %d elements", i)
	}
	if !r.Optional("h") || r.Uint16("h.v") != 9 || r.Optional("i") {
		t.Fatal("optional")
	}
	outer := r.Sub("outer")
	inner := outer.Sub("inner")
	if !bytes.Equal(inner.Opaque("x"), body) {
		t.Fatal("nested")
	}
	outer.Close("inner", inner)
	r.Close("outer", outer)
	if err := r.Finish("test"); err != nil {
		t.Fatal(err)
	}
}

// TestReaderErrorsNameField checks truncation, trailing bytes, a bad optional
// octet and the vector limit are reported with the field path.
func TestReaderErrorsNameField(t *testing.T) {
	enc := AppendVector(nil, func(b []byte) []byte { return append(AppendOpaque(b, []byte("abc")), 0x05) })
	r := NewReader(enc)
	r.Vector("list", func(r *Reader) { r.Opaque("item") })
	err := r.Finish("Thing")
	if !errors.Is(err, ErrTruncated) || !bytes.Contains([]byte(err.Error()), []byte("Thing: list[1]: item")) {
		t.Fatalf("got %v", err)
	}
	r = NewReader([]byte{1, 2})
	r.Uint8("x")
	if err := r.Finish("T"); !errors.Is(err, ErrTrailing) {
		t.Fatalf("trailing: %v", err)
	}
	r = NewReader([]byte{2})
	r.Optional("opt")
	if !errors.Is(r.Err(), ErrBadEnum) {
		t.Fatalf("optional: %v", r.Err())
	}
	r = NewReaderLimit(AppendOpaque(nil, make([]byte, 100)), 99)
	r.Opaque("big")
	if !errors.Is(r.Err(), ErrTooLong) {
		t.Fatalf("limit: %v", r.Err())
	}
	r = NewReader(AppendVector(nil, func(b []byte) []byte { return append(b, 1, 2, 3) }))
	sub := r.Sub("s")
	sub.Uint8("a")
	r.Close("s", sub)
	if !errors.Is(r.Err(), ErrTrailing) {
		t.Fatalf("sub trailing: %v", r.Err())
	}
}

func TestZeroCopyCapped(t *testing.T) {
	enc := AppendOpaque(nil, []byte("hello"))
	enc = append(enc, 'X')
	r := NewReader(enc)
	v := r.Opaque("v")
	_ = append(v, 'Y')
	if enc[len(enc)-1] != 'X' {
		t.Fatal("append through returned slice overwrote the input")
	}
}

func FuzzVector(f *testing.F) {
	f.Add(AppendVector(nil, func(b []byte) []byte { return AppendOpaque(b, []byte("x")) }))
	f.Add([]byte{0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		var items [][]byte
		r.Vector("v", func(r *Reader) { items = append(items, r.Opaque("i")) })
		if r.Finish("v") != nil {
			return
		}
		got := AppendVector(nil, func(b []byte) []byte {
			for _, it := range items {
				b = AppendOpaque(b, it)
			}
			return b
		})
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip: %x != %x", got, data)
		}
	})
}

func BenchmarkAppendVectorNested(b *testing.B) {
	body := make([]byte, 100)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendVector(buf[:0], func(b []byte) []byte {
			for range 20 {
				b = AppendOpaque(b, body)
			}
			return b
		})
	}
}
