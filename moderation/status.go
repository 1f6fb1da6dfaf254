package moderation

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/daylight-im/daylight/api"
)

// RouteStatus is the route on which a device reads its own account's
// standing: warnings a moderator sent it and whether it is suspended (issue
// 7, "warnings shown to users"; docs/moderation.md).
const RouteStatus = "GET /v1/moderation/status"

// StatusResponse answers RouteStatus. It names no report, reporter or
// moderator: the sender learns that a moderator acted and what the moderator
// wrote to it, not who reported which message.
type StatusResponse struct {
	Suspended bool            `json:"suspended"`
	Since     *time.Time      `json:"since,omitempty"` // when the suspension began
	Warnings  []StatusWarning `json:"warnings"`        // oldest first
}

// StatusWarning is one warning as the warned account sees it.
type StatusWarning struct {
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Status returns the handler of RouteStatus. The device authenticates with
// its bearer token (Authorization: Bearer, as on every /v1 route) and only
// ever sees its own account's standing. A suspended account can still read
// it (the suspension refuses sends, not this).
func (s *Service) Status() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeAPIError(w, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "method not allowed", "use GET")
			return
		}
		p, err := s.authorize(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="daylight"`)
			writeAPIError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "not authenticated", "a valid device token is required (Authorization: Bearer)")
			return
		}
		out := StatusResponse{Warnings: []StatusWarning{}}
		ws, err := s.st.Warnings(r.Context(), p.Username)
		if err == nil {
			for _, wa := range ws {
				out.Warnings = append(out.Warnings, StatusWarning{Text: wa.Text, Time: wa.Time.UTC()})
			}
			var susp Suspension
			susp, err = s.st.Suspension(r.Context(), p.Username)
			switch {
			case err == nil:
				since := susp.Since.UTC()
				out.Suspended, out.Since = true, &since
			case errors.Is(err, ErrNotFound):
				err = nil
			}
		}
		if err != nil {
			s.log.Error("moderation: account status", "err", err)
			writeAPIError(w, http.StatusInternalServerError, api.CodeInternal, "internal error", "")
			return
		}
		w.Header().Set("Content-Type", api.MediaJSON)
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(out)
	})
}
