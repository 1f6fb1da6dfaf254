// Package epochproof verifies the member-signed evidence of an MLS epoch that
// the delivery service retains (ds.Service.EpochEvidence): the committer's
// signed statement of the epoch its commit started and, once the epoch ended,
// the statement of the next commit (docs/lawful-access.md, "Epoch
// statements"; A4, T11). It implements trustee.EpochVerifier with the trust
// model of trustee.CommitChain, for accounts with several devices: a statement
// verifies under any device key the key directory proves for the committer's
// account, never under a key the provider supplies.
package epochproof

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/trustee"
	"golang.org/x/crypto/cryptobyte"
)

// Verifier implements trustee.EpochVerifier.
type Verifier struct {
	// DeviceKeys returns the signature keys of an account's devices as the
	// key directory proved them (revoked devices included: an old statement
	// stays valid after its device is revoked).
	DeviceKeys func(account string) []ed25519.PublicKey
}

var _ trustee.EpochVerifier = Verifier{}

// Parse splits evidence in trustee.EncodeEpochEvidence form into its one or
// two statements, strictly.
func Parse(evidence []byte) ([]*trustee.CommitStatement, error) {
	s := cryptobyte.String(evidence)
	var out []*trustee.CommitStatement
	for !s.Empty() {
		var raw cryptobyte.String
		if len(out) == 2 || !s.ReadUint16LengthPrefixed(&raw) {
			return nil, fmt.Errorf("%w: epochproof: evidence malformed", trustee.ErrEpochEvidence)
		}
		c, err := trustee.ParseCommitStatement(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: epochproof: no statement", trustee.ErrEpochEvidence)
	}
	return out, nil
}

func (v Verifier) verify(c *trustee.CommitStatement) error {
	enc := c.Marshal()
	tbs := enc[:len(enc)-ed25519.SignatureSize]
	for _, k := range v.DeviceKeys(c.Committer) {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, tbs, c.Signature) {
			return nil
		}
	}
	return fmt.Errorf("%w: epochproof: statement of epoch %d not signed by a device of %q", trustee.ErrEpochEvidence, c.Epoch, c.Committer)
}

// VerifyEpoch implements trustee.EpochVerifier: the first statement must be
// of (groupID, epoch) by a committer in its own member list; a second one must
// be of epoch+1, no earlier, by a member of the epoch it ends. Each must be
// signed by a device of its committer's account.
func (v Verifier) VerifyEpoch(groupID []byte, epoch uint64, evidence []byte) (trustee.EpochSpan, error) {
	stmts, err := Parse(evidence)
	if err != nil {
		return trustee.EpochSpan{}, err
	}
	start := stmts[0]
	if !bytes.Equal(start.GroupID, groupID) || start.Epoch != epoch {
		return trustee.EpochSpan{}, fmt.Errorf("%w: epochproof: statement is for another group or epoch", trustee.ErrEpochEvidence)
	}
	if !slices.Contains(start.Members, start.Committer) {
		return trustee.EpochSpan{}, fmt.Errorf("%w: epochproof: committer %q not a member", trustee.ErrEpochEvidence, start.Committer)
	}
	if err := v.verify(start); err != nil {
		return trustee.EpochSpan{}, err
	}
	span := trustee.EpochSpan{GroupID: bytes.Clone(groupID), Epoch: epoch, Start: start.Time, Members: slices.Clone(start.Members)}
	if len(stmts) == 2 {
		end := stmts[1]
		if !bytes.Equal(end.GroupID, groupID) || end.Epoch != epoch+1 || end.Time < start.Time {
			return trustee.EpochSpan{}, fmt.Errorf("%w: epochproof: ending statement does not follow epoch %d", trustee.ErrEpochEvidence, epoch)
		}
		if !slices.Contains(start.Members, end.Committer) {
			return trustee.EpochSpan{}, fmt.Errorf("%w: epochproof: ending committer %q was not a member", trustee.ErrEpochEvidence, end.Committer)
		}
		if err := v.verify(end); err != nil {
			return trustee.EpochSpan{}, err
		}
		span.End = end.Time
	}
	return span, nil
}
