package ds

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"unicode/utf8"
)

// Signed statements. Each starts with a label and length-prefixes every field,
// so no statement of one kind can be read as another.

func statement(label string, fields ...[]byte) []byte {
	b := make([]byte, 0, 64)
	b = append(b, "daylight-ds-v1 "+label+"\x00"...)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func i64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// RegisterStatement is what a new device signs with its own key to prove it
// holds the key when registering or being linked.
func RegisterStatement(username, deviceName string, key ed25519.PublicKey) []byte {
	return statement("register", []byte(username), []byte(deviceName), key)
}

// LinkStatement is what an existing device (approver) signs to authorise a new
// device key on its account.
func LinkStatement(username string, approver DeviceID, deviceName string, newKey ed25519.PublicKey) []byte {
	return statement("link", []byte(username), i64(int64(approver)), []byte(deviceName), newKey)
}

// AuthStatement is what a device signs to answer a challenge.
func AuthStatement(device DeviceID, nonce []byte) []byte {
	return statement("auth", i64(int64(device)), nonce)
}

// RegisterRequest registers a username with its first device.
type RegisterRequest struct {
	Username   string
	DeviceName string
	SigningKey ed25519.PublicKey
	Signature  []byte // over RegisterStatement, by SigningKey
}

// LinkRequest adds a device to an account; it is sent by the new device.
type LinkRequest struct {
	Username   string
	Approver   DeviceID // an active device of the account
	DeviceName string
	SigningKey ed25519.PublicKey
	Approval   []byte // over LinkStatement, by the approver's key
	Signature  []byte // over RegisterStatement, by SigningKey
}

func validDeviceName(n string) error {
	if len(n) > 64 || !utf8.ValidString(n) || strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("ds: device name must be at most 64 bytes of printable UTF-8: %w", ErrInvalidInput)
	}
	return nil
}

func validKey(k ed25519.PublicKey) error {
	if len(k) != ed25519.PublicKeySize {
		return fmt.Errorf("ds: signing key must be %d bytes of Ed25519, got %d: %w", ed25519.PublicKeySize, len(k), ErrInvalidInput)
	}
	return nil
}

// Register creates an account with its first device. ErrInvalidInput for a bad
// username, name or key, ErrBadSignature if the signature does not verify,
// ErrUsernameTaken if the name is registered.
func (s *Service) Register(ctx context.Context, r RegisterRequest) (Device, error) {
	if err := ValidUsername(r.Username); err != nil {
		return Device{}, err
	}
	if err := validDeviceName(r.DeviceName); err != nil {
		return Device{}, err
	}
	if err := validKey(r.SigningKey); err != nil {
		return Device{}, err
	}
	if !ed25519.Verify(r.SigningKey, RegisterStatement(r.Username, r.DeviceName, r.SigningKey), r.Signature) {
		return Device{}, fmt.Errorf("ds: register %q: proof of key possession: %w", r.Username, ErrBadSignature)
	}
	d, err := s.store.CreateAccount(ctx, Device{Username: r.Username, Name: r.DeviceName, SigningKey: r.SigningKey, Created: s.now()})
	if err != nil {
		return Device{}, err
	}
	s.log.Info("ds: account registered", "username", d.Username, "device", d.ID)
	return d, nil
}

// LinkDevice adds a device authorised by an existing active device's
// signature. ErrBadSignature if either signature fails, ErrForbidden if the
// approver is not an active device of the account.
func (s *Service) LinkDevice(ctx context.Context, r LinkRequest) (Device, error) {
	if err := ValidUsername(r.Username); err != nil {
		return Device{}, err
	}
	if err := validDeviceName(r.DeviceName); err != nil {
		return Device{}, err
	}
	if err := validKey(r.SigningKey); err != nil {
		return Device{}, err
	}
	approver, err := s.store.Device(ctx, r.Approver)
	if errors.Is(err, ErrNotFound) || (err == nil && approver.Username != r.Username) {
		return Device{}, fmt.Errorf("ds: link: approver %d is not a device of %q: %w", r.Approver, r.Username, ErrForbidden)
	}
	if err != nil {
		return Device{}, err
	}
	if !approver.Active() {
		return Device{}, fmt.Errorf("ds: link: approver %d: %w", r.Approver, ErrRevoked)
	}
	if !ed25519.Verify(approver.SigningKey, LinkStatement(r.Username, r.Approver, r.DeviceName, r.SigningKey), r.Approval) {
		return Device{}, fmt.Errorf("ds: link: approval by device %d: %w", r.Approver, ErrBadSignature)
	}
	if !ed25519.Verify(r.SigningKey, RegisterStatement(r.Username, r.DeviceName, r.SigningKey), r.Signature) {
		return Device{}, fmt.Errorf("ds: link: proof of key possession: %w", ErrBadSignature)
	}
	d, err := s.store.AddDevice(ctx, Device{Username: r.Username, Name: r.DeviceName, SigningKey: r.SigningKey, Created: s.now()})
	if err != nil {
		return Device{}, err
	}
	s.log.Info("ds: device linked", "username", d.Username, "device", d.ID, "approver", r.Approver)
	return d, nil
}

// Devices lists an account's devices (revoked ones included; see Revoked).
func (s *Service) Devices(ctx context.Context, username string) ([]Device, error) {
	if err := ValidUsername(username); err != nil {
		return nil, err
	}
	return s.store.Devices(ctx, username)
}

// Device returns one device.
func (s *Service) Device(ctx context.Context, id DeviceID) (Device, error) {
	return s.store.Device(ctx, id)
}

// RevokeDevice revokes one of the principal's own account's devices (itself
// included): its tokens, KeyPackages and queue are deleted and it stops
// receiving group messages. ErrForbidden for another account's device.
func (s *Service) RevokeDevice(ctx context.Context, p Principal, id DeviceID) error {
	d, err := s.store.Device(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && d.Username != p.Username) {
		return fmt.Errorf("ds: revoke device %d: not a device of %q: %w", id, p.Username, ErrForbidden)
	}
	if err != nil {
		return err
	}
	if err := s.store.RevokeDevice(ctx, id, s.now()); err != nil {
		return err
	}
	s.log.Info("ds: device revoked", "username", p.Username, "device", id, "by", p.Device)
	return nil
}

// Challenge issues a one-time nonce for the device to sign (AuthStatement).
func (s *Service) Challenge(ctx context.Context, device DeviceID) (Challenge, error) {
	d, err := s.store.Device(ctx, device)
	if err != nil {
		return Challenge{}, err
	}
	if !d.Active() {
		return Challenge{}, fmt.Errorf("ds: challenge for device %d: %w", device, ErrRevoked)
	}
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return Challenge{}, fmt.Errorf("ds: challenge: %w", err)
	}
	c := Challenge{Device: device, Nonce: nonce, Expires: s.now().Add(s.cfg.ChallengeTTL)}
	if err := s.store.PutChallenge(ctx, ChallengeRecord{Device: device, NonceHash: sha256.Sum256(nonce), Expires: c.Expires}); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// Authenticate checks the signature over AuthStatement(device, nonce),
// consumes the challenge and returns a fresh token. A bad signature
// (ErrBadSignature) leaves the challenge in place; an unknown, used or expired
// challenge is ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, device DeviceID, nonce, signature []byte) (Token, error) {
	d, err := s.store.Device(ctx, device)
	if errors.Is(err, ErrNotFound) {
		return Token{}, fmt.Errorf("ds: authenticate: unknown device %d: %w", device, ErrUnauthenticated)
	}
	if err != nil {
		return Token{}, err
	}
	if !d.Active() {
		return Token{}, fmt.Errorf("ds: authenticate device %d: %w", device, ErrRevoked)
	}
	if !ed25519.Verify(d.SigningKey, AuthStatement(device, nonce), signature) {
		return Token{}, fmt.Errorf("ds: authenticate device %d: challenge signature: %w", device, ErrBadSignature)
	}
	now := s.now()
	if err := s.store.TakeChallenge(ctx, device, sha256.Sum256(nonce), now); err != nil {
		return Token{}, err
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return Token{}, fmt.Errorf("ds: token: %w", err)
	}
	t := Token{Value: base64.RawURLEncoding.EncodeToString(raw), Expires: now.Add(s.cfg.TokenTTL)}
	if err := s.store.PutToken(ctx, TokenRecord{Hash: sha256.Sum256(raw), Username: d.Username, Device: device, Expires: t.Expires}); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Authorize resolves a bearer token to its principal (ErrUnauthenticated for
// an unknown, malformed or expired token). Only the token's hash is looked up,
// so a timing difference reveals nothing about stored tokens.
func (s *Service) Authorize(ctx context.Context, token string) (Principal, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		return Principal{}, fmt.Errorf("ds: malformed token: %w", ErrUnauthenticated)
	}
	rec, err := s.store.Token(ctx, sha256.Sum256(raw), s.now())
	if err != nil {
		return Principal{}, err
	}
	return Principal{Username: rec.Username, Device: rec.Device}, nil
}
