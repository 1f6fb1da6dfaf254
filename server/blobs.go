package server

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
)

// countingReader counts bytes read (metrics).
type countingReader struct {
	r io.Reader
	n *uint64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += uint64(n)
	return n, err
}

// uploadBlob streams an encrypted attachment into the store: the body must be
// application/octet-stream with a Content-Length (the declared size, limited
// by the service's MaxBlobBytes); ds stores it chunk by chunk.
func (s *Server) uploadBlob(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	if mt := mediaType(r); mt != api.MediaBinary {
		return fmt.Errorf("Content-Type %q, want %s: %w", r.Header.Get("Content-Type"), api.MediaBinary, errMedia)
	}
	if r.ContentLength <= 0 {
		return fmt.Errorf("a blob upload needs a positive Content-Length: %w", errBadParam)
	}
	if max := s.svc.Config().MaxBlobBytes; r.ContentLength > max {
		return fmt.Errorf("blob of %d bytes exceeds the limit of %d: %w", r.ContentLength, max, errTooLarge)
	}
	var n uint64
	body := http.MaxBytesReader(w, r.Body, r.ContentLength)
	m, err := s.svc.PutBlob(r.Context(), p, countingReader{body, &n}, r.ContentLength)
	s.met.blobBytesIn.Add(n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, api.Blob{ID: m.ID, Size: m.Size, SHA256: m.SHA256[:]})
}

// parseRange parses a single byte range (RFC 9110, Section 14.1.2) against a
// representation of size bytes. ok is false when the header is absent or not
// a single bytes range (then the whole blob is served, as the RFC allows).
func parseRange(h string, size int64) (off, n int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, fmt.Errorf("Range %q: %w", h, errRange)
	}
	if a == "" { // suffix: the last b bytes
		k, err := strconv.ParseInt(b, 10, 64)
		if err != nil || k <= 0 {
			return 0, 0, false, fmt.Errorf("Range %q: %w", h, errRange)
		}
		k = min(k, size)
		return size - k, k, true, nil
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false, fmt.Errorf("Range %q outside %d bytes: %w", h, size, errRange)
	}
	last := size - 1
	if b != "" {
		l, err := strconv.ParseInt(b, 10, 64)
		if err != nil || l < first {
			return 0, 0, false, fmt.Errorf("Range %q: %w", h, errRange)
		}
		last = min(l, size-1)
	}
	return first, last - first + 1, true, nil
}

// downloadBlob serves a blob, or the single byte range asked for (206), so
// a client resumes an interrupted download. ETag is the blob's SHA-256;
// If-Range with another ETag serves the whole blob.
func (s *Server) downloadBlob(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	id := r.PathValue("blob")
	m, err := s.svc.BlobInfo(r.Context(), p, id)
	if err != nil {
		return err
	}
	etag := `"` + hex.EncodeToString(m.SHA256[:]) + `"`
	off, n, partial, err := parseRange(r.Header.Get("Range"), m.Size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", m.Size))
		return err
	}
	if ir := r.Header.Get("If-Range"); partial && ir != "" && ir != etag {
		off, n, partial = 0, m.Size, false
	}
	h := w.Header()
	h.Set("Content-Type", api.MediaBinary)
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", etag)
	h.Set(api.HeaderBlobSHA256, hex.EncodeToString(m.SHA256[:]))
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, m.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	written, err := s.svc.ReadBlob(r.Context(), p, id, off, n, w)
	s.met.blobBytesOut.Add(uint64(written))
	if err != nil {
		// Headers are sent: the short body tells the client; log only.
		s.log.Warn("blob download cut short", "blob", id, "written", written, "want", n, "err", err)
	}
	return nil
}
