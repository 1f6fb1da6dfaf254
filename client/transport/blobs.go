package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/daylight-im/daylight/api"
)

// Progress is called as a transfer advances with the bytes done so far and
// the total (the blob's size). It runs on the transferring goroutine.
type Progress func(done, total int64)

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(p.done, p.total)
	}
	return n, err
}

// UploadBlob streams an (already encrypted) attachment of exactly size bytes
// from r. progress may be nil.
func (c *Client) UploadBlob(ctx context.Context, r io.Reader, size int64, progress Progress) (api.Blob, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.Token(ctx)
		if err != nil {
			return api.Blob{}, err
		}
		pr := &progressReader{r: r, total: size, fn: progress}
		req, err := http.NewRequestWithContext(ctx, "POST", c.base.String()+"/v1/blobs", pr)
		if err != nil {
			return api.Blob{}, err
		}
		req.ContentLength = size
		req.Header.Set("Content-Type", api.MediaBinary)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.hc.Do(req)
		if err != nil {
			return api.Blob{}, fmt.Errorf("transport: upload: %w", err)
		}
		var out api.Blob
		err = decodeResponse(resp, &out)
		if attempt == 0 && pr.done == 0 && api.HasCode(err, api.CodeUnauthenticated) {
			c.dropToken()
			continue
		}
		return out, err
	}
}

// DownloadBlob writes the blob's bytes from offset on to w and returns how
// many it wrote; to resume an interrupted download call it again with the
// offset reached (a Range request). progress (may be nil) counts from offset.
func (c *Client) DownloadBlob(ctx context.Context, id string, offset int64, w io.Writer, progress Progress) (int64, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base.String()+"/v1/blobs/"+url.PathEscape(id), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("transport: download: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return 0, decodeResponse(resp, nil)
	}
	defer resp.Body.Close()
	if offset > 0 && resp.StatusCode != http.StatusPartialContent {
		return 0, fmt.Errorf("transport: download: server ignored the range")
	}
	total := offset + resp.ContentLength
	pr := &progressReader{r: resp.Body, done: offset, total: total, fn: progress}
	n, err := io.Copy(w, pr)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, fmt.Errorf("transport: download cut at %d bytes (resume from %d): %w", offset+n, offset+n, err)
	}
	return n, nil
}
