package kdhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/keydir"
)

type failing struct{ err error }

func (f failing) Register(context.Context, []byte) error    { return f.err }
func (f failing) ApplyChange(context.Context, []byte) error { return f.err }
func (f failing) Lookup(context.Context, string) (*keydir.LookupResponse, error) {
	return nil, f.err
}
func (f failing) History(context.Context, string, uint64) (*keydir.HistoryResponse, error) {
	return nil, f.err
}

// TestErrorStatuses: each keydir error maps to its status, and internal
// error text never reaches the client.
func TestErrorStatuses(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("%w: bad sig", keydir.ErrInvalidRecord), http.StatusBadRequest},
		{keydir.ErrExists, http.StatusConflict},
		{keydir.ErrConflict, http.StatusConflict},
		{keydir.ErrNotFound, http.StatusNotFound},
		{keydir.ErrNotPublished, http.StatusServiceUnavailable},
		{keydir.ErrHistoryPruned, http.StatusGone},
		{errors.New("disk on fire at /var/secret"), http.StatusInternalServerError},
	} {
		srv := httptest.NewServer(Handler(failing{c.err}, nil))
		for _, req := range []struct{ method, path string }{
			{"POST", "/keydir/v1/register"}, {"POST", "/keydir/v1/change"},
			{"GET", "/keydir/v1/lookup/alice"}, {"GET", "/keydir/v1/history/alice?since=3"},
		} {
			r, _ := http.NewRequest(req.method, srv.URL+req.path, strings.NewReader("x"))
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			var body [256]byte
			n, _ := resp.Body.Read(body[:])
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("%v %s: status %d, want %d", c.err, req.path, resp.StatusCode, c.code)
			}
			if strings.Contains(string(body[:n]), "secret") {
				t.Errorf("internal error text leaked: %q", body[:n])
			}
		}
		srv.Close()
	}
	srv := httptest.NewServer(Handler(failing{}, nil))
	defer srv.Close()
	resp, _ := srv.Client().Get(srv.URL + "/keydir/v1/history/alice?since=x")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad since: %d", resp.StatusCode)
	}
}
