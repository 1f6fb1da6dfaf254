// Package account defines the account record of the key directory: a
// hash-chained, device-signed log of an account's device list.
//
// Version 0 registers the account with its first device, which signs it
// itself. Every later version adds or revokes one device and is signed by a
// device that is active in the previous version. A record names the hash of
// its predecessor, so an account's history is a chain that only its devices
// can extend: a provider that adds a device ("ghost user") or swaps a key must
// either forge a device signature or fork the chain, and both are visible to
// the account's own devices (which monitor the directory) and to contacts
// (which verify the chain and pin it).
//
// Parsing is not verifying: ParseRecord decodes; (*State).Apply and Verify
// check signatures and chain rules and return the only State the rest of
// keydir trusts.
package account

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// DeviceID names a device within an account.
type DeviceID [16]byte

// Device is one entry of an account's device list.
type Device struct {
	ID DeviceID
	// SignatureKey is the device's Ed25519 key; it signs account changes.
	SignatureKey ed25519.PublicKey
	// Credential is the device's MLS Credential, encoded (RFC 9420, Section 5.3).
	Credential []byte
	// KeyPackageKey is the signature_key of the device's MLS Leaf Nodes, which
	// signs its KeyPackages (RFC 9420, Sections 7.2 and 10); its encoding is
	// that of the device's cipher suite.
	KeyPackageKey []byte
	// AddedAt is the time, Unix seconds, the signer claims for the addition.
	AddedAt uint64
}

// Op is the change a record makes.
type Op uint8

const (
	OpRegister Op = 1 // version 0: the first device, self-signed
	OpAdd      Op = 2 // add Record.Device
	OpRevoke   Op = 3 // revoke Record.Revoked
)

func (o Op) String() string {
	switch o {
	case OpRegister:
		return "register"
	case OpAdd:
		return "add"
	case OpRevoke:
		return "revoke"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Limits of the encoding.
const (
	MaxUsername   = 255
	MaxKeyBytes   = 1<<16 - 1
	signatureSize = ed25519.SignatureSize
)

// Record is one version of an account.
type Record struct {
	Username  string
	Version   uint64
	Prev      [32]byte // Hash of version-1; zero for version 0
	Op        Op
	Device    Device   // OpRegister, OpAdd
	Revoked   DeviceID // OpRevoke
	Time      uint64   // Unix seconds, signer-claimed
	Signer    DeviceID
	Signature []byte
}

const (
	signContext = "daylight/keydir/record/v1\x00"
	hashContext = "daylight/keydir/record-hash/v1\x00"
)

func addDevice(b *cryptobyte.Builder, d *Device) {
	b.AddBytes(d.ID[:])
	b.AddBytes(d.SignatureKey)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(d.Credential) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(d.KeyPackageKey) })
	b.AddUint64(d.AddedAt)
}

// tbs encodes everything but the signature:
//
//	struct {
//	  opaque username<1..255>;
//	  uint64 version;
//	  opaque prev[32];
//	  uint8 op;
//	  select (op) {
//	    case register, add: Device device;
//	    case revoke:        opaque revoked[16];
//	  };
//	  uint64 time;
//	  opaque signer[16];
//	} RecordTBS;
//
//	struct {
//	  opaque id[16]; opaque signature_key[32];
//	  opaque credential<0..2^16-1>; opaque key_package_key<0..2^16-1>;
//	  uint64 added_at;
//	} Device;
func (r *Record) tbs(b *cryptobyte.Builder) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.Username)) })
	b.AddUint64(r.Version)
	b.AddBytes(r.Prev[:])
	b.AddUint8(uint8(r.Op))
	switch r.Op {
	case OpRegister, OpAdd:
		addDevice(b, &r.Device)
	case OpRevoke:
		b.AddBytes(r.Revoked[:])
	default:
		b.SetError(fmt.Errorf("keydir/account: Record.op: unknown value %d", r.Op))
	}
	b.AddUint64(r.Time)
	b.AddBytes(r.Signer[:])
}

func (r *Record) check() error {
	if len(r.Username) == 0 || len(r.Username) > MaxUsername || !utf8.ValidString(r.Username) {
		return errors.New("keydir/account: Record.username: empty, too long or not UTF-8")
	}
	if r.Op == OpRegister || r.Op == OpAdd {
		if len(r.Device.SignatureKey) != ed25519.PublicKeySize {
			return errors.New("keydir/account: Record.device.signature_key: not 32 bytes")
		}
		if len(r.Device.Credential) > MaxKeyBytes || len(r.Device.KeyPackageKey) > MaxKeyBytes {
			return errors.New("keydir/account: Record.device: field too long")
		}
	}
	return nil
}

// Marshal encodes r (RecordTBS followed by opaque signature[64]).
func (r *Record) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Signature) != signatureSize {
		return nil, errors.New("keydir/account: Record.signature: not 64 bytes")
	}
	b := cryptobyte.NewBuilder(nil)
	r.tbs(b)
	b.AddBytes(r.Signature)
	return b.Bytes()
}

func (r *Record) signedMessage() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder([]byte(signContext))
	r.tbs(b)
	return b.Bytes()
}

// Sign sets r.Signer and r.Signature, signing with the device key priv.
func (r *Record) Sign(signer DeviceID, priv ed25519.PrivateKey) error {
	r.Signer = signer
	m, err := r.signedMessage()
	if err != nil {
		return err
	}
	r.Signature = ed25519.Sign(priv, m)
	return nil
}

// Hash returns the hash that the next version names as Prev and the directory
// commits to.
func (r *Record) Hash() ([32]byte, error) {
	enc, err := r.Marshal()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(append([]byte(hashContext), enc...)), nil
}

func readDevice(s *cryptobyte.String, d *Device) error {
	var key []byte
	var cred, kp cryptobyte.String
	if !s.CopyBytes(d.ID[:]) {
		return errors.New("keydir/account: Record.device.id: truncated")
	}
	if !s.ReadBytes(&key, ed25519.PublicKeySize) {
		return errors.New("keydir/account: Record.device.signature_key: truncated")
	}
	d.SignatureKey = slices.Clone(key)
	if !s.ReadUint16LengthPrefixed(&cred) {
		return errors.New("keydir/account: Record.device.credential: truncated")
	}
	if !s.ReadUint16LengthPrefixed(&kp) {
		return errors.New("keydir/account: Record.device.key_package_key: truncated")
	}
	d.Credential, d.KeyPackageKey = slices.Clone([]byte(cred)), slices.Clone([]byte(kp))
	if !s.ReadUint64(&d.AddedAt) {
		return errors.New("keydir/account: Record.device.added_at: truncated")
	}
	return nil
}

// ParseRecord decodes a record strictly (unknown ops, bad lengths, invalid
// UTF-8 usernames and trailing bytes are errors). It checks no signature.
func ParseRecord(data []byte) (*Record, error) {
	s := cryptobyte.String(data)
	r := &Record{}
	var user cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&user) {
		return nil, errors.New("keydir/account: Record.username: truncated")
	}
	r.Username = string(user)
	if !s.ReadUint64(&r.Version) {
		return nil, errors.New("keydir/account: Record.version: truncated")
	}
	if !s.CopyBytes(r.Prev[:]) {
		return nil, errors.New("keydir/account: Record.prev: truncated")
	}
	var op uint8
	if !s.ReadUint8(&op) {
		return nil, errors.New("keydir/account: Record.op: truncated")
	}
	r.Op = Op(op)
	switch r.Op {
	case OpRegister, OpAdd:
		if err := readDevice(&s, &r.Device); err != nil {
			return nil, err
		}
	case OpRevoke:
		if !s.CopyBytes(r.Revoked[:]) {
			return nil, errors.New("keydir/account: Record.revoked: truncated")
		}
	default:
		return nil, fmt.Errorf("keydir/account: Record.op: unknown value %d", op)
	}
	if !s.ReadUint64(&r.Time) {
		return nil, errors.New("keydir/account: Record.time: truncated")
	}
	if !s.CopyBytes(r.Signer[:]) {
		return nil, errors.New("keydir/account: Record.signer: truncated")
	}
	var sig []byte
	if !s.ReadBytes(&sig, signatureSize) {
		return nil, errors.New("keydir/account: Record.signature: truncated")
	}
	r.Signature = slices.Clone(sig)
	if !s.Empty() {
		return nil, fmt.Errorf("keydir/account: Record: %d trailing bytes", len(s))
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}
