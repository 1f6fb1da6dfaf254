package intake

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/daylight-im/daylight/accesslog"
)

// Log is where every state change goes before the intake acknowledges it.
// *tlog.Log satisfies it.
type Log interface {
	Append(ctx context.Context, e accesslog.Entry) (uint64, error)
}

// Holdings is what the server holds about accounts (the delivery service's
// view), for non-content answers. daylightd adapts ds.Service to it.
type Holdings interface {
	Account(ctx context.Context, username string) (AccountData, error)
}

// Sentinel errors, for the API's error table.
var (
	ErrInvalidInput = errors.New("intake: invalid input")
	ErrNotFound     = errors.New("intake: no such request")
	ErrExists       = errors.New("intake: request already filed")
	ErrConflict     = errors.New("intake: request changed concurrently")
	ErrUnauthorized = errors.New("intake: not authenticated as the request's authority")
)

// Change is one state change of a request, as logged.
type Change struct {
	State    State  `json:"state"`
	Reason   string `json:"reason,omitempty"` // refusal code, or "warrant:<hex>"
	Time     uint64 `json:"time"`
	LogIndex uint64 `json:"log_index"` // index of the accesslog.Request entry
}

// Record is the intake's record of one request.
type Record struct {
	ID                ID       `json:"id"`
	Signed            Signed   `json:"signed"`
	Request           Request  `json:"request"`
	Jurisdiction      string   `json:"jurisdiction"` // from the agreement ("unknown" if none)
	Instrument        string   `json:"instrument"`   // from the agreement ("unknown" if none)
	State             State    `json:"state"`
	Reason            Reason   `json:"reason,omitempty"` // of the latest refusal
	Detail            string   `json:"detail,omitempty"` // human-readable refusal detail (not logged)
	WarrantCommitment string   `json:"warrant_commitment,omitempty"`
	Answer            []byte   `json:"answer,omitempty"` // non-content: the signed bundle
	AnswerIndex       uint64   `json:"answer_index,omitempty"`
	History           []Change `json:"history"`
}

// Config configures a Service.
type Config struct {
	Agreements *Agreements
	Store      Store
	Log        Log
	// Signer signs non-content answer bundles (the provider's key).
	Signer   ed25519.PrivateKey
	Holdings Holdings         // optional: needed by AnswerNonContent
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default: discard
}

// Service is the intake. Its methods are safe for concurrent use; state
// changes are serialized.
type Service struct {
	cfg Config
	mu  sync.Mutex
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Agreements == nil || cfg.Store == nil || cfg.Log == nil {
		return nil, errors.New("intake: Config.Agreements, Store and Log are required")
	}
	if err := cfg.Agreements.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{cfg: cfg}, nil
}

// Agreements returns the agreements in force.
func (s *Service) Agreements() *Agreements { return s.cfg.Agreements }

func (s *Service) now() uint64 { return uint64(s.cfg.Now().Unix()) }

// Submit files a signed request (the JSON encoding of Signed). Malformed
// input is refused with an error wrapping ErrInvalidInput and changes
// nothing; a request already filed returns ErrExists. Otherwise the request
// is recorded and logged as received, checked against its agreement, and
// logged as refused (with its reason code; the record is returned with a nil
// error) or as validated then logged. Every state change is in the log
// before Submit returns.
func (s *Service) Submit(ctx context.Context, data []byte) (*Record, error) {
	signed, req, err := ParseSigned(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	id := IDOf(signed.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.cfg.Store.Get(ctx, id); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, id)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	rec := &Record{ID: id, Signed: *signed, Request: *req, Jurisdiction: "unknown", Instrument: "unknown"}
	if ag, ok := s.cfg.Agreements.Agreement(req.Agreement); ok {
		rec.Jurisdiction, rec.Instrument = ag.Jurisdiction, string(ag.Instrument)
	}
	now := s.now()
	idx, err := s.logChange(ctx, rec, Received, "", now)
	if err != nil {
		return nil, err
	}
	rec.State = Received
	rec.History = append(rec.History, Change{State: Received, Time: now, LogIndex: idx})
	if err := s.cfg.Store.Create(ctx, rec); err != nil {
		return nil, err
	}
	if ref := Check(s.cfg.Agreements, signed, req, now); ref != nil {
		return rec, s.move(ctx, rec, Refused, string(ref.Code), func(r *Record) { r.Reason, r.Detail = ref.Code, ref.Detail })
	}
	if err := s.move(ctx, rec, Validated, "", nil); err != nil {
		return rec, err
	}
	return rec, s.move(ctx, rec, Logged, "", nil)
}

// logChange appends the Request entry for a change of rec to state.
func (s *Service) logChange(ctx context.Context, rec *Record, state State, reason string, now uint64) (uint64, error) {
	idx, err := s.cfg.Log.Append(ctx, &accesslog.Request{
		RequestID: rec.ID, Jurisdiction: rec.Jurisdiction, Authority: rec.Request.Authority,
		Instrument: rec.Instrument, Category: string(rec.Request.Category),
		State: string(state), Reason: reason, Time: now,
	})
	if err != nil {
		return 0, fmt.Errorf("intake: logging %s -> %s: %w", rec.ID, state, err)
	}
	s.cfg.Logger.Info("intake state change", "request", rec.ID.String(), "state", state, "reason", reason, "log_index", idx)
	return idx, nil
}

// move changes rec's state: it checks the transition, appends the log entry,
// then stores the record. Callers hold s.mu.
func (s *Service) move(ctx context.Context, rec *Record, to State, reason string, edit func(*Record)) error {
	if err := CanMove(rec.State, to); err != nil {
		return err
	}
	now := s.now()
	idx, err := s.logChange(ctx, rec, to, reason, now)
	if err != nil {
		return err
	}
	rec.State = to
	if edit != nil {
		edit(rec)
	}
	rec.History = append(rec.History, Change{State: to, Reason: reason, Time: now, LogIndex: idx})
	return s.cfg.Store.Put(ctx, rec)
}

// transition loads a record and moves it under the lock.
func (s *Service) transition(ctx context.Context, id ID, to State, reason string, edit func(*Record) error) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := CanMove(rec.State, to); err != nil {
		return nil, err
	}
	var editErr error
	var apply func(*Record)
	if edit != nil {
		// Check the edit on a copy first, so a failing edit logs nothing.
		cp := *rec
		if editErr = edit(&cp); editErr != nil {
			return nil, editErr
		}
		apply = func(r *Record) { _ = edit(r) }
	}
	if err := s.move(ctx, rec, to, reason, apply); err != nil {
		return nil, err
	}
	return rec, nil
}

// Get returns a request's record.
func (s *Service) Get(ctx context.Context, id ID) (*Record, error) { return s.cfg.Store.Get(ctx, id) }

// List returns the records filed by one authority under one agreement
// (both empty: every record), oldest first.
func (s *Service) List(ctx context.Context, agreement, authority string) ([]*Record, error) {
	all, err := s.cfg.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, r := range all {
		if (agreement == "" || r.Request.Agreement == agreement) && (authority == "" || r.Request.Authority == authority) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Refuse refuses a request after it was logged (e.g. after legal review, or
// because the trustees refused), with a reason code and detail.
func (s *Service) Refuse(ctx context.Context, id ID, code Reason, detail string) (*Record, error) {
	if code == "" {
		return nil, fmt.Errorf("%w: a refusal needs a reason code", ErrInvalidInput)
	}
	return s.transition(ctx, id, Refused, string(code), func(r *Record) error { r.Reason, r.Detail = code, detail; return nil })
}

// SendToTrustees moves a logged content request into the trustee quorum flow:
// the warrant commitment (already in the access log as a WarrantCommitment
// entry, filed by the authority package) is recorded and named in the
// logged change ("warrant:<hex>").
func (s *Service) SendToTrustees(ctx context.Context, id ID, commitment [32]byte) (*Record, error) {
	h := hex.EncodeToString(commitment[:])
	return s.transition(ctx, id, UnderTrusteeReview, "warrant:"+h, func(r *Record) error {
		if r.Request.Category != Content {
			return fmt.Errorf("%w: only content requests go to the trustees (this one is %s)", ErrInvalidInput, r.Request.Category)
		}
		r.WarrantCommitment = h
		return nil
	})
}

// Fulfil marks a content request answered once the trustees released and
// the evidence bundle was produced (its digest is logged by the authority
// flow as an Evidence entry).
func (s *Service) Fulfil(ctx context.Context, id ID) (*Record, error) {
	return s.transition(ctx, id, Fulfilled, "", func(r *Record) error {
		if r.State != UnderTrusteeReview {
			return fmt.Errorf("%w: use AnswerNonContent for %s requests", ErrIllegalTransition, r.Request.Category)
		}
		return nil
	})
}

// Appeal records the authority's appeal of a refusal.
func (s *Service) Appeal(ctx context.Context, id ID, detail string) (*Record, error) {
	return s.transition(ctx, id, Appealed, "", func(r *Record) error { r.Detail = detail; return nil })
}

// Reconsider decides an appeal in the authority's favour: the request is
// validated again and logged.
func (s *Service) Reconsider(ctx context.Context, id ID) (*Record, error) {
	if _, err := s.transition(ctx, id, Validated, "appeal-granted", func(r *Record) error { r.Reason, r.Detail = "", ""; return nil }); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, Logged, "", nil)
}

// AnswerNonContent answers a logged subscriber or metadata request: it
// collects what the server holds about each target (Config.Holdings), signs
// the bundle with Config.Signer, appends its digest as an Evidence entry
// (kind non-content-answer, Ref = the request id), and moves the request to
// fulfilled. The bundle is kept in the record for the authority to fetch.
func (s *Service) AnswerNonContent(ctx context.Context, id ID) (*Record, error) {
	if s.cfg.Holdings == nil || s.cfg.Signer == nil {
		return nil, errors.New("intake: Config.Holdings and Config.Signer are required to answer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := CanMove(rec.State, Fulfilled); err != nil {
		return nil, err
	}
	if rec.Request.Category == Content || rec.State != Logged {
		return nil, fmt.Errorf("%w: content requests are answered through the trustees", ErrIllegalTransition)
	}
	body := AnswerBody{Version: FormatVersion, Request: id.String(), Jurisdiction: rec.Jurisdiction,
		Authority: rec.Request.Authority, Category: rec.Request.Category, Answered: s.now()}
	for _, t := range rec.Request.Targets {
		a, err := s.cfg.Holdings.Account(ctx, t.Account)
		if err != nil {
			return nil, fmt.Errorf("intake: holdings for target: %w", err)
		}
		a.Account = t.Account
		if rec.Request.Category == Subscriber {
			a.Devices, a.Groups = nil, nil // subscriber data only
		}
		body.Accounts = append(body.Accounts, a)
	}
	b, err := SignAnswer(&body, s.cfg.Signer)
	if err != nil {
		return nil, err
	}
	enc, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	idx, err := s.cfg.Log.Append(ctx, &accesslog.Evidence{Kind: accesslog.EvidenceNonContentAnswer,
		Digest: Digest(enc), Jurisdiction: rec.Jurisdiction, Time: body.Answered, Ref: id.String()})
	if err != nil {
		return nil, fmt.Errorf("intake: logging the answer: %w", err)
	}
	if err := s.move(ctx, rec, Fulfilled, "", func(r *Record) { r.Answer, r.AnswerIndex = enc, idx }); err != nil {
		return nil, err
	}
	return rec, nil
}
