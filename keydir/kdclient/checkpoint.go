// Package kdclient verifies the key directory on the client: lookups against
// a witness-cosigned checkpoint, pinned contacts (TOFU, with safety-number
// changes shown to the user), the monitoring of one's own account (ghost
// devices, versions no device of the account signed), and split views of the
// directory. It is pure verification: it fetches nothing and keeps its state
// in memory for the caller to persist.
package kdclient

import (
	"errors"
	"fmt"
	"github.com/daylight-im/daylight/accesslog"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a verified log checkpoint (C2SP tlog-checkpoint).
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   [32]byte
}

// CheckpointVerifier accepts a checkpoint only under the client's witness
// policy. accesslog's client-side policy can implement it; WitnessPolicy is
// a self-contained one.
type CheckpointVerifier interface {
	VerifyCheckpoint(signedNote []byte) (Checkpoint, error)
}

// WitnessPolicy accepts a checkpoint signed by the log and cosigned
// (C2SP tlog-cosignature) by at least Threshold of Witnesses.
type WitnessPolicy struct {
	Origin    string
	Log       note.Verifier
	Witnesses []note.Verifier
	Threshold int
	// AllowUnwitnessed accepts, when Witnesses is empty and Threshold 0,
	// checkpoints signed by the log key alone (a provider that runs no
	// witnesses). Without it a policy needs at least one cosignature.
	AllowUnwitnessed bool
}

// ErrCheckpoint is wrapped by every checkpoint rejection.
var ErrCheckpoint = errors.New("kdclient: checkpoint rejected")

// VerifyCheckpoint implements CheckpointVerifier.
func (p *WitnessPolicy) VerifyCheckpoint(signed []byte) (Checkpoint, error) {
	unwitnessed := p.AllowUnwitnessed && p.Threshold == 0 && len(p.Witnesses) == 0
	if !unwitnessed && (p.Threshold < 1 || p.Threshold > len(p.Witnesses)) {
		return Checkpoint{}, fmt.Errorf("%w: policy threshold %d of %d witnesses", ErrCheckpoint, p.Threshold, len(p.Witnesses))
	}
	cp, _, n, err := log.ParseCheckpoint(signed, p.Origin, p.Log, p.Witnesses...)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	seen := map[uint32]bool{}
	for _, s := range n.Sigs {
		for _, w := range p.Witnesses {
			if s.Hash == w.KeyHash() && s.Name == w.Name() {
				seen[s.Hash] = true
			}
		}
	}
	if len(seen) < p.Threshold {
		return Checkpoint{}, fmt.Errorf("%w: %d witness cosignatures, policy needs %d", ErrCheckpoint, len(seen), p.Threshold)
	}
	if len(cp.Hash) != 32 {
		return Checkpoint{}, fmt.Errorf("%w: root hash is %d bytes", ErrCheckpoint, len(cp.Hash))
	}
	out := Checkpoint{Origin: cp.Origin, Size: cp.Size}
	copy(out.Hash[:], cp.Hash)
	return out, nil
}

// AccessLogPolicy adapts the access log's checkpoint policy (the one
// trustees and daylight-verify use) to CheckpointVerifier.
type AccessLogPolicy struct{ Policy *accesslog.CheckpointPolicy }

// VerifyCheckpoint implements CheckpointVerifier.
func (p AccessLogPolicy) VerifyCheckpoint(signed []byte) (Checkpoint, error) {
	cp, err := p.Policy.Verify(signed)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash}, nil
}
