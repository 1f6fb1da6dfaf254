package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
)

// fetcher reads tlog-tiles resources.
type fetcher interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, l, i uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, i uint64, p uint8) ([]byte, error)
}

// Client reads a log through the C2SP tlog-tiles API only (HTTP, or a local
// copy of the tiles) and verifies everything it returns against a
// CheckpointPolicy. Trustees, clients and daylight-verify use it.
type Client struct {
	f      fetcher
	policy *accesslog.CheckpointPolicy
}

// NewClient returns a Client for source: an http:// or https:// URL prefix
// (e.g. "https://daylight.example/log/") or a local directory holding a copy
// of the log's tiles. httpClient may be nil.
func NewClient(source string, policy *accesslog.CheckpointPolicy, httpClient *http.Client) (*Client, error) {
	if policy == nil {
		return nil, errors.New("tlog: a checkpoint policy is required")
	}
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		if !strings.HasSuffix(source, "/") {
			source += "/"
		}
		u, err := url.Parse(source)
		if err != nil {
			return nil, fmt.Errorf("tlog: log URL: %w", err)
		}
		if httpClient == nil {
			httpClient = http.DefaultClient
		}
		f, err := tclient.NewHTTPFetcher(u, httpClient)
		if err != nil {
			return nil, fmt.Errorf("tlog: %w", err)
		}
		return &Client{f: f, policy: policy}, nil
	}
	return &Client{f: tclient.FileFetcher{Root: source}, policy: policy}, nil
}

// Checkpoint fetches the latest checkpoint and verifies it against the
// policy (log signature, origin, w cosignatures). A view without enough
// cosignatures is refused (accesslog.ErrNotEnoughCosignatures).
func (c *Client) Checkpoint(ctx context.Context) (*accesslog.Checkpoint, error) {
	raw, err := c.f.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("tlog: fetching checkpoint: %w", err)
	}
	return c.policy.Verify(raw)
}

// InclusionProof builds the RFC 6962 inclusion proof of index in cp's tree
// from the log's tiles. The proof is not trusted: check it with
// accesslog.VerifyInclusion (or use VerifyEntry).
func (c *Client) InclusionProof(ctx context.Context, cp *accesslog.Checkpoint, index uint64) ([][]byte, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("tlog: index %d outside tree of size %d", index, cp.Size)
	}
	pb, err := tclient.NewProofBuilder(ctx, cp.Size, c.f.ReadTile)
	if err != nil {
		return nil, err
	}
	return pb.InclusionProof(ctx, index)
}

// VerifyEntry fetches an inclusion proof from the tiles and checks that the
// encoded entry is at index under cp.
func (c *Client) VerifyEntry(ctx context.Context, cp *accesslog.Checkpoint, index uint64, entry []byte) error {
	p, err := c.InclusionProof(ctx, cp, index)
	if err != nil {
		return fmt.Errorf("tlog: inclusion proof for %d: %w", index, err)
	}
	return accesslog.VerifyInclusion(cp, index, entry, p)
}

// Proof builds a C2SP tlog-proof for the entry at index under cp: an
// offline-verifiable proof (accesslog.CheckpointPolicy.VerifyProof) that can
// be handed to a trustee or a court together with the entry.
func (c *Client) Proof(ctx context.Context, cp *accesslog.Checkpoint, index uint64) (*accesslog.Proof, error) {
	p, err := c.InclusionProof(ctx, cp, index)
	if err != nil {
		return nil, err
	}
	return &accesslog.Proof{Index: index, Inclusion: p, Checkpoint: cp.Raw}, nil
}

// ConsistencyProof builds the RFC 6962 consistency proof from old to new
// from the tiles of new's tree.
func (c *Client) ConsistencyProof(ctx context.Context, old, new *accesslog.Checkpoint) ([][]byte, error) {
	if old.Size > new.Size {
		return nil, fmt.Errorf("tlog: tree shrank from %d to %d: %w", old.Size, new.Size, accesslog.ErrInconsistent)
	}
	if old.Size == 0 || old.Size == new.Size {
		return nil, nil
	}
	pb, err := tclient.NewProofBuilder(ctx, new.Size, c.f.ReadTile)
	if err != nil {
		return nil, err
	}
	return pb.ConsistencyProof(ctx, old.Size, new.Size)
}

// VerifyConsistency fetches a consistency proof and checks that new extends
// old (the same log never showed two different trees to this client).
func (c *Client) VerifyConsistency(ctx context.Context, old, new *accesslog.Checkpoint) error {
	p, err := c.ConsistencyProof(ctx, old, new)
	if err != nil {
		return err
	}
	return accesslog.VerifyConsistency(old, new, p)
}

// Entries calls fn for every entry of cp's tree in order, with its index and
// raw bytes, after checking that the entries hash to cp's root: all bundles
// are read, their leaf hashes folded into a compact range, and the range's
// root compared with cp.Hash before the first call to fn. Memory use is
// proportional to the log size (entries are kept to defer fn until verified);
// fn returning an error stops the walk.
func (c *Client) Entries(ctx context.Context, cp *accesslog.Checkpoint, fn func(index uint64, entry []byte) error) error {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	var all [][]byte
	for b := uint64(0); b*layout.EntryBundleWidth < cp.Size; b++ {
		raw, err := c.f.ReadEntryBundle(ctx, b, layout.PartialTileSize(0, b, cp.Size))
		if err != nil {
			return fmt.Errorf("tlog: entry bundle %d: %w", b, err)
		}
		var bundle api.EntryBundle
		if err := bundle.UnmarshalText(raw); err != nil {
			return fmt.Errorf("tlog: entry bundle %d: %w", b, err)
		}
		want := min(uint64(layout.EntryBundleWidth), cp.Size-b*layout.EntryBundleWidth)
		if uint64(len(bundle.Entries)) < want {
			return fmt.Errorf("tlog: entry bundle %d has %d entries, want %d", b, len(bundle.Entries), want)
		}
		for _, e := range bundle.Entries[:want] {
			if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
				return err
			}
			all = append(all, e)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return err
	}
	if cp.Size == 0 {
		root = rfc6962.DefaultHasher.EmptyRoot()
	}
	if !bytes.Equal(root, cp.Hash[:]) {
		return fmt.Errorf("tlog: entries do not hash to the checkpoint root (size %d): %w", cp.Size, accesslog.ErrNotIncluded)
	}
	for i, e := range all {
		if err := fn(uint64(i), e); err != nil {
			return err
		}
	}
	return nil
}
