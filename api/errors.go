package api

import "fmt"

// Code is the machine-readable error code of an ErrorResponse. Each code has
// one HTTP status (server/errors.go holds the table) and clients branch on it.
type Code string

const (
	CodeInvalidInput      Code = "invalid_input"         // 400: a field is malformed
	CodeMalformedBody     Code = "malformed_body"        // 400: body is not the expected JSON
	CodeInvalidMessage    Code = "invalid_message"       // 400: malformed MLS bytes or failed validation
	CodeBadSignature      Code = "bad_signature"         // 400: a signature does not verify
	CodeUnauthenticated   Code = "unauthenticated"       // 401: missing, bad or expired token
	CodeForbidden         Code = "forbidden"             // 403
	CodeRevoked           Code = "revoked"               // 403: device revoked
	CodeSuspended         Code = "suspended"             // 403: account suspended by the provider (moderation)
	CodeNotMember         Code = "not_member"            // 403: sender not a member of the group
	CodeNotFound          Code = "not_found"             // 404
	CodeNoKeyPackage      Code = "no_key_package"        // 404
	CodeMethodNotAllowed  Code = "method_not_allowed"    // 405
	CodeUsernameTaken     Code = "username_taken"        // 409
	CodeGroupExists       Code = "group_exists"          // 409
	CodeStaleEpoch        Code = "stale_epoch"           // 409: a commit for this epoch was accepted first; rebase
	CodeConflict          Code = "conflict"              // 409: concurrent change; retry
	CodeReplay            Code = "replay"                // 409: these exact bytes were already accepted
	CodeTooLarge          Code = "too_large"             // 413
	CodeUnsupportedMedia  Code = "unsupported_media"     // 415
	CodeRangeNotSatisfied Code = "range_not_satisfiable" // 416
	CodeRateLimited       Code = "rate_limited"          // 429
	CodeInternal          Code = "internal"              // 500
	CodeUnavailable       Code = "unavailable"           // 503
)

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody: Message is a fixed text per code; Detail (4xx only) names the
// input that was wrong, never a secret.
type ErrorBody struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

// Error is an error answer as a Go error (returned by client/transport).
type Error struct {
	Status int // HTTP status
	ErrorBody
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("daylightd: %s (%d %s): %s", e.Message, e.Status, e.Code, e.Detail)
	}
	return fmt.Sprintf("daylightd: %s (%d %s)", e.Message, e.Status, e.Code)
}

// Is matches another *Error with the same Code, so callers write
// errors.Is(err, &api.Error{ErrorBody: api.ErrorBody{Code: api.CodeStaleEpoch}}) or use HasCode.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HasCode reports whether err is an *Error with the code.
func HasCode(err error, c Code) bool {
	for err != nil {
		if e, ok := err.(*Error); ok {
			return e.Code == c
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
