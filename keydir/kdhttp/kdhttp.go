// Package kdhttp is the thin HTTP adapter of the key directory: a handler
// serving a keydir Service and a client that fetches from it. Bodies are the
// binary encodings of keydir (application/octet-stream). The server engineer
// may mount Handler under server/ or re-route it; the paths are:
//
//	POST /keydir/v1/register           body: account.Record (version 0)
//	POST /keydir/v1/change             body: account.Record (next version)
//	GET  /keydir/v1/lookup/{username}  -> keydir.LookupResponse
//	GET  /keydir/v1/history/{username}?since=N -> keydir.HistoryResponse
//	GET  /keydir/v1/history/{username}?since=N&from=V -> the same without versions < V
//	GET  /keydir/v1/trust              -> kdclient.Trust, text (WithTrust)
package kdhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/daylight-im/daylight/keydir"
)

// Service is what Handler serves; *keydir.Directory implements it.
type Service interface {
	Register(ctx context.Context, record []byte) error
	ApplyChange(ctx context.Context, record []byte) error
	Lookup(ctx context.Context, username string) (*keydir.LookupResponse, error)
	History(ctx context.Context, username string, since uint64) (*keydir.HistoryResponse, error)
}

// historyFrom is implemented by services (keydir.Directory) that can leave
// out the versions a monitor already holds (GET ...history/{u}?since=N&from=V).
type historyFrom interface {
	HistoryFrom(ctx context.Context, username string, since, from uint64) (*keydir.HistoryResponse, error)
}

const maxBody = 1 << 20

// status maps keydir errors to HTTP statuses; users never see internal text.
func status(err error) (int, string) {
	switch {
	case errors.Is(err, keydir.ErrInvalidRecord):
		return http.StatusBadRequest, "invalid record"
	case errors.Is(err, keydir.ErrExists):
		return http.StatusConflict, "already registered"
	case errors.Is(err, keydir.ErrConflict):
		return http.StatusConflict, "version conflict"
	case errors.Is(err, keydir.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, keydir.ErrHistoryPruned):
		return http.StatusGone, "history pruned"
	case errors.Is(err, keydir.ErrNotPublished):
		return http.StatusServiceUnavailable, "no witnessed epoch yet"
	}
	return http.StatusInternalServerError, "internal error"
}

// Handler returns the HTTP handler for s.
func Handler(s Service, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		code, msg := status(err)
		if code == http.StatusInternalServerError {
			logger.Error("keydir request failed", "path", r.URL.Path, "err", err)
		}
		http.Error(w, msg, code)
	}
	write := func(w http.ResponseWriter, b []byte) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	}
	mux := http.NewServeMux()
	post := func(f func(context.Context, []byte) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
			if err != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			if err := f(r.Context(), body); err != nil {
				fail(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.HandleFunc("POST /keydir/v1/register", post(s.Register))
	mux.HandleFunc("POST /keydir/v1/change", post(s.ApplyChange))
	mux.HandleFunc("GET /keydir/v1/lookup/{username}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := s.Lookup(r.Context(), r.PathValue("username"))
		if err != nil {
			fail(w, r, err)
			return
		}
		b, err := resp.Marshal()
		if err != nil {
			fail(w, r, err)
			return
		}
		write(w, b)
	})
	mux.HandleFunc("GET /keydir/v1/history/{username}", func(w http.ResponseWriter, r *http.Request) {
		since, err := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
		if err != nil && r.URL.Query().Get("since") != "" {
			http.Error(w, "bad since", http.StatusBadRequest)
			return
		}
		var resp *keydir.HistoryResponse
		if q := r.URL.Query().Get("from"); q != "" {
			from, perr := strconv.ParseUint(q, 10, 64)
			hf, ok := s.(historyFrom)
			if perr != nil || !ok {
				http.Error(w, "bad from", http.StatusBadRequest)
				return
			}
			resp, err = hf.HistoryFrom(r.Context(), r.PathValue("username"), since, from)
		} else {
			resp, err = s.History(r.Context(), r.PathValue("username"), since)
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		b, err := resp.Marshal()
		if err != nil {
			fail(w, r, err)
			return
		}
		write(w, b)
	})
	return mux
}

// Client fetches from a Handler. It verifies nothing: pass what it returns
// to kdclient.
type Client struct {
	BaseURL string // e.g. "http://127.0.0.1:8080"
	HTTP    *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	b, _, err := c.request(ctx, method, path, body)
	return b, err
}

func (c *Client) get(ctx context.Context, path string) ([]byte, int, error) {
	return c.request(ctx, http.MethodGet, path, nil)
}

func (c *Client) request(ctx context.Context, method, path string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("kdhttp: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil, resp.StatusCode, fmt.Errorf("kdhttp: %s %s: %w: %s", method, path, keydir.ErrNotPublished, bytes.TrimSpace(b))
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.StatusCode, fmt.Errorf("kdhttp: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, resp.StatusCode, nil
}

// Register submits version 0 of an account.
func (c *Client) Register(ctx context.Context, record []byte) error {
	_, err := c.do(ctx, http.MethodPost, "/keydir/v1/register", record)
	return err
}

// ApplyChange submits the next version of an account.
func (c *Client) ApplyChange(ctx context.Context, record []byte) error {
	_, err := c.do(ctx, http.MethodPost, "/keydir/v1/change", record)
	return err
}

// Lookup fetches and parses a lookup response.
func (c *Client) Lookup(ctx context.Context, username string) (*keydir.LookupResponse, error) {
	b, err := c.do(ctx, http.MethodGet, "/keydir/v1/lookup/"+url.PathEscape(username), nil)
	if err != nil {
		return nil, err
	}
	return keydir.ParseLookupResponse(b)
}

// HistoryFrom fetches the history with only the versions from version from
// on (response.FirstVersion says where they start).
func (c *Client) HistoryFrom(ctx context.Context, username string, since, from uint64) (*keydir.HistoryResponse, error) {
	b, err := c.do(ctx, http.MethodGet, "/keydir/v1/history/"+url.PathEscape(username)+"?since="+strconv.FormatUint(since, 10)+"&from="+strconv.FormatUint(from, 10), nil)
	if err != nil {
		return nil, err
	}
	return keydir.ParseHistoryResponse(b)
}

// History fetches and parses a history response.
func (c *Client) History(ctx context.Context, username string, since uint64) (*keydir.HistoryResponse, error) {
	b, err := c.do(ctx, http.MethodGet, "/keydir/v1/history/"+url.PathEscape(username)+"?since="+strconv.FormatUint(since, 10), nil)
	if err != nil {
		return nil, err
	}
	return keydir.ParseHistoryResponse(b)
}
