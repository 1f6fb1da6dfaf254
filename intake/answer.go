package intake

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// DeviceData is one device the server knows for an account.
type DeviceData struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created uint64 `json:"created"`
	Revoked bool   `json:"revoked"`
}

// AccountData is what the server holds about one account: never content.
type AccountData struct {
	Account string       `json:"account"`
	Exists  bool         `json:"exists"`
	Created uint64       `json:"created,omitempty"` // unix seconds
	Devices []DeviceData `json:"devices,omitempty"` // metadata requests only
	Groups  []string     `json:"groups,omitempty"`  // hex group ids the server sees the account in (metadata only)
}

// AnswerBody is a non-content answer.
type AnswerBody struct {
	Version      int           `json:"version"`
	Request      string        `json:"request"` // request id (hex)
	Jurisdiction string        `json:"jurisdiction"`
	Authority    string        `json:"authority"`
	Category     Category      `json:"category"`
	Answered     uint64        `json:"answered"`
	Accounts     []AccountData `json:"accounts"`
}

// Bundle is a provider-signed answer. Its digest (Digest of Marshal) is
// logged as an Evidence entry of kind non-content-answer.
type Bundle struct {
	Body      []byte `json:"body"`      // canonical JSON of AnswerBody (base64 in JSON)
	Signature []byte `json:"signature"` // Ed25519 over "daylight intake answer v1\x00" || Body
}

const answerLabel = "daylight intake answer v1\x00"

// SignAnswer encodes and signs an answer.
func SignAnswer(a *AnswerBody, key ed25519.PrivateKey) (*Bundle, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return &Bundle{Body: body, Signature: ed25519.Sign(key, append([]byte(answerLabel), body...))}, nil
}

// Marshal returns the bundle's JSON encoding (what is hashed and logged).
func (b *Bundle) Marshal() ([]byte, error) { return json.Marshal(b) }

// Digest returns SHA-256 of an encoded bundle, as logged.
func Digest(encoded []byte) [32]byte { return sha256.Sum256(encoded) }

// VerifyAnswer parses an encoded bundle strictly, checks the provider's
// signature, and returns the answer. The caller checks the digest against
// the log's Evidence entry (its Ref is the request id).
func VerifyAnswer(encoded []byte, provider ed25519.PublicKey) (*AnswerBody, error) {
	var b Bundle
	if err := decodeStrict(encoded, &b); err != nil {
		return nil, fmt.Errorf("%w: answer bundle: %w", ErrMalformed, err)
	}
	if !ed25519.Verify(provider, append([]byte(answerLabel), b.Body...), b.Signature) {
		return nil, errors.New("intake: answer bundle: signature does not verify under the provider key")
	}
	var a AnswerBody
	if err := decodeStrict(b.Body, &a); err != nil {
		return nil, fmt.Errorf("%w: answer body: %w", ErrMalformed, err)
	}
	return &a, nil
}
