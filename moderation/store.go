package moderation

import (
	"context"
	"errors"
	"time"
)

// Errors. Handlers map them to HTTP statuses (errors.go).
var (
	ErrNotFound        = errors.New("moderation: not found")
	ErrExists          = errors.New("moderation: already exists")
	ErrInvalidInput    = errors.New("moderation: invalid input")
	ErrUnauthenticated = errors.New("moderation: not authenticated")
	ErrForbidden       = errors.New("moderation: not allowed for this role")
	ErrRateLimited     = errors.New("moderation: too many requests")
	ErrNotVerified     = errors.New("moderation: report does not verify")
	ErrTooLarge        = errors.New("moderation: too large")
	ErrCSRF            = errors.New("moderation: missing or wrong CSRF token")
)

// Role is a moderator's role. Each role can do what the roles below it can.
type Role uint8

const (
	RoleViewer    Role = 1 // reads the queue and reports
	RoleModerator Role = 2 // + warn, suspend, revoke a device, dismiss
	RoleAdmin     Role = 3 // + export for referral, read the audit trail
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleModerator:
		return "moderator"
	case RoleAdmin:
		return "admin"
	}
	return "unknown"
}

// ParseRole is the inverse of Role.String.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleViewer, RoleModerator, RoleAdmin} {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, errors.Join(ErrInvalidInput, errors.New("moderation: role must be viewer, moderator or admin"))
}

// Moderator is a console account.
type Moderator struct {
	Name         string
	Role         Role
	PasswordHash string // PHC-style Argon2id string (password.go); never logged
	Created      time.Time
}

// Session is a console login. Only the SHA-256 of the cookie value is stored.
type Session struct {
	Hash      [32]byte
	Moderator string
	CSRF      string // per-session CSRF token (base64url), checked on every POST
	Created   time.Time
	Expires   time.Time
}

// Status is a report's place in the queue.
type Status uint8

const (
	StatusOpen      Status = 1
	StatusActioned  Status = 2 // a moderator warned, suspended or revoked
	StatusDismissed Status = 3
)

func (s Status) String() string {
	switch s {
	case StatusOpen:
		return "open"
	case StatusActioned:
		return "actioned"
	case StatusDismissed:
		return "dismissed"
	}
	return "unknown"
}

// VerifiedMessage is a reported (or context) message whose stamp and
// commitment verified.
type VerifiedMessage struct {
	Account   string
	Device    string // device ID (decimal), as stamped
	GroupID   []byte
	Time      time.Time // the DS's acceptance time (stamp)
	Plaintext []byte
	Franked   []byte // the franking.Report bytes as submitted, for export
}

// Report is a verified abuse report.
type Report struct {
	ID       string // random, 128 bits, hex
	Reporter string // reporting account
	Device   int64  // reporting device
	Reason   Reason
	Comment  string
	Message  VerifiedMessage
	Context  []VerifiedMessage
	Received time.Time
	Status   Status
	// Key identifies the reported message (SHA-256 of its stamp) so one
	// reporter cannot queue the same message twice.
	Key [32]byte
}

// AuditEntry is one moderator action. The trail is append-only and hash
// chained: Hash = SHA-256(PrevHash ‖ encoding of the other fields).
type AuditEntry struct {
	Seq       uint64
	Time      time.Time
	Moderator string
	Action    string
	Target    string
	Detail    string
	PrevHash  [32]byte
	Hash      [32]byte
}

// Suspension bars an account from sending.
type Suspension struct {
	Account string
	By      string
	Reason  string
	Since   time.Time
}

// Warning is a warning sent to an account (the client shows it).
type Warning struct {
	Account string
	Report  string
	Text    string
	Time    time.Time
}

// Store is the moderation storage. Each method is one transaction and returns
// only after its effect is durable. NewMemStore and sqlitestore implement it;
// moderationtest.RunStore is its conformance suite.
type Store interface {
	// AddModerator creates a moderator (ErrExists if the name is taken).
	AddModerator(ctx context.Context, m Moderator) error
	Moderator(ctx context.Context, name string) (Moderator, error)
	Moderators(ctx context.Context) ([]Moderator, error)

	PutSession(ctx context.Context, s Session) error
	// Session returns the unexpired session with that hash (ErrNotFound).
	Session(ctx context.Context, hash [32]byte, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, hash [32]byte) error

	// AddReport stores a new report (ErrExists if the reporter already
	// reported the message with that Key).
	AddReport(ctx context.Context, r Report) error
	Report(ctx context.Context, id string) (Report, error)
	// Reports lists reports with the status (0: all), oldest first.
	Reports(ctx context.Context, status Status, limit int) ([]Report, error)
	SetReportStatus(ctx context.Context, id string, s Status) error
	// CountRejection counts a refused report by reason.
	CountRejection(ctx context.Context, reason string) error
	Rejections(ctx context.Context) (map[string]int64, error)

	// AppendAudit appends e after the current last entry: e.Seq must be the
	// next sequence number and e.PrevHash the last entry's Hash (ErrExists
	// otherwise, so concurrent appenders cannot fork the chain).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// LastAudit returns the last entry (zero AuditEntry if none).
	LastAudit(ctx context.Context) (AuditEntry, error)
	// Audit lists entries with Seq > after, in order.
	Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)

	PutSuspension(ctx context.Context, s Suspension) error
	DeleteSuspension(ctx context.Context, account string) error
	// Suspension returns the account's suspension (ErrNotFound if none).
	Suspension(ctx context.Context, account string) (Suspension, error)

	AddWarning(ctx context.Context, w Warning) error
	Warnings(ctx context.Context, account string) ([]Warning, error)

	Close() error
}
