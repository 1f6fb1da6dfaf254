package transport

import (
	"context"
	"net/http"
)

// PostJSON sends body (JSON-encoded) to an authenticated route of the
// provider that package api does not model (e.g. moderation.RouteReport,
// POST /v1/reports) and decodes the answer into out.
func (c *Client) PostJSON(ctx context.Context, path string, body, out any) error {
	return c.call(ctx, http.MethodPost, path, true, "", body, out)
}
