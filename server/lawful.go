package server

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/warrant"
)

// RetainedPattern is where daylightd mounts NewRetainedHandler
// (server.Config.Mounts).
const RetainedPattern = "POST /v1/lawful/retained"

// RetainedRequest is the body of RetainedPattern: the signed policy the
// warrant names (signed by every trustee and by this provider), the warrant
// as the court signed it, its salt, and its WarrantCommitment entry with a
// tlog-proof under a checkpoint cosigned by the policy's witnesses.
type RetainedRequest struct {
	Policy       []byte `json:"policy"`
	Warrant      []byte `json:"warrant"`
	Salt         []byte `json:"salt"`
	WarrantEntry []byte `json:"warrant_entry"`
	WarrantProof string `json:"warrant_proof"`
}

// RetainedLine is one line of the answer (JSON Lines), the form of
// authority.Retained that `daylight-authority case decrypt --retained` reads.
type RetainedLine struct {
	GroupID    []byte `json:"group"`
	Epoch      uint64 `json:"epoch"`
	TimeMs     uint64 `json:"time_ms"`
	Ciphertext []byte `json:"ciphertext"`
}

// Headers of the answer: the hold's bounds (Unix seconds).
const (
	HeaderHoldFrom  = "Daylight-Hold-From"
	HeaderHoldUntil = "Daylight-Hold-Until"
)

// RetainedConfig configures NewRetainedHandler.
type RetainedConfig struct {
	Service  *ds.Service
	Provider ed25519.PublicKey // this provider's policy key: a policy it did not sign is refused
	Now      func() time.Time  // default time.Now
}

// NewRetainedHandler serves retained ciphertext to the authority for a
// logged warrant (docs/trustee.md, "What daylightd must expose", 3;
// docs/retention.md). It checks that the policy is fully signed and names
// this provider, the warrant against it (court, signature, validity,
// budgets), and that the warrant's commitment entry is in the access log under
// a checkpoint with the policy's witness cosignatures and opens with the
// warrant and salt. Presenting the warrant starts its retention hold (from
// now until the window end plus the policy's retention grace, ds.PresentWarrant)
// if the hold has not ended; the answer is every copy kept under the hold
// with acceptance time inside the window, as JSON Lines of RetainedLine. The
// salt, known only to the court, the authority and the trustees, is the
// credential; the commitment in the log is what makes the request lawful.
func NewRetainedHandler(cfg RetainedConfig) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	fail := func(w http.ResponseWriter, err error) {
		status, body := classify(err)
		writeJSON(w, status, api.ErrorResponse{Error: body})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mediaType(r) != api.MediaJSON {
			fail(w, fmt.Errorf("Content-Type %q, want %s: %w", r.Header.Get("Content-Type"), api.MediaJSON, errMedia))
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			fail(w, fmt.Errorf("reading body: %w", errTooLarge))
			return
		}
		var req RetainedRequest
		if err := api.Decode(b, &req); err != nil {
			fail(w, fmt.Errorf("%v: %w", err, errMalformed))
			return
		}
		now := cfg.Now()
		v, commitment, grace, err := lawfulWarrant(cfg.Provider, &req, uint64(now.Unix()))
		if err != nil {
			fail(w, err)
			return
		}
		until := time.Unix(int64(v.WindowEnd+grace), 0)
		if until.After(now) {
			h, err := cfg.Service.PresentWarrant(r.Context(), commitment, v.Targets, until)
			if err != nil {
				fail(w, err)
				return
			}
			w.Header().Set(HeaderHoldFrom, strconv.FormatInt(h.From.Unix(), 10))
			w.Header().Set(HeaderHoldUntil, strconv.FormatInt(h.Until.Unix(), 10))
		}
		ms, err := cfg.Service.Retained(r.Context(), commitment, time.Unix(int64(v.WindowStart), 0), time.Unix(int64(v.WindowEnd), 0))
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/jsonl")
		enc := json.NewEncoder(w)
		for _, m := range ms {
			enc.Encode(RetainedLine{GroupID: m.GroupID, Epoch: m.Epoch, TimeMs: uint64(m.Received.UnixMilli()), Ciphertext: m.Data})
		}
	})
}

// lawfulWarrant checks a RetainedRequest and returns the verified warrant,
// its commitment and the policy's retention grace.
func lawfulWarrant(provider ed25519.PublicKey, req *RetainedRequest, now uint64) (*warrant.Verified, [32]byte, uint64, error) {
	var zero [32]byte
	forbid := func(what string, err error) error {
		return fmt.Errorf("lawful access: %s: %v: %w", what, err, ds.ErrForbidden)
	}
	ps, err := policy.ParseSigned(req.Policy)
	if err != nil {
		return nil, zero, 0, fmt.Errorf("policy: %v: %w", err, ds.ErrInvalidInput)
	}
	pol, err := policy.Verify(ps)
	if err != nil {
		return nil, zero, 0, forbid("policy", err)
	}
	if len(provider) == 0 || !pol.Provider.Equal(provider) {
		return nil, zero, 0, forbid("policy", errors.New("not signed by this provider"))
	}
	cpp, err := pol.CheckpointPolicy()
	if err != nil {
		return nil, zero, 0, forbid("policy", err)
	}
	ws, err := warrant.ParseSigned(req.Warrant)
	if err != nil {
		return nil, zero, 0, fmt.Errorf("warrant: %v: %w", err, ds.ErrInvalidInput)
	}
	if len(req.Salt) != 32 {
		return nil, zero, 0, fmt.Errorf("salt must be 32 bytes: %w", ds.ErrInvalidInput)
	}
	v, err := warrant.Verify(ws, pol, now)
	if err != nil {
		return nil, zero, 0, forbid("warrant", err)
	}
	proof, err := accesslog.ParseProof([]byte(req.WarrantProof))
	if err != nil {
		return nil, zero, 0, fmt.Errorf("warrant_proof: %v: %w", err, ds.ErrInvalidInput)
	}
	if _, err := cpp.VerifyProof(proof, req.WarrantEntry); err != nil {
		return nil, zero, 0, forbid("warrant entry not proved in the access log", err)
	}
	wc, err := accesslog.ParseAs[*accesslog.WarrantCommitment](req.WarrantEntry)
	if err != nil {
		return nil, zero, 0, forbid("warrant entry", err)
	}
	if err := v.Matches(warrant.Metadata(*wc), [32]byte(req.Salt)); err != nil {
		return nil, zero, 0, forbid("the logged commitment", err)
	}
	return v, warrant.Commitment(ws, [32]byte(req.Salt)), pol.Budgets.RetentionGrace, nil
}
