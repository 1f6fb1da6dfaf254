package kdhttp

import (
	"bytes"
	"context"
	"errors"
	"net/http"
)

// PathTrust is where a provider publishes what clients pin about its key
// directory (kdclient.Trust, text form): GET /keydir/v1/trust.
const PathTrust = "/keydir/v1/trust"

// WithTrust serves trust (kdclient.Trust.Marshal) at PathTrust and
// everything else with next. Clients fetch it once, on first contact, and
// show its fingerprint to the user; later answers are verified against what
// they pinned, never against a freshly fetched copy.
func WithTrust(next http.Handler, trust []byte) http.Handler {
	trust = bytes.Clone(trust)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathTrust {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(trust)
	})
}

// ErrNoTrust: the server publishes no key-directory trust (no key directory,
// or an older daylightd).
var ErrNoTrust = errors.New("kdhttp: the server publishes no key directory trust")

// Trust fetches the published trust (unverified: the caller pins it).
func (c *Client) Trust(ctx context.Context) ([]byte, error) {
	b, status, err := c.get(ctx, PathTrust)
	if status == http.StatusNotFound {
		return nil, ErrNoTrust
	}
	return b, err
}
