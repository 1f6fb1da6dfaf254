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

	"github.com/daylight-im/daylight/accesslog"
)

// EpochHead is a directory epoch's signed root: the access log's
// KeyDirectory entry (accesslog.KeyDirectory), which is its encoding in the
// log and whose SignedMessage the directory key signs.
type EpochHead struct {
	Epoch     uint64
	Root      [32]byte // keydir/prefix root
	Time      uint64   // Unix seconds, the directory's clock
	Signature []byte   // Ed25519 by the directory key
}

func (h *EpochHead) entry() *accesslog.KeyDirectory {
	return &accesslog.KeyDirectory{Epoch: h.Epoch, Root: h.Root, Time: h.Time, Signature: h.Signature}
}

func (h *EpochHead) signedMessage() []byte {
	m, err := h.entry().SignedMessage()
	if err != nil {
		panic("keydir: KeyDirectory entry without variable fields failed to encode: " + err.Error())
	}
	return m
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

// MarshalHeadEntry encodes h as the access log's KeyDirectory entry.
func MarshalHeadEntry(h EpochHead) []byte {
	b, err := accesslog.Marshal(h.entry())
	if err != nil {
		panic("keydir: KeyDirectory entry failed to encode: " + err.Error())
	}
	return b
}

// ParseHeadEntry decodes an access-log entry that must be a KeyDirectory
// entry (strictly, by accesslog.ParseAs).
func ParseHeadEntry(data []byte) (EpochHead, error) {
	e, err := accesslog.ParseAs[*accesslog.KeyDirectory](data)
	if err != nil {
		return EpochHead{}, fmt.Errorf("keydir: %w", err)
	}
	return EpochHead{Epoch: e.Epoch, Root: e.Root, Time: e.Time, Signature: slices.Clone(e.Signature)}, nil
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
