package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/trustee"
)

// TlogAppender appends to an access log opened in this process
// (accesslog/tlog): tests, and a trustee co-located with the log.
type TlogAppender struct{ Log *tlog.Log }

// Append implements LogAppender.
func (a TlogAppender) Append(ctx context.Context, entry []byte) (uint64, error) {
	return a.Log.AppendRaw(ctx, entry)
}

// HTTPAppender appends through the provider's append endpoint for
// authorized roles. The contract daylightd must implement
// (docs/trustee.md, "What daylightd must expose"):
//
//	POST <URL>   body: the encoded entry (application/octet-stream)
//	             Authorization: Bearer <Token>
//	200          {"index": N} once the entry is durably sequenced
//
// The index is not trusted: the service waits until the log's own
// cosigned checkpoint proves the entry at that index.
type HTTPAppender struct {
	URL   string
	Token string
	HTTP  *http.Client
}

// Append implements LogAppender.
func (a HTTPAppender) Append(ctx context.Context, entry []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(entry))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("log append: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var out struct {
		Index *uint64 `json:"index"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Index == nil {
		return 0, fmt.Errorf("log append: malformed response")
	}
	return *out.Index, nil
}

// Client calls a trustee service's HTTP API (the authority's side).
type Client struct {
	URL  string // base URL, e.g. "https://trustee-0.example"
	HTTP *http.Client
}

// RefusalError is a trustee's refusal: HTTP status and the service's code.
type RefusalError struct {
	Status  int
	Code    string
	Message string
}

func (e *RefusalError) Error() string {
	return fmt.Sprintf("trustee refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// Release posts a release request and returns the proved release entry and
// the sealed shares. Nothing in the answer is trusted yet: the authority
// checks the release entry's inclusion and signature and opens each share
// with trustee.OpenShare.
func (c *Client) Release(ctx context.Context, req *trustee.Request) (*Released, error) {
	return c.post(ctx, "/v1/release", req)
}

// Resume asks for the shares of a request the trustee already released
// (after a lost answer); the trustee logs nothing new.
func (c *Client) Resume(ctx context.Context, req *trustee.Request) (*Released, error) {
	return c.post(ctx, "/v1/release/resume", req)
}

func (c *Client) post(ctx context.Context, path string, req *trustee.Request) (*Released, error) {
	body, err := json.Marshal(FromTrustee(req))
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e)
		return nil, &RefusalError{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	var out ReleaseResponse
	if err := decodeStrict(io.LimitReader(resp.Body, MaxRequestSize), &out); err != nil {
		return nil, fmt.Errorf("trustee response: %w", err)
	}
	shares, err := out.SealedShares()
	if err != nil {
		return nil, fmt.Errorf("trustee response: %w", err)
	}
	incl, err := out.Release()
	if err != nil {
		return nil, fmt.Errorf("trustee response: release_proof: %w", err)
	}
	return &Released{Release: incl, Shares: shares}, nil
}
