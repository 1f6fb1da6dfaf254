package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed reports a body that is not the expected JSON.
var ErrMalformed = errors.New("api: malformed JSON body")

// Decode decodes exactly one JSON value from data into v: unknown fields,
// trailing data and type mismatches are errors wrapping ErrMalformed that name
// the problem.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrMalformed)
	}
	return nil
}
