package kdclient

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/prefix"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Config holds what a client pins about its directory.
type Config struct {
	DirectoryKey ed25519.PublicKey // signs epoch heads
	VRFKey       []byte            // C2SP vrf-r255 public key
	Checkpoints  CheckpointVerifier
	// DecodeEntry decodes the access log's KeyDirectory entry; default
	// keydir.ParseHeadEntry. It must fail for other entry types.
	DecodeEntry func(entry []byte) (keydir.EpochHead, error)
	// MaxAge, if set, refuses lookups anchored at an epoch head older than
	// this (by Now, default time.Now): a replayed old answer would otherwise
	// resurrect a revoked device. Set it to a few epoch intervals.
	MaxAge time.Duration
	Now    func() time.Time
}

// ErrStale: the lookup is anchored at an epoch older than Config.MaxAge.
var ErrStale = errors.New("kdclient: directory answer is older than the freshness limit")

func (c *Config) checkFresh(h keydir.EpochHead) error {
	if c.MaxAge <= 0 {
		return nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if age := now().Sub(time.Unix(int64(h.Time), 0)); age > c.MaxAge {
		return fmt.Errorf("%w: epoch %d is %v old", ErrStale, h.Epoch, age.Round(time.Second))
	}
	return nil
}

func (c *Config) decode(entry []byte) (keydir.EpochHead, error) {
	if c.DecodeEntry != nil {
		return c.DecodeEntry(entry)
	}
	return keydir.ParseHeadEntry(entry)
}

// ErrUnverifiable wraps every proof failure: the response does not prove
// what it claims, and nothing in it may be used.
var ErrUnverifiable = errors.New("kdclient: directory response does not verify")

func unverifiable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnverifiable, fmt.Sprintf(format, args...))
}

// Lookup is a verified lookup result.
type Lookup struct {
	Username   string
	Head       keydir.EpochHead
	Checkpoint Checkpoint
	// State is the verified account, nil when the directory proved the
	// username is not registered.
	State *account.State
}

// verifyHead checks a head's log entry, signature and inclusion under cp.
func (c *Config) verifyHead(cp Checkpoint, lp *keydir.LogProof) (keydir.EpochHead, error) {
	h, err := c.decode(lp.Entry)
	if err != nil {
		return h, unverifiable("log entry: %v", err)
	}
	if err := keydir.VerifyHead(c.DirectoryKey, &h); err != nil {
		return h, unverifiable("%v", err)
	}
	hashes := make([][]byte, len(lp.Hashes))
	for i := range lp.Hashes {
		hashes[i] = lp.Hashes[i][:]
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(lp.Entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, lp.Index, cp.Size, leaf, hashes, cp.Hash[:]); err != nil {
		return h, unverifiable("epoch %d head is not in the witnessed log: %v", h.Epoch, err)
	}
	return h, nil
}

// VerifyLookup checks every proof of a lookup response: the checkpoint under
// the witness policy, the epoch head's signature and its inclusion in the
// log, the VRF label, the account chain (each version signed by a device of
// the previous one), and the prefix-tree proof of its commitment (or of the
// username's absence) under the head's root.
func (c *Config) VerifyLookup(r *keydir.LookupResponse) (*Lookup, error) {
	cp, err := c.Checkpoints.VerifyCheckpoint(r.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnverifiable, err)
	}
	h, err := c.verifyHead(cp, &r.HeadProof)
	if err != nil {
		return nil, err
	}
	if err := c.checkFresh(h); err != nil {
		return nil, err
	}
	label, err := keydir.VerifyLabel(c.VRFKey, r.Username, r.VRFProof)
	if err != nil {
		return nil, unverifiable("%v", err)
	}
	out := &Lookup{Username: r.Username, Head: h, Checkpoint: cp}
	if r.TreeProof == nil {
		return nil, unverifiable("no tree proof")
	}
	if r.TreeProof.Terminal != prefix.TerminalMember {
		if len(r.Records) != 0 {
			return nil, unverifiable("records with an absence proof")
		}
		if err := prefix.Verify(h.Root, label, nil, r.TreeProof); err != nil {
			return nil, unverifiable("absence of %q: %v", r.Username, err)
		}
		return out, nil
	}
	chain := make([]*account.Record, len(r.Records))
	for i, b := range r.Records {
		if chain[i], err = account.ParseRecord(b); err != nil {
			return nil, unverifiable("record %d: %v", i, err)
		}
	}
	st, err := account.Verify(chain)
	if err != nil {
		return nil, unverifiable("account chain of %q: %v", r.Username, err)
	}
	if st.Username != r.Username {
		return nil, unverifiable("chain is for %q, not %q", st.Username, r.Username)
	}
	v := keydir.Commitment(r.Opening, st.Head)
	if err := prefix.Verify(h.Root, label, &v, r.TreeProof); err != nil {
		return nil, unverifiable("%q version %d is not what epoch %d commits to: %v", r.Username, st.Version, h.Epoch, err)
	}
	out.State = st
	return out, nil
}
