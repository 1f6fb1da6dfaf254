package moderation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
)

// RouteReport is the report intake's route (Go ServeMux pattern).
const RouteReport = "POST /v1/reports"

// ReportRequest is the body of RouteReport (application/json). Message and
// each Context entry are franking.Report encodings (stamp ‖ franking key ‖
// plaintext), standard base64 in JSON.
type ReportRequest struct {
	Message []byte   `json:"message"`
	Context [][]byte `json:"context,omitempty"`
	Reason  string   `json:"reason"` // one of Reasons()
	Comment string   `json:"comment,omitempty"`
}

// ReportResponse answers an accepted report (201 Created).
type ReportResponse struct {
	ID string `json:"id"`
}

// CodeReportNotVerified answers a report whose stamp or commitment does not
// verify (422); Detail says which message and why.
const CodeReportNotVerified api.Code = "report_not_verified"

// Intake returns the handler of RouteReport. The reporter authenticates with
// its device's bearer token (Authorization: Bearer, as on every /v1 route).
func (s *Service) Intake() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeAPIError(w, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "method not allowed", "use POST")
			return
		}
		p, err := s.authorize(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="daylight"`)
			writeAPIError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "not authenticated", "a valid device token is required (Authorization: Bearer)")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != api.MediaJSON {
			writeAPIError(w, http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia, "unsupported media type", "send application/json")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxReportBytes))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeAPIError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, "too large", fmt.Sprintf("a report is at most %d bytes", s.cfg.MaxReportBytes))
			return
		}
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, api.CodeMalformedBody, "malformed body", "could not read the body")
			return
		}
		var req ReportRequest
		if err := api.Decode(body, &req); err != nil {
			writeAPIError(w, http.StatusBadRequest, api.CodeMalformedBody, "malformed body", "expected a JSON report {message, context, reason, comment}")
			return
		}
		id, err := s.Submit(r.Context(), p, Submission{Message: req.Message, Context: req.Context, Reason: req.Reason, Comment: req.Comment})
		if err != nil {
			detail := "report refused"
			var rj *RejectError
			if errors.As(err, &rj) {
				detail = rj.Reason
			}
			switch {
			case errors.Is(err, ErrRateLimited):
				w.Header().Set("Retry-After", "3600")
				writeAPIError(w, http.StatusTooManyRequests, api.CodeRateLimited, "too many reports", detail)
			case errors.Is(err, ErrNotVerified):
				writeAPIError(w, http.StatusUnprocessableEntity, CodeReportNotVerified, "the report does not verify", detail)
			case errors.Is(err, ErrInvalidInput):
				writeAPIError(w, http.StatusBadRequest, api.CodeInvalidInput, "invalid report", detail)
			case errors.Is(err, ErrExists):
				writeAPIError(w, http.StatusConflict, api.CodeConflict, "already reported", detail)
			default:
				s.log.Error("moderation: report intake", "err", err)
				writeAPIError(w, http.StatusInternalServerError, api.CodeInternal, "internal error", "")
			}
			return
		}
		w.Header().Set("Content-Type", api.MediaJSON)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(ReportResponse{ID: id})
	})
}

// authorize resolves the request's bearer token with the DS.
func (s *Service) authorize(r *http.Request) (ds.Principal, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return ds.Principal{}, ErrUnauthenticated
	}
	return s.cfg.DS.Authorize(r.Context(), tok)
}

func writeAPIError(w http.ResponseWriter, status int, code api.Code, msg, detail string) {
	w.Header().Set("Content-Type", api.MediaJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.ErrorBody{Code: code, Message: msg, Detail: detail}})
}
