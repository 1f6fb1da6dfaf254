package intake

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
)

// AdminRequest is the body of an operator action.
type AdminRequest struct {
	Reason            Reason `json:"reason,omitempty"`             // refuse
	Detail            string `json:"detail,omitempty"`             // refuse
	WarrantCommitment string `json:"warrant_commitment,omitempty"` // trustees: 64 hex digits
}

// AdminHandler returns the provider operator's API. It does no
// authentication of its own: mount it only where the operator alone can
// reach it (daylightd's admin listener or behind its operator token).
//
//	GET  /intake/v1/admin/requests                    every record (View)
//	POST /intake/v1/admin/requests/{id}/answer        answer a non-content request (signed bundle, Evidence entry)
//	POST /intake/v1/admin/requests/{id}/trustees      {"warrant_commitment": hex} content -> under trustee review
//	POST /intake/v1/admin/requests/{id}/fulfil        content request answered through the trustees
//	POST /intake/v1/admin/requests/{id}/refuse        {"reason": code, "detail": text}
//	POST /intake/v1/admin/requests/{id}/reconsider    grant an appeal (validated, then logged again)
func (s *Service) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /intake/v1/admin/requests", func(w http.ResponseWriter, r *http.Request) {
		recs, err := s.List(r.Context(), "", "")
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, "unavailable", "could not list requests", "")
			return
		}
		out := make([]View, 0, len(recs))
		for _, rec := range recs {
			out = append(out, ViewOf(rec))
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /intake/v1/admin/requests/{id}/{action}", s.handleAdmin)
	return mux
}

func (s *Service) handleAdmin(w http.ResponseWriter, r *http.Request) {
	id, err := ParseID(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad-id", "the request id must be 64 hex digits", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10+1))
	if err != nil || len(body) > 8<<10 {
		writeErr(w, http.StatusBadRequest, "bad-body", "the body must be JSON of at most 8 KiB", "")
		return
	}
	var a AdminRequest
	if len(body) > 0 {
		if err := decodeStrict(body, &a); err != nil {
			writeErr(w, http.StatusBadRequest, "malformed", err.Error(), "")
			return
		}
	}
	ctx := r.Context()
	var rec *Record
	switch r.PathValue("action") {
	case "answer":
		rec, err = s.AnswerNonContent(ctx, id)
	case "fulfil":
		rec, err = s.Fulfil(ctx, id)
	case "reconsider":
		rec, err = s.Reconsider(ctx, id)
	case "refuse":
		rec, err = s.Refuse(ctx, id, a.Reason, a.Detail)
	case "trustees":
		b, herr := hex.DecodeString(a.WarrantCommitment)
		if herr != nil || len(b) != 32 {
			writeErr(w, http.StatusBadRequest, "malformed", "warrant_commitment must be 64 hex digits", "the commitment of the WarrantCommitment entry")
			return
		}
		rec, err = s.SendToTrustees(ctx, id, [32]byte(b))
	default:
		writeErr(w, http.StatusNotFound, "not-found", "unknown action", "answer, trustees, fulfil, refuse or reconsider")
		return
	}
	switch {
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, "not-found", "no such request", "")
	case errors.Is(err, ErrIllegalTransition), errors.Is(err, ErrInvalidInput):
		writeErr(w, http.StatusConflict, "illegal-transition", err.Error(), "GET the request to see its state")
	case err != nil:
		s.cfg.Logger.Error("intake admin", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "the change could not be recorded; nothing changed", "retry later")
	default:
		writeJSON(w, http.StatusOK, ViewOf(rec))
	}
}
