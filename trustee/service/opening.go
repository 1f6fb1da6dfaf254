package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/warrant"
)

// warrantRecord is what the service keeps about a warrant it released for,
// so that it can open the warrant to its targets at the embargo end (A7)
// whatever the provider does.
type warrantRecord struct {
	Warrant []byte `json:"warrant"` // warrant.Signed encoding
	Salt    []byte `json:"salt"`
	Records uint32 `json:"records"` // records this trustee released for it
	Opened  bool   `json:"opened"`
}

// rememberWarrant adds n released records to the warrant's record. It runs
// before the release entry is appended, so a crash can only over-count by
// a request whose entry never made it into the log.
func (s *Service) rememberWarrant(ctx context.Context, req *trustee.Request, n int) error {
	c := warrant.Commitment(req.Warrant, req.Salt)
	rec := warrantRecord{Warrant: req.Warrant.Marshal(), Salt: req.Salt[:]}
	old, err := s.cfg.Store.Warrant(ctx, c)
	if err != nil {
		return err
	}
	if old != nil {
		if err := json.Unmarshal(old, &rec); err != nil {
			return fmt.Errorf("trustee/service: stored warrant %x: %w", c[:6], err)
		}
	}
	rec.Records += uint32(n)
	b, _ := json.Marshal(rec)
	return s.cfg.Store.PutWarrant(ctx, c, b)
}

// TargetKeys returns a target account's X-Wing public key as the key
// directory proves it (keydir/).
type TargetKeys func(ctx context.Context, account string) ([]byte, error)

// OpenDue appends an Opening entry for every target of every warrant this
// trustee released for whose embargo has ended and that it has not opened
// yet (A7, T15: one honest trustee suffices; the provider cannot stop it,
// and clients find openings in the log by trial decryption). It returns
// the number of entries appended. A target whose key cannot be found is
// reported in the error and retried on the next call.
func (s *Service) OpenDue(ctx context.Context, keys TargetKeys) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.cfg.Store.Warrants(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var appended int
	var errs []error
	for _, raw := range all {
		var rec warrantRecord
		if err := json.Unmarshal(raw, &rec); err != nil || len(rec.Salt) != 32 {
			errs = append(errs, fmt.Errorf("trustee/service: malformed stored warrant"))
			continue
		}
		if rec.Opened {
			continue
		}
		sw, err := warrant.ParseSigned(rec.Warrant)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w, err := warrant.Parse(sw.Body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if now < w.EmbargoEnd {
			continue
		}
		// The warrant was valid when released; check it as of its issue time.
		v, err := warrant.Verify(sw, s.cfg.Policy, w.Issued)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var salt [32]byte
		copy(salt[:], rec.Salt)
		var entries [][]byte
		for _, target := range w.Targets {
			pk, err := keys(ctx, target)
			if err != nil {
				errs = append(errs, fmt.Errorf("trustee/service: opening for %q: key: %w", target, err))
				entries = nil
				break
			}
			o, err := s.tr.Opening(v, salt, target, pk, rec.Records, now)
			if err != nil {
				errs = append(errs, err)
				entries = nil
				break
			}
			b, err := accesslog.Marshal(o)
			if err != nil {
				errs = append(errs, err)
				entries = nil
				break
			}
			entries = append(entries, b)
		}
		if entries == nil {
			continue
		}
		// Append, then mark: a crash in between repeats an opening (clients
		// show one notice per warrant commitment), it never loses one.
		c := warrant.Commitment(sw, salt)
		failed := false
		for _, e := range entries {
			if _, err := s.cfg.Appender.Append(ctx, e); err != nil {
				errs = append(errs, fmt.Errorf("%w: opening append: %v", ErrLog, err))
				failed = true
				break
			}
			appended++
		}
		if failed {
			continue
		}
		rec.Opened = true
		b, _ := json.Marshal(rec)
		if err := s.cfg.Store.PutWarrant(ctx, c, b); err != nil {
			errs = append(errs, err)
			continue
		}
		s.cfg.Logger.Info("warrant opened to its targets", "trustee", s.cfg.ID, "commitment", fmt.Sprintf("%x", c[:8]), "targets", len(entries))
	}
	return appended, errors.Join(errs...)
}
