package ds

import "errors"

// Sentinel errors. Callers branch with errors.Is; the wrapped message names the
// input but never holds secrets. server/ maps each to one HTTP status.
var (
	ErrNotFound        = errors.New("ds: not found")
	ErrInvalidInput    = errors.New("ds: invalid input")
	ErrUsernameTaken   = errors.New("ds: username already registered")
	ErrBadSignature    = errors.New("ds: bad signature")
	ErrUnauthenticated = errors.New("ds: not authenticated")
	ErrForbidden       = errors.New("ds: not allowed")
	ErrRevoked         = errors.New("ds: device revoked")
	ErrStaleEpoch      = errors.New("ds: stale epoch")
	ErrConflict        = errors.New("ds: concurrent change, retry")
	ErrReplay          = errors.New("ds: replayed message")
	ErrNotMember       = errors.New("ds: sender is not a member of the group")
	ErrInvalidMessage  = errors.New("ds: invalid MLS message")
	ErrTooLarge        = errors.New("ds: too large")
	ErrNoKeyPackage    = errors.New("ds: no KeyPackage available")
	ErrGroupExists     = errors.New("ds: group already exists")
	ErrClosed          = errors.New("ds: service closed")
)
