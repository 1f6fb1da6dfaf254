package accesslog

import (
	"bytes"
	"errors"
	"fmt"

	f_log "github.com/transparency-dev/formats/log"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Errors returned by checkpoint and proof verification.
var (
	ErrNotEnoughCosignatures = errors.New("not enough witness cosignatures")
	ErrNoLogSignature        = errors.New("checkpoint is not signed by the log key")
	ErrWrongOrigin           = errors.New("checkpoint origin is not the log's")
	ErrInconsistent          = errors.New("checkpoints are not consistent")
	ErrNotIncluded           = errors.New("inclusion proof does not verify")
)

// CheckpointPolicy is what a client, trustee or auditor trusts about the log:
// its origin and key, and the witnesses of which at least Threshold must have
// cosigned a checkpoint (lawful-access.md A3: "cosigned by at least w of the
// policy's witnesses").
type CheckpointPolicy struct {
	Origin    string
	Log       note.Verifier   // Ed25519 note key (signed-note type 0x01)
	Witnesses []note.Verifier // cosignature/v1 keys (tlog-cosignature, type 0x04)
	Threshold int             // w: cosignatures required from distinct Witnesses
}

// NewCheckpointPolicy builds a policy from vkeys (C2SP signed-note "Verifier
// keys"). The log key must be an Ed25519 vkey; witness keys are cosignature/v1
// vkeys (type 0x04, or type 0x01 which is read as 0x04). threshold must be
// between 0 and len(witnessVKeys).
func NewCheckpointPolicy(origin, logVKey string, witnessVKeys []string, threshold int) (*CheckpointPolicy, error) {
	lv, err := note.NewVerifier(logVKey)
	if err != nil {
		return nil, fmt.Errorf("accesslog: log key %q: %w", logVKey, err)
	}
	if origin == "" {
		origin = lv.Name()
	}
	p := &CheckpointPolicy{Origin: origin, Log: lv, Threshold: threshold}
	seen := map[string]bool{}
	for _, k := range witnessVKeys {
		v, err := f_note.NewVerifierForCosignatureV1(k)
		if err != nil {
			return nil, fmt.Errorf("accesslog: witness key %q: %w", k, err)
		}
		id := fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
		if seen[id] {
			return nil, fmt.Errorf("accesslog: witness key %q listed twice", k)
		}
		seen[id] = true
		p.Witnesses = append(p.Witnesses, v)
	}
	if threshold < 0 || threshold > len(p.Witnesses) {
		return nil, fmt.Errorf("accesslog: witness threshold %d outside 0..%d", threshold, len(p.Witnesses))
	}
	return p, nil
}

// Checkpoint is a checkpoint that passed a CheckpointPolicy.
type Checkpoint struct {
	Origin    string
	Size      uint64
	Hash      [32]byte
	Cosigners []string // names of the policy witnesses whose cosignature verified
	Raw       []byte   // the signed note as received
}

// Verify checks a signed checkpoint (C2SP tlog-checkpoint) against the policy:
// a valid log signature, the expected origin, a well-formed body, and valid
// cosignatures from at least Threshold distinct policy witnesses
// (tlog-cosignature). Signatures from unknown keys are ignored; a signature
// from a known key that fails to verify rejects the whole note (signed-note,
// "Signatures"). A checkpoint shown with fewer cosignatures is refused with
// ErrNotEnoughCosignatures: this is what defeats a split view (T4).
func (p *CheckpointPolicy) Verify(raw []byte) (*Checkpoint, error) {
	vs := append([]note.Verifier{p.Log}, p.Witnesses...)
	n, err := note.Open(raw, note.VerifierList(vs...))
	if err != nil {
		var ue *note.UnverifiedNoteError
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("accesslog: checkpoint: %w", ErrNoLogSignature)
		}
		return nil, fmt.Errorf("accesslog: checkpoint: %w", err)
	}
	logSigned := false
	cosigners := map[string]bool{}
	for _, s := range n.Sigs {
		if s.Name == p.Log.Name() && s.Hash == p.Log.KeyHash() {
			logSigned = true
			continue
		}
		for _, w := range p.Witnesses {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				cosigners[fmt.Sprintf("%s+%08x", s.Name, s.Hash)] = true
			}
		}
	}
	if !logSigned {
		return nil, fmt.Errorf("accesslog: checkpoint: %w", ErrNoLogSignature)
	}
	var c f_log.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return nil, fmt.Errorf("accesslog: checkpoint body: %w", err)
	}
	if c.Origin != p.Origin {
		return nil, fmt.Errorf("accesslog: checkpoint origin %q, want %q: %w", c.Origin, p.Origin, ErrWrongOrigin)
	}
	if len(c.Hash) != 32 {
		return nil, fmt.Errorf("accesslog: checkpoint root hash: %d bytes", len(c.Hash))
	}
	if c.Size == 0 && !bytes.Equal(c.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
		return nil, fmt.Errorf("accesslog: checkpoint of size 0 has a non-empty root")
	}
	if len(cosigners) < p.Threshold {
		return nil, fmt.Errorf("accesslog: checkpoint of size %d has %d of %d required cosignatures: %w", c.Size, len(cosigners), p.Threshold, ErrNotEnoughCosignatures)
	}
	out := &Checkpoint{Origin: c.Origin, Size: c.Size, Raw: append([]byte(nil), raw...)}
	copy(out.Hash[:], c.Hash)
	for _, w := range p.Witnesses {
		if cosigners[fmt.Sprintf("%s+%08x", w.Name(), w.KeyHash())] {
			out.Cosigners = append(out.Cosigners, w.Name())
		}
	}
	return out, nil
}

// LeafHash returns the RFC 6962 leaf hash of an encoded entry.
func LeafHash(entry []byte) [32]byte {
	var h [32]byte
	copy(h[:], rfc6962.DefaultHasher.HashLeaf(entry))
	return h
}

// VerifyInclusion checks an RFC 6962 inclusion proof (Section 2.1.1) that the
// encoded entry is at index in the tree committed to by cp.
func VerifyInclusion(cp *Checkpoint, index uint64, entry []byte, p [][]byte) error {
	lh := LeafHash(entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, lh[:], p, cp.Hash[:]); err != nil {
		return fmt.Errorf("accesslog: entry %d in tree %d: %w: %v", index, cp.Size, ErrNotIncluded, err)
	}
	return nil
}

// VerifyConsistency checks an RFC 6962 consistency proof (Section 2.1.2)
// from old to new. Equal sizes require equal roots; a smaller new tree is a
// rollback and is refused.
func VerifyConsistency(old, new *Checkpoint, p [][]byte) error {
	if old.Origin != new.Origin {
		return fmt.Errorf("accesslog: origins %q and %q: %w", old.Origin, new.Origin, ErrWrongOrigin)
	}
	if new.Size < old.Size {
		return fmt.Errorf("accesslog: tree shrank from %d to %d (rollback): %w", old.Size, new.Size, ErrInconsistent)
	}
	if old.Size == 0 {
		// The empty tree is a prefix of every tree (tlog-witness: "the empty
		// tree is consistent with any tree, so no proof is necessary").
		if len(p) != 0 {
			return fmt.Errorf("accesslog: proof given from the empty tree: %w", ErrInconsistent)
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, new.Size, p, old.Hash[:], new.Hash[:]); err != nil {
		return fmt.Errorf("accesslog: trees %d and %d: %w: %v", old.Size, new.Size, ErrInconsistent, err)
	}
	return nil
}
