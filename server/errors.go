package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
)

// errorRule maps one sentinel error to its answer.
type errorRule struct {
	err     error
	status  int
	code    api.Code
	message string // fixed text shown to users
}

// errorTable is the one error -> status table of the server (house style rule
// 6). The first rule whose sentinel matches (errors.Is) wins, so more specific
// sentinels come first. TestErrorTableCoversSentinels keeps it complete.
var errorTable = []errorRule{
	{errMalformed, http.StatusBadRequest, api.CodeMalformedBody, "the request body is not the expected JSON"},
	{errBadParam, http.StatusBadRequest, api.CodeInvalidInput, "a request parameter is malformed"},
	{errTooLarge, http.StatusRequestEntityTooLarge, api.CodeTooLarge, "the request body is too large"},
	{errMethod, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "method not allowed on this route"},
	{errMedia, http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia, "unsupported Content-Type"},
	{errRange, http.StatusRequestedRangeNotSatisfiable, api.CodeRangeNotSatisfied, "the requested range is outside the blob"},
	{errRateLimited, http.StatusTooManyRequests, api.CodeRateLimited, "too many requests; slow down"},
	{errNoToken, http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required"},
	{ds.ErrInvalidInput, http.StatusBadRequest, api.CodeInvalidInput, "invalid input"},
	{ds.ErrInvalidMessage, http.StatusBadRequest, api.CodeInvalidMessage, "invalid MLS message"},
	{ds.ErrBadSignature, http.StatusBadRequest, api.CodeBadSignature, "a signature does not verify"},
	{ds.ErrUnauthenticated, http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required"},
	{ds.ErrRevoked, http.StatusForbidden, api.CodeRevoked, "the device is revoked"},
	{ds.ErrSuspended, http.StatusForbidden, api.CodeSuspended, "this account is suspended by the provider"},
	{ds.ErrNotMember, http.StatusForbidden, api.CodeNotMember, "the sender is not a member of the group"},
	{ds.ErrForbidden, http.StatusForbidden, api.CodeForbidden, "not allowed"},
	{ds.ErrNoKeyPackage, http.StatusNotFound, api.CodeNoKeyPackage, "no KeyPackage available"},
	{ds.ErrNotFound, http.StatusNotFound, api.CodeNotFound, "not found"},
	{ds.ErrUsernameTaken, http.StatusConflict, api.CodeUsernameTaken, "the username is already registered"},
	{ds.ErrGroupExists, http.StatusConflict, api.CodeGroupExists, "the group already exists"},
	{ds.ErrStaleEpoch, http.StatusConflict, api.CodeStaleEpoch, "stale epoch: another commit was accepted first; process it and rebase"},
	{ds.ErrConflict, http.StatusConflict, api.CodeConflict, "concurrent change; retry"},
	{ds.ErrReplay, http.StatusConflict, api.CodeReplay, "this message was already accepted"},
	{ds.ErrTooLarge, http.StatusRequestEntityTooLarge, api.CodeTooLarge, "too large"},
	{ds.ErrClosed, http.StatusServiceUnavailable, api.CodeUnavailable, "the server is shutting down; retry"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, api.CodeUnavailable, "the server is busy; retry"},
	{context.Canceled, http.StatusServiceUnavailable, api.CodeUnavailable, "request cancelled"},
}

// Errors of the adapter itself.
var (
	errMalformed   = errors.New("server: malformed body")
	errBadParam    = errors.New("server: bad parameter")
	errTooLarge    = errors.New("server: body too large")
	errMedia       = errors.New("server: unsupported media type")
	errMethod      = errors.New("server: method not allowed")
	errRange       = errors.New("server: range not satisfiable")
	errRateLimited = errors.New("server: rate limited")
	errNoToken     = errors.New("server: missing bearer token")
)

// classify returns the status and body for err. Detail is the error text for
// 4xx answers (ds errors name the input and never hold secrets); 5xx answers
// carry only the fixed text.
func classify(err error) (int, api.ErrorBody) {
	for _, r := range errorTable {
		if errors.Is(err, r.err) {
			b := api.ErrorBody{Code: r.code, Message: r.message}
			if r.status < 500 {
				b.Detail = err.Error()
			}
			return r.status, b
		}
	}
	return http.StatusInternalServerError, api.ErrorBody{Code: api.CodeInternal, Message: "internal error"}
}
