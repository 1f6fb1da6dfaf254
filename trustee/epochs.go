package trustee

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// EpochSpan is what member-signed data says about one epoch of a group: when
// the commit that started it and the commit that ended it were made (each
// committer signs its timestamp, lawful-access.md "Epoch lifetime") and who
// was a member. End is 0 while the epoch is current.
type EpochSpan struct {
	GroupID []byte
	Epoch   uint64
	Start   uint64
	End     uint64
	Members []string // account ids
}

// Overlaps reports whether the epoch overlaps the window [from, to).
func (s EpochSpan) Overlaps(from, to uint64) bool {
	return s.Start < to && (s.End == 0 || s.End > from)
}

// EpochVerifier turns evidence about an epoch into a span it vouches for.
// The MLS layer implements it over the group's member-signed commit chain
// (the DS's PublicGroup keeps the commits); CommitChain below is a minimal
// stand-in with the same trust model. Implementations must never take times
// or membership from the provider's word (A4, T11).
type EpochVerifier interface {
	VerifyEpoch(groupID []byte, epoch uint64, evidence []byte) (EpochSpan, error)
}

// ErrEpochEvidence is returned when epoch evidence does not verify.
var ErrEpochEvidence = errors.New("trustee: epoch evidence does not verify")

// CommitStatement is a committer's signed statement that its commit moved
// group to epoch at time, leaving members as the group's accounts.
type CommitStatement struct {
	GroupID   []byte
	Epoch     uint64 // the epoch the commit starts
	Time      uint64
	Members   []string // sorted, distinct
	Committer string
	Signature []byte
}

func (c *CommitStatement) tbs() []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte("daylight commit statement v1\x00"))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.GroupID) })
	b.AddUint64(c.Epoch)
	b.AddUint64(c.Time)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, m := range c.Members {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m)) })
		}
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(c.Committer)) })
	return b.BytesOrPanic()
}

// Sign fills c.Signature with the committer's key.
func (c *CommitStatement) Sign(key ed25519.PrivateKey) { c.Signature = ed25519.Sign(key, c.tbs()) }

// Marshal encodes the statement with its signature.
func (c *CommitStatement) Marshal() []byte {
	var b cryptobyte.Builder
	b.AddBytes(c.tbs())
	b.AddBytes(c.Signature)
	return b.BytesOrPanic()
}

// ParseCommitStatement decodes a statement strictly.
func ParseCommitStatement(data []byte) (*CommitStatement, error) {
	s := cryptobyte.String(data)
	var c CommitStatement
	var prefix []byte
	var gid, members, committer cryptobyte.String
	if !s.ReadBytes(&prefix, len("daylight commit statement v1\x00")) || string(prefix) != "daylight commit statement v1\x00" ||
		!s.ReadUint8LengthPrefixed(&gid) || len(gid) == 0 || !s.ReadUint64(&c.Epoch) || !s.ReadUint64(&c.Time) ||
		!s.ReadUint16LengthPrefixed(&members) || !s.ReadUint8LengthPrefixed(&committer) || len(committer) == 0 {
		return nil, fmt.Errorf("%w: commit statement: malformed", ErrEpochEvidence)
	}
	c.GroupID, c.Committer = bytes.Clone(gid), string(committer)
	for !members.Empty() {
		var m cryptobyte.String
		if !members.ReadUint8LengthPrefixed(&m) || len(m) == 0 {
			return nil, fmt.Errorf("%w: commit statement: members malformed", ErrEpochEvidence)
		}
		if n := len(c.Members); n > 0 && c.Members[n-1] >= string(m) {
			return nil, fmt.Errorf("%w: commit statement: members not sorted and distinct", ErrEpochEvidence)
		}
		c.Members = append(c.Members, string(m))
	}
	var sig []byte
	if !s.ReadBytes(&sig, ed25519.SignatureSize) || !s.Empty() {
		return nil, fmt.Errorf("%w: commit statement: signature", ErrEpochEvidence)
	}
	c.Signature = bytes.Clone(sig)
	return &c, nil
}

// CommitChain verifies epoch evidence made of the statement of the commit
// that started the epoch and, if the epoch has ended, the statement of the
// next commit: encoded as u16-prefixed statements, one or two. Each must be
// signed by a member of the group at the time (the starting commit's
// committer must be in its own member list; the ending committer must be a
// member of the epoch it ends). Keys maps an account to its signature key as
// the key directory proved it.
type CommitChain struct {
	Keys func(account string) (ed25519.PublicKey, bool)
}

// EncodeEpochEvidence encodes the statements for CommitChain.
func EncodeEpochEvidence(start *CommitStatement, end *CommitStatement) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(start.Marshal()) })
	if end != nil {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(end.Marshal()) })
	}
	return b.BytesOrPanic()
}

func (cc CommitChain) verify(c *CommitStatement) error {
	key, ok := cc.Keys(c.Committer)
	if !ok {
		return fmt.Errorf("%w: committer %q has no key in the directory", ErrEpochEvidence, c.Committer)
	}
	if !ed25519.Verify(key, c.tbs(), c.Signature) {
		return fmt.Errorf("%w: statement of epoch %d not signed by %q", ErrEpochEvidence, c.Epoch, c.Committer)
	}
	return nil
}

// VerifyEpoch implements EpochVerifier.
func (cc CommitChain) VerifyEpoch(groupID []byte, epoch uint64, evidence []byte) (EpochSpan, error) {
	s := cryptobyte.String(evidence)
	var stmts []*CommitStatement
	for !s.Empty() && len(stmts) < 2 {
		var raw cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&raw) {
			return EpochSpan{}, fmt.Errorf("%w: evidence malformed", ErrEpochEvidence)
		}
		c, err := ParseCommitStatement(raw)
		if err != nil {
			return EpochSpan{}, err
		}
		stmts = append(stmts, c)
	}
	if len(stmts) == 0 || !s.Empty() {
		return EpochSpan{}, fmt.Errorf("%w: need one or two statements", ErrEpochEvidence)
	}
	start := stmts[0]
	if !bytes.Equal(start.GroupID, groupID) || start.Epoch != epoch {
		return EpochSpan{}, fmt.Errorf("%w: statement is for another group or epoch", ErrEpochEvidence)
	}
	if !slices.Contains(start.Members, start.Committer) {
		return EpochSpan{}, fmt.Errorf("%w: committer %q not a member", ErrEpochEvidence, start.Committer)
	}
	if err := cc.verify(start); err != nil {
		return EpochSpan{}, err
	}
	span := EpochSpan{GroupID: bytes.Clone(groupID), Epoch: epoch, Start: start.Time, Members: start.Members}
	if len(stmts) == 2 {
		end := stmts[1]
		if !bytes.Equal(end.GroupID, groupID) || end.Epoch != epoch+1 || end.Time < start.Time {
			return EpochSpan{}, fmt.Errorf("%w: ending statement does not follow epoch %d", ErrEpochEvidence, epoch)
		}
		if !slices.Contains(start.Members, end.Committer) {
			return EpochSpan{}, fmt.Errorf("%w: ending committer %q was not a member", ErrEpochEvidence, end.Committer)
		}
		if err := cc.verify(end); err != nil {
			return EpochSpan{}, err
		}
		span.End = end.Time
	}
	return span, nil
}
