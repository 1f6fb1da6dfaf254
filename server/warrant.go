package server

import (
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
	v, err := loggedWarrant(pol, cpp, req, now)
	if err != nil {
		return nil, err
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

// loggedWarrant checks a request for a warrant's scope: the warrant verifies
// against pol at now (court, signature, validity, budgets), its
// WarrantCommitment entry is proved under a checkpoint with the policy's
// witness cosignatures, and the entry matches the warrant and salt. Every
// refusal wraps ds.ErrForbidden (403) or ds.ErrInvalidInput (400).
func loggedWarrant(pol *policy.Verified, cpp *accesslog.CheckpointPolicy, req *WarrantRecordsRequest, now uint64) (*warrant.Verified, error) {
	forbid := func(what string, err error) error {
		return fmt.Errorf("lawful access: %s: %v: %w", what, err, ds.ErrForbidden)
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
	return v, nil
}

// WarrantStatesPattern is where daylightd mounts WarrantStatesHandler.
const WarrantStatesPattern = "POST /v1/lawful/states"

// EpochStateMember is a leaf of an epoch state: the account and device the
// leaf's credential names and the leaf's signature key.
type EpochStateMember struct {
	Account      string `json:"account"`
	Device       string `json:"device"`
	SignatureKey []byte `json:"signature_key"`
}

// EpochState is one epoch's public state in the form of authority.EpochState
// (the --states file of `daylight-authority case decrypt`).
type EpochState struct {
	Suite        uint16                      `json:"cipher_suite"`
	LeafCount    uint32                      `json:"leaf_count"`
	GroupContext []byte                      `json:"group_context"`
	Members      map[uint32]EpochStateMember `json:"members"`
}

// EpochStateKey names an epoch in the answer of WarrantStatesHandler:
// "<group id hex>/<epoch>".
func EpochStateKey(groupID []byte, epoch uint64) string {
	return fmt.Sprintf("%x/%d", groupID, epoch)
}

// WarrantStatesHandler serves the public state of every epoch in a logged
// warrant's scope to the authority (docs/trustee.md, "What daylightd must
// expose", 3): the same request body and the same checks as
// WarrantRecordsHandler (refusals 403/400, nothing served), then
// ds.Service.ScopedEpochStates for the warrant's targets and window, as a
// JSON object keyed by EpochStateKey. The states come from the group's
// member-signed handshake messages the DS validated; an authority uses them
// only for epochs whose escrow records the trustees released, and every
// message it decrypts must verify under the GroupContext and leaf key given
// here.
func WarrantStatesHandler(svc *ds.Service, pol *policy.Verified, now func() time.Time) (http.Handler, error) {
	cpp, err := pol.CheckpointPolicy()
	if err != nil {
		return nil, fmt.Errorf("server: warrant states: %w", err)
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
		v, err := loggedWarrant(pol, cpp, &req, uint64(now().Unix()))
		if err != nil {
			fail(w, err)
			return
		}
		sts, err := svc.ScopedEpochStates(r.Context(), v.Targets, v.WindowStart, v.WindowEnd)
		if err != nil {
			fail(w, err)
			return
		}
		out := make(map[string]EpochState, len(sts))
		for _, st := range sts {
			es := EpochState{Suite: st.Suite, LeafCount: st.LeafCount, GroupContext: st.GroupContext, Members: map[uint32]EpochStateMember{}}
			for _, m := range st.Members {
				user, dev, err := ds.ParseIdentity(m.Identity)
				if err != nil {
					fail(w, err)
					return
				}
				es.Members[m.Leaf] = EpochStateMember{Account: user, Device: strconv.FormatInt(int64(dev), 10), SignatureKey: m.SignatureKey}
			}
			out[EpochStateKey(st.GroupID, st.Epoch)] = es
		}
		writeJSON(w, http.StatusOK, out)
	}), nil
}
