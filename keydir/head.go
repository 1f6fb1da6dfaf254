// Package keydir is the key directory with key transparency: a Directory
// service that maps each account's VRF label to a commitment to its latest
// device-signed account record (keydir/account) in a Merkle prefix tree
// (keydir/prefix), signs one root per epoch and commits it to the access log,
// and serves lookups and monitoring histories with proofs that clients check
// (keydir/kdclient) against a witness-cosigned checkpoint.
//
// docs/keydir.md describes the design, its privacy properties and costs.
package keydir

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// EpochHead is a directory epoch's signed root. It is what the access log
// holds as a KeyDirectory entry.
type EpochHead struct {
	Epoch     uint64
	Root      [32]byte // keydir/prefix root
	Time      uint64   // Unix seconds, the directory's clock
	Signature []byte   // Ed25519 by the directory key over signedMessage
}

const headContext = "daylight/keydir/epoch-head/v1\x00"

func (h *EpochHead) signedMessage() []byte {
	b := cryptobyte.NewBuilder([]byte(headContext))
	b.AddUint64(h.Epoch)
	b.AddBytes(h.Root[:])
	b.AddUint64(h.Time)
	return b.BytesOrPanic()
}

// Sign sets h.Signature with the directory key.
func (h *EpochHead) Sign(priv ed25519.PrivateKey) {
	h.Signature = ed25519.Sign(priv, h.signedMessage())
}

// ErrBadHeadSignature is returned by VerifyHead.
var ErrBadHeadSignature = errors.New("keydir: epoch head signature invalid")

// VerifyHead checks h's signature with the directory public key.
func VerifyHead(pub ed25519.PublicKey, h *EpochHead) error {
	if len(pub) != ed25519.PublicKeySize || len(h.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, h.signedMessage(), h.Signature) {
		return fmt.Errorf("%w (epoch %d)", ErrBadHeadSignature, h.Epoch)
	}
	return nil
}

// Equal reports whether two heads are byte-identical.
func (h *EpochHead) Equal(o *EpochHead) bool {
	return h.Epoch == o.Epoch && h.Root == o.Root && h.Time == o.Time && subtle.ConstantTimeCompare(h.Signature, o.Signature) == 1
}

func addHead(b *cryptobyte.Builder, h *EpochHead) {
	b.AddUint64(h.Epoch)
	b.AddBytes(h.Root[:])
	b.AddUint64(h.Time)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.Signature) })
}

func readHead(s *cryptobyte.String, field string) (EpochHead, error) {
	var h EpochHead
	var sig cryptobyte.String
	if !s.ReadUint64(&h.Epoch) || !s.CopyBytes(h.Root[:]) || !s.ReadUint64(&h.Time) || !s.ReadUint16LengthPrefixed(&sig) {
		return h, fmt.Errorf("keydir: %s: truncated", field)
	}
	h.Signature = slices.Clone([]byte(sig))
	return h, nil
}

// MarshalHeadEntry is the default log encoding of a head, used when the log
// adapter does not bring its own:
//
//	struct {
//	  uint8 type = 0x4b;  // 'K'
//	  uint64 epoch; opaque root[32]; uint64 time; opaque signature<0..2^16-1>;
//	} KeyDirectoryEntry;
func MarshalHeadEntry(h EpochHead) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(headEntryType)
	addHead(b, &h)
	return b.BytesOrPanic()
}

const headEntryType = 0x4b

// ParseHeadEntry decodes MarshalHeadEntry's encoding strictly.
func ParseHeadEntry(data []byte) (EpochHead, error) {
	s := cryptobyte.String(data)
	var t uint8
	if !s.ReadUint8(&t) || t != headEntryType {
		return EpochHead{}, errors.New("keydir: KeyDirectoryEntry.type: not a key directory entry")
	}
	h, err := readHead(&s, "KeyDirectoryEntry")
	if err != nil {
		return h, err
	}
	if !s.Empty() {
		return h, fmt.Errorf("keydir: KeyDirectoryEntry: %d trailing bytes", len(s))
	}
	return h, nil
}

// Commitment returns the prefix-tree value for an account version: a hiding
// commitment to the record hash. The opening is random per version and given
// only to those who look the account up, so the tree's leaves (which appear
// as siblings in other users' proofs) reveal nothing about the record.
func Commitment(opening [32]byte, recordHash [32]byte) [32]byte {
	b := make([]byte, 0, 32+64+32)
	b = append(b, "daylight/keydir/commitment/v1\x00"...)
	b = append(b, opening[:]...)
	b = append(b, recordHash[:]...)
	return sha256.Sum256(b)
}
