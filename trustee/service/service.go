// Package service is a lawful-access trustee's network service
// (docs/trustee.md): it holds the trustee's keys in its own store, answers
// release requests over HTTP by running trustee.Decide, appends the signed
// Release entry to the access log, waits until a checkpoint cosigned by w of
// the policy's witnesses covers it (A3), and only then returns the shares,
// sealed to the authority the court named and signed by the trustee.
//
// The access log is reached through two seams: a LogAppender (daylightd's
// append endpoint for authorized roles, or an in-process accesslog/tlog.Log)
// and a LogReader (accesslog/tlog.Client over the log's public tiles) that
// verifies every checkpoint against the policy. The service never trusts the
// appender's word that an entry is in: it waits for the reader to prove it.
package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/warrant"
)

// LogAppender appends an encoded entry to the access log and returns its
// index once the log has durably sequenced it.
type LogAppender interface {
	Append(ctx context.Context, entry []byte) (uint64, error)
}

// LogReader reads the access log and verifies what it returns against the
// policy's CheckpointPolicy. *tlog.Client implements it.
type LogReader interface {
	Checkpoint(ctx context.Context) (*accesslog.Checkpoint, error)
	InclusionProof(ctx context.Context, cp *accesslog.Checkpoint, index uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, old, new *accesslog.Checkpoint) ([][]byte, error)
	Entries(ctx context.Context, cp *accesslog.Checkpoint, fn func(index uint64, entry []byte) error) error
}

// Store is what the service keeps: the trustee's keys and checkpoint
// (trustee.Store) and the requests already served. *FileStore implements it.
type Store interface {
	trustee.Store
	// ClaimRequest durably records request id and reports false if it was
	// recorded before.
	ClaimRequest(ctx context.Context, id [32]byte, note []byte) (bool, error)
	// Claimed returns the note of a claimed request, nil if unclaimed.
	Claimed(ctx context.Context, id [32]byte) ([]byte, error)
	// PutWarrant durably stores (replaces) the service's record of a warrant
	// it released for; Warrant reads one (nil if none); Warrants lists all.
	PutWarrant(ctx context.Context, commitment [32]byte, data []byte) error
	Warrant(ctx context.Context, commitment [32]byte) ([]byte, error)
	Warrants(ctx context.Context) ([][]byte, error)
	// PutDestruction stores the signed statement that a period key was
	// destroyed; Destructions lists them (served to auditors).
	PutDestruction(ctx context.Context, period uint32, statement []byte) error
	Destructions(ctx context.Context) ([][]byte, error)
}

// Config configures a Service.
type Config struct {
	ID         string
	SigningKey []byte // Ed25519 private key
	Policy     *policy.Verified
	Store      Store
	Epochs     trustee.EpochVerifier
	Appender   LogAppender
	Reader     LogReader
	// Now is the trustee's clock (default time.Now).
	Now func() time.Time
	// AwaitTimeout bounds the wait for a cosigned checkpoint covering the
	// release entry (default 30 s); PollInterval is how often the log's
	// checkpoint is read meanwhile (default 100 ms).
	AwaitTimeout time.Duration
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Service is a running trustee. Its methods are safe for concurrent use;
// releases are serialized so budgets are counted against a log that already
// holds every earlier release of this trustee.
type Service struct {
	cfg Config
	tr  *trustee.Trustee
	mu  sync.Mutex // serializes releases
}

// ErrReplay is returned for a release request (same warrant, same records)
// this trustee already served: nothing is appended and no share is sent.
var ErrReplay = errors.New("trustee/service: request already served")

// ErrLog is returned when the access log cannot be appended to or does not
// show a cosigned checkpoint covering the release in time.
var ErrLog = errors.New("trustee/service: access log unavailable")

// New checks the configuration and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Appender == nil || cfg.Reader == nil || cfg.Store == nil {
		return nil, errors.New("trustee/service: config needs an Appender, a Reader and a Store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AwaitTimeout == 0 {
		cfg.AwaitTimeout = 30 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg}
	tr, err := trustee.New(trustee.Config{ID: cfg.ID, SigningKey: cfg.SigningKey, Policy: cfg.Policy,
		Store: cfg.Store, Epochs: cfg.Epochs, Consistency: s.consistency})
	if err != nil {
		return nil, err
	}
	s.tr = tr
	return s, nil
}

// Trustee returns the decision logic (for key rotation and openings).
func (s *Service) Trustee() *trustee.Trustee { return s.tr }

func (s *Service) now() uint64 { return uint64(s.cfg.Now().Unix()) }

// consistency is trustee.Config.Consistency over the reader's tiles.
func (s *Service) consistency(ctx context.Context, from, to uint64) ([][]byte, error) {
	return s.cfg.Reader.ConsistencyProof(ctx, &accesslog.Checkpoint{Size: from}, &accesslog.Checkpoint{Size: to})
}

// ledger reads every WarrantCommitment and Release entry under the log's
// latest verified checkpoint.
func (s *Service) ledger(ctx context.Context) (*trustee.Ledger, error) {
	cp, err := s.cfg.Reader.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrLog, err)
	}
	var l trustee.Ledger
	err = s.cfg.Reader.Entries(ctx, cp, func(_ uint64, entry []byte) error {
		e, err := accesslog.Parse(entry)
		if err != nil {
			return nil // entries of unknown future types do not count
		}
		switch x := e.(type) {
		case *accesslog.WarrantCommitment:
			l.Warrants = append(l.Warrants, x)
		case *accesslog.Release:
			l.Releases = append(l.Releases, x)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: entries: %v", ErrLog, err)
	}
	return &l, nil
}

// requestID names a request for replay detection: the warrant commitment
// and the set of records asked for.
func requestID(req *trustee.Request) ([32]byte, error) {
	ids := make([][32]byte, 0, len(req.Records))
	for i, rr := range req.Records {
		rec, err := escrow.Parse(rr.Record)
		if err != nil {
			return [32]byte{}, fmt.Errorf("%w: records[%d]: %v", trustee.ErrBadRecord, i, err)
		}
		ids = append(ids, rec.ID())
	}
	c := warrant.Commitment(req.Warrant, req.Salt)
	rh := escrow.RecordsHash(ids)
	h := sha256.New()
	h.Write([]byte("daylight trustee request v1\x00"))
	h.Write(c[:])
	h.Write(rh[:])
	var id [32]byte
	h.Sum(id[:0])
	return id, nil
}

// Released is the outcome of a release: the proved Release entry and the
// shares.
type Released struct {
	Release trustee.Inclusion
	Shares  []trustee.SealedShare
}

// Release runs one release request end to end: decide (refusals change
// nothing), claim the request (a replay is refused), append the Release
// entry, wait for a checkpoint cosigned by w witnesses that covers it, and
// release the shares against that proof.
func (s *Service) Release(ctx context.Context, req *trustee.Request) (*Released, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := requestID(req)
	if err != nil {
		return nil, err
	}
	ledger, err := s.ledger(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.tr.Decide(ctx, req, ledger, s.now())
	if err != nil {
		return nil, err
	}
	fresh, err := s.cfg.Store.ClaimRequest(ctx, id, a.Entry)
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, ErrReplay
	}
	if err := s.rememberWarrant(ctx, req, len(req.Records)); err != nil {
		return nil, err
	}
	// From here on the release is decided: finish logging it even if the
	// caller goes away (it can collect the shares with Resume).
	ctx = context.WithoutCancel(ctx)
	idx, err := s.cfg.Appender.Append(ctx, a.Entry)
	if err != nil {
		return nil, fmt.Errorf("%w: append: %v", ErrLog, err)
	}
	s.cfg.Logger.Info("release appended", "trustee", s.cfg.ID, "index", idx, "records", len(req.Records))
	return s.finish(ctx, req, idx, a.Entry)
}

// finish waits for a cosigned checkpoint covering the release entry at idx
// and releases the shares against its inclusion.
func (s *Service) finish(ctx context.Context, req *trustee.Request, idx uint64, entry []byte) (*Released, error) {
	incl, err := s.await(ctx, idx, entry)
	if err != nil {
		return nil, err
	}
	shares, err := s.tr.SharesFor(ctx, req, incl)
	if err != nil {
		return nil, err
	}
	return &Released{Release: incl, Shares: shares}, nil
}

// ErrNotReleased is returned by Resume for a request this trustee never
// decided to release.
var ErrNotReleased = errors.New("trustee/service: no release to resume for this request")

// Resume hands out again the shares of a request this trustee already
// released (the authority lost the answer: a crash, a cut connection). It
// appends nothing if the Release entry is in the log, and otherwise appends
// that same signed entry (the release was decided and claimed but the append
// never happened), so a release is logged exactly once either way. The
// shares are sealed to the authority the warrant names: resuming someone
// else's request yields nothing usable.
func (s *Service) Resume(ctx context.Context, req *trustee.Request) (*Released, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := requestID(req)
	if err != nil {
		return nil, err
	}
	entry, err := s.cfg.Store.Claimed(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(entry) == 0 {
		return nil, ErrNotReleased
	}
	cp, err := s.cfg.Reader.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrLog, err)
	}
	found, at := false, uint64(0)
	errFound := errors.New("found")
	err = s.cfg.Reader.Entries(ctx, cp, func(i uint64, e []byte) error {
		if bytes.Equal(e, entry) {
			found, at = true, i
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("%w: entries: %v", ErrLog, err)
	}
	if !found {
		ctx = context.WithoutCancel(ctx)
		if at, err = s.cfg.Appender.Append(ctx, entry); err != nil {
			return nil, fmt.Errorf("%w: append: %v", ErrLog, err)
		}
	}
	return s.finish(ctx, req, at, entry)
}

// await polls the reader until a verified checkpoint covers index, then
// returns the entry's inclusion under it.
func (s *Service) await(ctx context.Context, index uint64, entry []byte) (trustee.Inclusion, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AwaitTimeout)
	defer cancel()
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		cp, err := s.cfg.Reader.Checkpoint(ctx)
		if err == nil && cp.Size > index {
			p, err := s.cfg.Reader.InclusionProof(ctx, cp, index)
			if err != nil {
				return trustee.Inclusion{}, fmt.Errorf("%w: inclusion proof: %v", ErrLog, err)
			}
			return trustee.Inclusion{Checkpoint: cp.Raw, Index: index, Entry: entry, Proof: p}, nil
		}
		select {
		case <-ctx.Done():
			return trustee.Inclusion{}, fmt.Errorf("%w: no cosigned checkpoint covers entry %d: %v", ErrLog, index, ctx.Err())
		case <-t.C:
		}
	}
}

// DestroyExpired destroys the period keys past the policy's lookback and
// keeps the signed statements, which GET /v1/destructions serves (A6: the
// promise made in the TrusteeKey entry, kept on the record).
func (s *Service) DestroyExpired(ctx context.Context) ([]trustee.Destruction, error) {
	ds, err := s.tr.DestroyExpired(ctx, s.now())
	for _, d := range ds {
		b, _ := json.Marshal(d)
		if perr := s.cfg.Store.PutDestruction(ctx, d.Period, b); perr != nil && err == nil {
			err = perr
		}
	}
	return ds, err
}

func (s *Service) handleDestructions(w http.ResponseWriter, r *http.Request) {
	all, err := s.cfg.Store.Destructions(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := []trustee.Destruction{}
	for _, b := range all {
		var d trustee.Destruction
		if json.Unmarshal(b, &d) == nil {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// Handler serves the trustee's HTTP API:
//
//	POST /v1/release          ReleaseRequest -> ReleaseResponse, or ErrorResponse
//	POST /v1/release/resume   the same request again, already released: the
//	                          same shares, nothing new logged (see Resume)
//	GET  /v1/info             the trustee's id, policy id and live key periods
//	GET  /v1/destructions     the signed statements of destroyed period keys
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/release", s.handleRelease)
	mux.HandleFunc("POST /v1/release/resume", s.handleRelease)
	mux.HandleFunc("GET /v1/info", s.handleInfo)
	mux.HandleFunc("GET /v1/destructions", s.handleDestructions)
	return mux
}

func (s *Service) handleInfo(w http.ResponseWriter, r *http.Request) {
	periods, err := s.cfg.Store.Periods(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trustee": s.cfg.ID, "policy_id": fmt.Sprintf("%x", s.cfg.Policy.ID[:]), "periods": periods})
}

func (s *Service) handleRelease(w http.ResponseWriter, r *http.Request) {
	var body ReleaseRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, MaxRequestSize), &body); err != nil {
		writeError(w, fmt.Errorf("%w: %v", trustee.ErrBadRequest, err))
		return
	}
	req, err := body.ToTrustee()
	if err != nil {
		writeError(w, fmt.Errorf("%w: %v", trustee.ErrBadRequest, err))
		return
	}
	release := s.Release
	if r.URL.Path == "/v1/release/resume" {
		release = s.Resume
	}
	out, err := release(r.Context(), req)
	if err != nil {
		s.cfg.Logger.Info("release refused", "trustee", s.cfg.ID, "code", errorCode(err))
		writeError(w, err)
		return
	}
	resp := ReleaseResponse{Trustee: s.cfg.ID, ReleaseEntry: out.Release.Entry, ReleaseProof: ProofText(out.Release)}
	for _, sh := range out.Shares {
		resp.Shares = append(resp.Shares, Share{RecordID: append([]byte(nil), sh.RecordID[:]...), Trustee: sh.Trustee, Sealed: sh.Sealed, Signature: sh.Signature})
	}
	writeJSON(w, http.StatusOK, resp)
}

// errorTable is the one error -> (status, code) table of the service.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{trustee.ErrBadRequest, http.StatusBadRequest, "bad_request"},
	{trustee.ErrBadRecord, http.StatusBadRequest, "bad_record"},
	{warrant.ErrMalformed, http.StatusBadRequest, "bad_warrant"},
	{warrant.ErrInvalid, http.StatusForbidden, "invalid_warrant"},
	{warrant.ErrUnknownCourt, http.StatusForbidden, "unknown_court"},
	{warrant.ErrSignature, http.StatusForbidden, "bad_court_signature"},
	{warrant.ErrExpired, http.StatusForbidden, "warrant_expired"},
	{warrant.ErrNotYetValid, http.StatusForbidden, "warrant_not_yet_valid"},
	{warrant.ErrPolicy, http.StatusForbidden, "other_policy"},
	{warrant.ErrBudget, http.StatusForbidden, "warrant_beyond_bounds"},
	{trustee.ErrNotLogged, http.StatusForbidden, "not_logged"},
	{trustee.ErrLogMismatch, http.StatusForbidden, "log_mismatch"},
	{trustee.ErrOutOfScope, http.StatusForbidden, "out_of_scope"},
	{trustee.ErrBeyondWindow, http.StatusForbidden, "beyond_lookback"},
	{trustee.ErrKeyDestroyed, http.StatusForbidden, "key_destroyed"},
	{trustee.ErrNoKey, http.StatusForbidden, "no_key"},
	{trustee.ErrBudget, http.StatusForbidden, "budget"},
	{trustee.ErrNotTrustee, http.StatusForbidden, "not_trustee"},
	{ErrReplay, http.StatusConflict, "replay"},
	{ErrNotReleased, http.StatusNotFound, "not_released"},
	{ErrLog, http.StatusServiceUnavailable, "log_unavailable"},
}

func errorCode(err error) string {
	_, code := classify(err)
	return code
}

func classify(err error) (int, string) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

func writeError(w http.ResponseWriter, err error) {
	status, code := classify(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "internal error" // never show internal error text
	}
	writeJSON(w, status, ErrorResponse{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ErrKeyMismatch is returned by CheckKeys when a period key in the store is
// not the key the policy publishes for this trustee: shares released with
// it would open nothing and make the trustee look like a liar (T10).
var ErrKeyMismatch = errors.New("trustee/service: stored period key does not match the policy")

// CheckKeys checks, at start, that every live period key in the store is
// the one the policy publishes for this trustee, and reports the policy's
// periods this trustee holds no key for (a warning for the operator).
func (s *Service) CheckKeys(ctx context.Context) (missing []uint32, err error) {
	idx, ok := s.cfg.Policy.TrusteeIndex(s.cfg.ID)
	if !ok {
		return nil, trustee.ErrNotTrustee
	}
	for _, pk := range s.cfg.Policy.Trustees[idx].PeriodKeys {
		priv, err := s.cfg.Store.PeriodKey(ctx, pk.Period)
		switch {
		case errors.Is(err, trustee.ErrKeyDestroyed):
			continue
		case errors.Is(err, trustee.ErrNoKey):
			missing = append(missing, pk.Period)
			continue
		case err != nil:
			return nil, err
		}
		_, pub := xwing.DeriveKeyPairPacked(priv)
		clear(priv)
		if subtle.ConstantTimeCompare(pub, pk.Key) != 1 {
			return nil, fmt.Errorf("%w: period %d", ErrKeyMismatch, pk.Period)
		}
	}
	return missing, nil
}
