package moderation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/franking"
)

// DS is what moderation needs of the delivery service (*ds.Service).
type DS interface {
	// Authorize resolves a reporter's bearer token (ds.Service.Authorize).
	Authorize(ctx context.Context, token string) (ds.Principal, error)
	Device(ctx context.Context, id ds.DeviceID) (ds.Device, error)
	// RevokeDevice is called with the device's own account as principal.
	RevokeDevice(ctx context.Context, p ds.Principal, id ds.DeviceID) error
}

// EvidenceLog appends an entry to the access log (*tlog.Log implements it).
type EvidenceLog interface {
	Append(ctx context.Context, e accesslog.Entry) (uint64, error)
}

// Config configures a Service. DS, Stamper, Store and ExportKey are required.
type Config struct {
	DS      DS
	Stamper *franking.Stamper // the same stamp key as the DS's Config.Franking.Stamper
	Store   Store
	// Evidence receives an Evidence entry (kind abuse-report) for every
	// export. Nil: exports are refused (ErrForbidden), never unlogged.
	Evidence EvidenceLog
	// ExportKey signs exported reports (Ed25519).
	ExportKey ed25519.PrivateKey
	// Jurisdiction is written in evidence entries (e.g. "DE").
	Jurisdiction string

	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default: time.Now
	Rand   io.Reader        // default: crypto/rand.Reader

	MaxContext     int           // context messages per report, default 10
	MaxReportBytes int64         // request body limit, default 4 MiB
	ReportsPerHour int           // per reporter, default 20 (refused attempts count too)
	SessionTTL     time.Duration // console session lifetime, default 8 hours
	// SuspensionCacheTTL bounds how long Suspended caches an answer
	// (default 2 s): the delay before another replica's suspension applies.
	SuspensionCacheTTL time.Duration
	// SecureCookies forces the Secure attribute on console cookies (it is
	// set anyway on TLS requests). Set it behind a TLS-terminating proxy.
	SecureCookies bool
}

// Service is the report intake and the moderation console. Safe for
// concurrent use.
type Service struct {
	cfg    Config
	st     Store
	log    *slog.Logger
	now    func() time.Time
	rand   io.Reader
	limit  *limiter
	logins *limiter
	audMu  sync.Mutex

	suspMu    sync.Mutex
	suspCache map[string]suspEntry

	// kdf bounds concurrent Argon2id evaluations (64 MiB each), so a burst
	// of sign-in attempts cannot exhaust memory.
	kdf chan struct{}
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DS == nil || cfg.Stamper == nil || cfg.Store == nil || len(cfg.ExportKey) != ed25519.PrivateKeySize {
		return nil, errors.New("moderation: Config.DS, Stamper, Store and ExportKey are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxContext <= 0 {
		cfg.MaxContext = 10
	}
	if cfg.MaxReportBytes <= 0 {
		cfg.MaxReportBytes = 4 << 20
	}
	if cfg.ReportsPerHour <= 0 {
		cfg.ReportsPerHour = 20
	}
	if cfg.SuspensionCacheTTL <= 0 {
		cfg.SuspensionCacheTTL = 2 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	return &Service{
		cfg: cfg, st: cfg.Store, log: cfg.Logger, now: cfg.Now, rand: cfg.Rand,
		limit:     newLimiter(cfg.ReportsPerHour, time.Hour),
		logins:    newLimiter(5, 15*time.Minute),
		suspCache: map[string]suspEntry{},
		kdf:       make(chan struct{}, 2),
	}, nil
}

// Reason is why a user reports a message.
type Reason string

// Reasons a reporter may give.
var reasons = []Reason{"spam", "harassment", "threat", "child-safety", "fraud", "impersonation", "other"}

// Reasons lists the accepted reasons.
func Reasons() []Reason { return append([]Reason(nil), reasons...) }

func parseReason(s string) (Reason, error) {
	for _, r := range reasons {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("moderation: reason %q is not one of %v: %w", s, reasons, ErrInvalidInput)
}

// MaxComment bounds a reporter's free-text comment (bytes).
const MaxComment = 2000

// Submission is a report as a reporter sends it: the reported message and
// the context messages the reporter chose, each a franking.Report encoding
// (stamp ‖ franking key ‖ plaintext).
type Submission struct {
	Message []byte
	Context [][]byte
	Reason  string
	Comment string
}

// RejectError is a refused report: Reason is a short, stable text shown to the
// reporter and counted (Rejections).
type RejectError struct {
	Reason string
	Err    error
}

func (e *RejectError) Error() string { return "moderation: report refused: " + e.Reason }
func (e *RejectError) Unwrap() error { return e.Err }

// Submit verifies a submission from reporter and queues it. It returns the
// report's ID, or an error: *RejectError wrapping ErrNotVerified (stamp or
// commitment fails, context from another group), ErrInvalidInput (malformed,
// unknown reason, too much context), ErrRateLimited, ErrExists (already
// reported by this reporter). A refused submission changes nothing but the
// rejection counters and the reporter's rate budget.
func (s *Service) Submit(ctx context.Context, reporter ds.Principal, sub Submission) (string, error) {
	if !s.limit.allow(reporter.Username, s.now()) {
		return "", s.reject(ctx, "rate limited", ErrRateLimited)
	}
	reason, err := parseReason(sub.Reason)
	if err != nil {
		return "", s.reject(ctx, "unknown reason", err)
	}
	if len(sub.Comment) > MaxComment {
		return "", s.reject(ctx, "comment too long", fmt.Errorf("moderation: comment longer than %d bytes: %w", MaxComment, ErrInvalidInput))
	}
	if len(sub.Context) > s.cfg.MaxContext {
		return "", s.reject(ctx, "too many context messages", fmt.Errorf("moderation: %d context messages, at most %d: %w", len(sub.Context), s.cfg.MaxContext, ErrInvalidInput))
	}
	msg, stamp, err := s.verify(sub.Message)
	if err != nil {
		return "", s.reject(ctx, "message: "+rejectText(err), err)
	}
	if msg.Account == reporter.Username {
		return "", s.reject(ctx, "own message", fmt.Errorf("moderation: reporting one's own message: %w", ErrInvalidInput))
	}
	r := Report{
		Reporter: reporter.Username, Device: int64(reporter.Device), Reason: reason, Comment: sub.Comment,
		Message: msg, Received: s.now(), Status: StatusOpen, Key: sha256.Sum256(stamp.Marshal()),
	}
	for i, c := range sub.Context {
		cm, _, err := s.verify(c)
		if err != nil {
			return "", s.reject(ctx, fmt.Sprintf("context message %d: %s", i+1, rejectText(err)), err)
		}
		if string(cm.GroupID) != string(msg.GroupID) {
			return "", s.reject(ctx, fmt.Sprintf("context message %d: from another group", i+1),
				fmt.Errorf("moderation: context message %d is from another group: %w", i+1, ErrNotVerified))
		}
		r.Context = append(r.Context, cm)
	}
	var id [16]byte
	if _, err := io.ReadFull(s.rand, id[:]); err != nil {
		return "", err
	}
	r.ID = hex.EncodeToString(id[:])
	if err := s.st.AddReport(ctx, r); err != nil {
		if errors.Is(err, ErrExists) {
			return "", s.reject(ctx, "already reported", err)
		}
		return "", err
	}
	s.log.Info("moderation: report queued", "report", r.ID, "reason", string(reason), "context", len(r.Context))
	return r.ID, nil
}

// rejectText is the reporter-facing reason of a verification failure.
func rejectText(err error) string {
	switch {
	case errors.Is(err, franking.ErrStamp):
		return "the stamp does not verify (altered sender, group, time or stamp)"
	case errors.Is(err, franking.ErrCommitment), errors.Is(err, franking.ErrMismatch):
		return "the text does not match the sender's commitment"
	case errors.Is(err, franking.ErrMalformed), errors.Is(err, ErrInvalidInput):
		return "malformed report"
	}
	return "does not verify"
}

// verify parses and verifies one franked message.
func (s *Service) verify(b []byte) (VerifiedMessage, *franking.Stamp, error) {
	if len(b) == 0 {
		return VerifiedMessage{}, nil, fmt.Errorf("moderation: empty message: %w", ErrInvalidInput)
	}
	fr, err := franking.ParseReport(b)
	if err != nil {
		return VerifiedMessage{}, nil, fmt.Errorf("moderation: %w: %w", ErrInvalidInput, err)
	}
	v, err := s.cfg.Stamper.VerifyReport(fr)
	if err != nil {
		return VerifiedMessage{}, nil, fmt.Errorf("moderation: %w: %w", ErrNotVerified, err)
	}
	return VerifiedMessage{
		Account: v.Sender.Account, Device: v.Sender.Device, GroupID: v.GroupID,
		Time: time.UnixMilli(int64(v.Time)).UTC(), Plaintext: v.Plaintext, Franked: append([]byte(nil), b...),
	}, &fr.Stamp, nil
}

// reject counts a refused report and returns its error.
func (s *Service) reject(ctx context.Context, reason string, err error) error {
	if cerr := s.st.CountRejection(ctx, reason); cerr != nil {
		s.log.Error("moderation: counting rejection", "err", cerr)
	}
	s.log.Info("moderation: report refused", "reason", reason)
	return &RejectError{Reason: reason, Err: err}
}

// Suspended implements ds.Suspensions: the DS refuses sends of suspended
// accounts. Answers are cached for Config.SuspensionCacheTTL (this replica's
// own Suspend and Unsuspend take effect at once; another replica's within the
// TTL).
func (s *Service) Suspended(ctx context.Context, username string) (bool, error) {
	now := s.now()
	s.suspMu.Lock()
	c, ok := s.suspCache[username]
	s.suspMu.Unlock()
	if ok && now.Sub(c.at) < s.cfg.SuspensionCacheTTL && !now.Before(c.at) {
		return c.suspended, nil
	}
	_, err := s.st.Suspension(ctx, username)
	var susp bool
	switch {
	case err == nil:
		susp = true
	case errors.Is(err, ErrNotFound):
	default:
		return false, err
	}
	s.suspMu.Lock()
	if len(s.suspCache) > 100000 {
		clear(s.suspCache)
	}
	s.suspCache[username] = suspEntry{suspended: susp, at: now}
	s.suspMu.Unlock()
	return susp, nil
}

type suspEntry struct {
	suspended bool
	at        time.Time
}

func (s *Service) forgetSuspension(username string) {
	s.suspMu.Lock()
	delete(s.suspCache, username)
	s.suspMu.Unlock()
}

// Warnings lists the warnings sent to an account (for the client).
func (s *Service) Warnings(ctx context.Context, username string) ([]Warning, error) {
	return s.st.Warnings(ctx, username)
}

// AddModerator creates a moderator account, audited as done by `by` (the
// acting admin, or "bootstrap" from the command line).
func (s *Service) AddModerator(ctx context.Context, by, name, password string, role Role) error {
	s.audMu.Lock()
	defer s.audMu.Unlock()
	return AddModerator(ctx, s.st, s.rand, s.now(), by, name, password, role)
}

// AddModerator creates a moderator directly in a Store, without a running
// Service: the function behind `daylightd moderator add` (see
// ModeratorCommand). It hashes the password with Argon2id and appends the
// creation to the audit trail.
func AddModerator(ctx context.Context, st Store, rand io.Reader, now time.Time, by, name, password string, role Role) error {
	if err := validName(name); err != nil {
		return err
	}
	if role < RoleViewer || role > RoleAdmin {
		return fmt.Errorf("moderation: role %d: %w", role, ErrInvalidInput)
	}
	h, err := hashPassword(rand, password)
	if err != nil {
		return err
	}
	if err := st.AddModerator(ctx, Moderator{Name: name, Role: role, PasswordHash: h, Created: now}); err != nil {
		return err
	}
	return appendAudit(ctx, st, now, by, "moderator-add", name, "role "+role.String())
}

func validName(n string) error {
	if len(n) == 0 || len(n) > 64 {
		return fmt.Errorf("moderation: moderator name must be 1-64 characters: %w", ErrInvalidInput)
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@') {
			return fmt.Errorf("moderation: moderator name: character %q not allowed (a-z 0-9 . - _ @): %w", c, ErrInvalidInput)
		}
	}
	return nil
}

// audit appends an entry to the hash-chained audit trail.
func (s *Service) audit(ctx context.Context, moderator, action, target, detail string) error {
	s.audMu.Lock()
	defer s.audMu.Unlock()
	return appendAudit(ctx, s.st, s.now(), moderator, action, target, detail)
}

// appendAudit extends the chain after its last entry. The store refuses an
// entry that does not extend the last one, so a concurrent writer (another
// replica, the bootstrap command) makes this fail rather than fork the chain.
func appendAudit(ctx context.Context, st Store, now time.Time, moderator, action, target, detail string) error {
	last, err := st.LastAudit(ctx)
	if err != nil {
		return err
	}
	e := AuditEntry{Seq: last.Seq + 1, Time: now.UTC(), Moderator: moderator, Action: action,
		Target: target, Detail: detail, PrevHash: last.Hash}
	e.Hash = auditHash(e)
	if err := st.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("moderation: audit: %w", err)
	}
	return nil
}

// auditHash is SHA-256 over the previous hash and the entry's fields, each
// length-prefixed.
func auditHash(e AuditEntry) [32]byte {
	h := sha256.New()
	h.Write([]byte("daylight moderation audit v1"))
	h.Write(e.PrevHash[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], e.Seq)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UnixNano()))
	h.Write(n[:])
	for _, f := range []string{e.Moderator, e.Action, e.Target, e.Detail} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// VerifyAudit checks the whole audit trail's hash chain and returns the
// number of entries, or an error naming the first broken entry.
func (s *Service) VerifyAudit(ctx context.Context) (int, error) {
	var prev AuditEntry
	n := 0
	for {
		es, err := s.st.Audit(ctx, prev.Seq, 500)
		if err != nil {
			return n, err
		}
		if len(es) == 0 {
			return n, nil
		}
		for _, e := range es {
			if e.Seq != prev.Seq+1 || e.PrevHash != prev.Hash || auditHash(e) != e.Hash {
				return n, fmt.Errorf("moderation: audit entry %d breaks the chain", e.Seq)
			}
			prev = e
			n++
		}
	}
}

// limiter allows n events per window per key (fixed windows).
type limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	seen   map[string]*bucket
}

type bucket struct {
	start time.Time
	count int
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, seen: map[string]*bucket{}}
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) > 100000 { // bound memory: forget old windows
		for k, b := range l.seen {
			if now.Sub(b.start) >= l.window {
				delete(l.seen, k)
			}
		}
	}
	b := l.seen[key]
	if b == nil || now.Sub(b.start) >= l.window {
		b = &bucket{start: now}
		l.seen[key] = b
	}
	if b.count >= l.n {
		return false
	}
	b.count++
	return true
}

// VerifyFranked verifies one franked message (a franking.Report encoding)
// with the provider's stamp key, as the intake does (for exports kept on file).
func (s *Service) VerifyFranked(b []byte) (VerifiedMessage, error) {
	v, _, err := s.verify(b)
	return v, err
}
