package ds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// PutBlob stores an attachment streamed from r, chunk by chunk, and returns
// its metadata once every chunk is durable. size is the exact length the
// client declares: more than MaxBlobBytes is ErrTooLarge before anything is
// read; a stream longer than size is ErrTooLarge, shorter is ErrInvalidInput,
// and in both cases the partial blob is deleted. The bytes are client-side
// encrypted; the DS never sees the key.
func (s *Service) PutBlob(ctx context.Context, p Principal, r io.Reader, size int64) (BlobMeta, error) {
	if size <= 0 {
		return BlobMeta{}, fmt.Errorf("ds: blob size must be positive: %w", ErrInvalidInput)
	}
	if size > s.cfg.MaxBlobBytes {
		return BlobMeta{}, fmt.Errorf("ds: blob of %d bytes exceeds the limit of %d: %w", size, s.cfg.MaxBlobBytes, ErrTooLarge)
	}
	if _, err := s.activeDevice(ctx, p); err != nil {
		return BlobMeta{}, err
	}
	var idb [16]byte
	if _, err := io.ReadFull(s.rand, idb[:]); err != nil {
		return BlobMeta{}, fmt.Errorf("ds: blob id: %w", err)
	}
	m := BlobMeta{ID: hex.EncodeToString(idb[:]), Owner: p.Device, Size: size, ChunkSize: s.cfg.BlobChunkBytes, Created: s.now()}
	if err := s.store.CreateBlob(ctx, m); err != nil {
		return BlobMeta{}, err
	}
	sum, err := s.putChunks(ctx, m, r)
	if err != nil {
		if derr := s.store.DeleteBlob(context.WithoutCancel(ctx), m.ID); derr != nil {
			s.log.Warn("ds: deleting failed upload", "blob", m.ID, "err", derr)
		}
		return BlobMeta{}, err
	}
	if err := s.store.CompleteBlob(ctx, m.ID, size, sum); err != nil {
		return BlobMeta{}, err
	}
	m.SHA256, m.Complete = sum, true
	return m, nil
}

func (s *Service) putChunks(ctx context.Context, m BlobMeta, r io.Reader) ([32]byte, error) {
	h := sha256.New()
	buf := make([]byte, m.ChunkSize)
	var total int64
	for i := 0; ; i++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			total += int64(n)
			if total > m.Size {
				return [32]byte{}, fmt.Errorf("ds: blob longer than its declared %d bytes: %w", m.Size, ErrTooLarge)
			}
			h.Write(buf[:n])
			if err := s.store.PutBlobChunk(ctx, m.ID, i, buf[:n]); err != nil {
				return [32]byte{}, err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return [32]byte{}, fmt.Errorf("ds: reading blob: %w", err)
		}
	}
	if total != m.Size {
		return [32]byte{}, fmt.Errorf("ds: blob has %d bytes, declared %d: %w", total, m.Size, ErrInvalidInput)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// BlobInfo returns a complete blob's metadata. Any authenticated device that
// knows the (random, 128-bit) id may read it: the bytes are encrypted and the
// id travels inside MLS messages.
func (s *Service) BlobInfo(ctx context.Context, _ Principal, id string) (BlobMeta, error) {
	m, err := s.store.Blob(ctx, id)
	if err != nil {
		return BlobMeta{}, err
	}
	if !m.Complete {
		return BlobMeta{}, fmt.Errorf("ds: blob %s: upload not finished: %w", id, ErrNotFound)
	}
	return m, nil
}

// ReadBlob writes bytes [off, off+n) of a complete blob to w (n < 0: to the
// end), streaming chunk by chunk; a client resumes a download by asking for the
// range it lacks. ErrInvalidInput for a range outside the blob.
func (s *Service) ReadBlob(ctx context.Context, p Principal, id string, off, n int64, w io.Writer) (int64, error) {
	m, err := s.BlobInfo(ctx, p, id)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = m.Size - off
	}
	if off < 0 || off > m.Size || n < 0 || off+n > m.Size {
		return 0, fmt.Errorf("ds: blob %s: range %d+%d outside %d bytes: %w", id, off, n, m.Size, ErrInvalidInput)
	}
	var written int64
	cs := int64(m.ChunkSize)
	for written < n {
		pos := off + written
		chunk, err := s.store.BlobChunk(ctx, id, int(pos/cs))
		if err != nil {
			return written, err
		}
		start := pos % cs
		if start >= int64(len(chunk)) {
			return written, fmt.Errorf("ds: blob %s: chunk %d short: %w", id, pos/cs, ErrNotFound)
		}
		part := chunk[start:min(int64(len(chunk)), start+n-written)]
		k, err := w.Write(part)
		written += int64(k)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
