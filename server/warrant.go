package server

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/warrant"
)

// WarrantRecordsPattern is where daylightd mounts WarrantRecordsHandler
// (server.Config.Mounts).
const WarrantRecordsPattern = "POST /v1/lawful/records"

// WarrantRecordsRequest is the body of WarrantRecordsPattern: the warrant as
// the court signed it, its salt, and the WarrantCommitment entry with its
// tlog-proof under a checkpoint cosigned by the policy's witnesses (the same
// fields as a trustee's release request).
type WarrantRecordsRequest struct {
	Warrant      []byte `json:"warrant"`
	Salt         []byte `json:"salt"`
	WarrantEntry []byte `json:"warrant_entry"`
	WarrantProof string `json:"warrant_proof"`
}

// WarrantRecord is one entry of the answer, in the records.json form of
// `daylight-authority case file`.
type WarrantRecord struct {
	Record        []byte `json:"record"`
	EpochEvidence []byte `json:"epoch_evidence"`
}

// WarrantRecordsHandler serves the escrow records of a logged warrant's scope
// to the authority (docs/trustee.md, "What daylightd must expose", 2): it
// checks the warrant against pol (court, signature, validity, budgets), that
// its commitment entry is in the access log under a checkpoint with the
// policy's witness cosignatures and matches the warrant and salt, and answers
// ds.Service.ScopedRecords for the warrant's targets and window. Holding the
// salt is the authority's credential (only it and the trustees have it); the
// trustees re-check every record's scope from its member-signed evidence.
func WarrantRecordsHandler(svc *ds.Service, pol *policy.Verified, now func() time.Time) (http.Handler, error) {
	cpp, err := pol.CheckpointPolicy()
	if err != nil {
		return nil, fmt.Errorf("server: warrant records: %w", err)
	}
	if now == nil {
		now = time.Now
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
		var req WarrantRecordsRequest
		if err := api.Decode(b, &req); err != nil {
			fail(w, fmt.Errorf("%v: %w", err, errMalformed))
			return
		}
		recs, err := warrantRecords(r, svc, pol, cpp, &req, uint64(now().Unix()))
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, recs)
	}), nil
}

func warrantRecords(r *http.Request, svc *ds.Service, pol *policy.Verified, cpp *accesslog.CheckpointPolicy, req *WarrantRecordsRequest, now uint64) ([]WarrantRecord, error) {
	forbid := func(what string, err error) error {
		return fmt.Errorf("warrant records: %s: %v: %w", what, err, ds.ErrForbidden)
	}
	ws, err := warrant.ParseSigned(req.Warrant)
	if err != nil {
		return nil, fmt.Errorf("warrant: %v: %w", err, ds.ErrInvalidInput)
	}
	if len(req.Salt) != 32 {
		return nil, fmt.Errorf("salt must be 32 bytes: %w", ds.ErrInvalidInput)
	}
	v, err := warrant.Verify(ws, pol, now)
	if err != nil {
		return nil, forbid("warrant", err)
	}
	proof, err := accesslog.ParseProof([]byte(req.WarrantProof))
	if err != nil {
		return nil, fmt.Errorf("warrant_proof: %v: %w", err, ds.ErrInvalidInput)
	}
	if _, err := cpp.VerifyProof(proof, req.WarrantEntry); err != nil {
		return nil, forbid("warrant entry not proved in the access log", err)
	}
	wc, err := accesslog.ParseAs[*accesslog.WarrantCommitment](req.WarrantEntry)
	if err != nil {
		return nil, forbid("warrant entry", err)
	}
	if err := v.Matches(warrant.Metadata(*wc), [32]byte(req.Salt)); err != nil {
		return nil, forbid("the logged commitment", err)
	}
	rs, err := svc.ScopedRecords(r.Context(), v.Targets, v.WindowStart, v.WindowEnd)
	if err != nil {
		return nil, err
	}
	out := make([]WarrantRecord, 0, len(rs))
	for _, x := range rs {
		out = append(out, WarrantRecord{Record: x.Record, EpochEvidence: x.EpochEvidence})
	}
	return out, nil
}
