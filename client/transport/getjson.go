package transport

import (
	"context"
	"net/http"
)

// GetJSON reads an authenticated route of the provider that package api
// does not model (e.g. moderation.RouteStatus, GET /v1/moderation/status)
// and decodes the answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	return c.call(ctx, http.MethodGet, path, true, "", nil, out)
}
