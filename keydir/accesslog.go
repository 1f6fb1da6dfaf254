package keydir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/daylight-im/daylight/accesslog"
)

// Appender is the part of the access log (accesslog/tlog.Log) the directory
// writes to.
type Appender interface {
	// Append returns the entry's index once it is durably sequenced.
	Append(ctx context.Context, e accesslog.Entry) (uint64, error)
	// Checkpoint returns the latest published checkpoint; the log publishes
	// only checkpoints its witnesses cosigned.
	Checkpoint(ctx context.Context) ([]byte, error)
}

// InclusionProver builds inclusion proofs from the log's tiles
// (accesslog/tlog.Client over the log's directory or URL).
type InclusionProver interface {
	InclusionProof(ctx context.Context, cp *accesslog.Checkpoint, index uint64) ([][]byte, error)
}

// AccessLog adapts the access log to Log: heads go in as
// accesslog.KeyDirectory entries, and checkpoints are checked against the
// same policy clients use before the directory serves anything under them.
//
//	keydir.AccessLog{Log: tlogLog, Proofs: tlogClient, Policy: tlogLog.Policy()}
type AccessLog struct {
	Log    Appender
	Proofs InclusionProver
	Policy *accesslog.CheckpointPolicy
}

// AppendHead implements Log.
func (a *AccessLog) AppendHead(ctx context.Context, h EpochHead) (uint64, error) {
	return a.Log.Append(ctx, h.entry())
}

// Checkpoint implements Log. Before the log's first publication it returns
// an error wrapping ErrNotPublished.
func (a *AccessLog) Checkpoint(ctx context.Context) ([]byte, uint64, error) {
	raw, err := a.Log.Checkpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %w", ErrNotPublished, err)
	}
	if err != nil {
		return nil, 0, err
	}
	cp, err := a.Policy.Verify(raw)
	if err != nil {
		return nil, 0, err
	}
	return raw, cp.Size, nil
}

// Inclusion implements Log.
func (a *AccessLog) Inclusion(ctx context.Context, index uint64, checkpoint []byte) ([][32]byte, error) {
	cp, err := a.Policy.Verify(checkpoint)
	if err != nil {
		return nil, err
	}
	p, err := a.Proofs.InclusionProof(ctx, cp, index)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, len(p))
	for i := range p {
		if len(p[i]) != 32 {
			return nil, fmt.Errorf("keydir: inclusion proof hash %d is %d bytes", i, len(p[i]))
		}
		copy(out[i][:], p[i])
	}
	return out, nil
}
