package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"type":"ack","cursor":7}`, true},
		{` {"type":"ack"} `, true},
		{`{"type":"ack","extra":1}`, false},
		{`{"type":"ack"}{"type":"ack"}`, false},
		{`{"type":"ack"} x`, false},
		{`{"type":1}`, false},
		{`{"cursor":-1}`, false},
		{`{"cursor":18446744073709551616}`, false},
		{``, false},
		{`null x`, false},
	} {
		var f Frame
		err := Decode([]byte(tc.in), &f)
		if (err == nil) != tc.ok {
			t.Errorf("Decode(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q): error %v does not wrap ErrMalformed", tc.in, err)
		}
	}
}

// FuzzDecodeFrame: whatever Decode accepts re-marshals to bytes that decode
// to the same value and re-marshal identically.
func FuzzDecodeFrame(f *testing.F) {
	seeds := []Frame{
		{Type: FrameAck, Cursor: 42},
		{Type: FrameAuth, Token: "abc"},
		{Type: FrameSend, ID: 3, Send: &SendRequest{Message: []byte{0, 1, 2}, Welcome: []byte{9}}},
		{Type: FrameDeliveries, Page: &Page{Cursor: 9, Deliveries: []Delivery{{Cursor: 9, GroupID: []byte("g"), Seq: 2, Kind: KindApplication, Data: []byte("x")}}}},
		{Type: FrameError, ID: 1, Error: &ErrorBody{Code: CodeStaleEpoch, Message: "m", Detail: "d"}},
	}
	for _, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Frame
		if Decode(data, &a) != nil {
			return
		}
		b1, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var b Frame
		if err := Decode(b1, &b); err != nil {
			t.Fatalf("re-marshalled frame does not decode: %v", err)
		}
		b2, _ := json.Marshal(b)
		if !bytes.Equal(b1, b2) || !reflect.DeepEqual(normalize(a), normalize(b)) {
			t.Fatalf("round trip differs:\n%s\n%s", b1, b2)
		}
	})
}

// normalize maps empty slices to nil (omitempty drops them).
func normalize(f Frame) Frame {
	b, _ := json.Marshal(f)
	var g Frame
	json.Unmarshal(b, &g)
	return g
}

func TestErrorHasCode(t *testing.T) {
	var err error = &Error{Status: 409, ErrorBody: ErrorBody{Code: CodeStaleEpoch, Message: "stale"}}
	wrapped := errors.Join(errors.New("ctx"), err)
	if !HasCode(err, CodeStaleEpoch) || HasCode(err, CodeReplay) {
		t.Fatal("HasCode")
	}
	if !errors.Is(wrapped, &Error{ErrorBody: ErrorBody{Code: CodeStaleEpoch}}) {
		t.Fatal("errors.Is by code")
	}
}
