package intake

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Query authentication: GET requests carry three headers, the last an
// Ed25519 signature by the authority over QueryMessage.
const (
	HeaderAuthority = "Daylight-Authority" // "<agreement id>/<authority id>"
	HeaderTime      = "Daylight-Time"      // unix seconds
	HeaderSignature = "Daylight-Signature" // base64 signature
	// MaxQuerySkew is how far a query's time may be from the server's clock.
	MaxQuerySkew = 300
	queryLabel   = "daylight intake query v1\x00"
)

// QueryMessage is what an authority signs to read its requests or appeal
// one: the method, path, time and the SHA-256 of the body (empty for GET).
func QueryMessage(method, path string, t uint64, body []byte) []byte {
	h := sha256.Sum256(body)
	return []byte(fmt.Sprintf("%s%s\n%s\n%d\n%x", queryLabel, method, path, t, h))
}

// SignQuery sets the authentication headers of an authority's API call.
func SignQuery(h http.Header, agreement, authority string, key ed25519.PrivateKey, method, path string, t uint64, body []byte) {
	h.Set(HeaderAuthority, agreement+"/"+authority)
	h.Set(HeaderTime, strconv.FormatUint(t, 10))
	h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(key, QueryMessage(method, path, t, body))))
}

// View is a record as the API shows it to its authority.
type View struct {
	ID                string   `json:"id"`
	Agreement         string   `json:"agreement"`
	Authority         string   `json:"authority"`
	Jurisdiction      string   `json:"jurisdiction"`
	Instrument        string   `json:"instrument"`
	Category          Category `json:"category"`
	Case              string   `json:"case"`
	State             State    `json:"state"`
	Reason            Reason   `json:"reason,omitempty"`
	Detail            string   `json:"detail,omitempty"`
	WarrantCommitment string   `json:"warrant_commitment,omitempty"`
	AnswerLogIndex    *uint64  `json:"answer_log_index,omitempty"`
	History           []Change `json:"history"`
}

// ViewOf returns the API view of a record.
func ViewOf(r *Record) View {
	v := View{ID: r.ID.String(), Agreement: r.Request.Agreement, Authority: r.Request.Authority,
		Jurisdiction: r.Jurisdiction, Instrument: r.Instrument, Category: r.Request.Category, Case: r.Request.Case,
		State: r.State, Reason: r.Reason, Detail: r.Detail, WarrantCommitment: r.WarrantCommitment, History: r.History}
	if r.Answer != nil {
		i := r.AnswerIndex
		v.AnswerLogIndex = &i
	}
	return v
}

// APIError is the JSON error body of the intake API.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

type errorBody struct {
	Error APIError `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg, hint string) {
	writeJSON(w, status, errorBody{APIError{code, msg, hint}})
}

// Handler returns the intake API (mount it at /intake/v1/):
//
//	POST /intake/v1/requests              body: Signed JSON -> 201 View (422 View if refused)
//	GET  /intake/v1/requests              the caller's requests (query headers) -> 200 [View]
//	GET  /intake/v1/requests/{id}         -> 200 View
//	GET  /intake/v1/requests/{id}/answer  -> 200 the signed non-content bundle
//	POST /intake/v1/requests/{id}/appeal  body {"detail": "..."} -> 200 View (appealed)
//
// Errors are JSON {"error":{"code","message","hint"}}. Bad input changes
// nothing. A request that is not the caller's is reported as not found.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /intake/v1/requests", s.handleSubmit)
	mux.HandleFunc("GET /intake/v1/requests", s.handleList)
	mux.HandleFunc("GET /intake/v1/requests/{id}", s.handleGet)
	mux.HandleFunc("GET /intake/v1/requests/{id}/answer", s.handleAnswer)
	mux.HandleFunc("POST /intake/v1/requests/{id}/appeal", s.handleAppeal)
	return mux
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeErr(w, http.StatusUnsupportedMediaType, "bad-media-type", "the body must be application/json", "send the output of intake.Signed.Marshal")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxDocumentSize+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad-body", "could not read the body", "")
		return
	}
	if len(body) > MaxDocumentSize {
		writeErr(w, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the body exceeds %d bytes", MaxDocumentSize), "")
		return
	}
	rec, err := s.Submit(r.Context(), body)
	switch {
	case errors.Is(err, ErrInvalidInput):
		writeErr(w, http.StatusBadRequest, "malformed", strings.TrimPrefix(err.Error(), "intake: invalid input: "), "sign the request with `daylight-authority request file`, which encodes it canonically")
	case errors.Is(err, ErrExists):
		writeErr(w, http.StatusConflict, "duplicate", "this request was already filed", "use `daylight-authority request status <id>`; change the nonce to file a new request")
	case err != nil:
		s.cfg.Logger.Error("intake submit", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "the request could not be recorded; nothing was filed", "retry later")
	case rec.State == Refused:
		writeJSON(w, http.StatusUnprocessableEntity, ViewOf(rec))
	default:
		w.Header().Set("Location", "/intake/v1/requests/"+rec.ID.String())
		writeJSON(w, http.StatusCreated, ViewOf(rec))
	}
}

// authenticate checks the query headers and returns the agreement and
// authority ids of the caller.
func (s *Service) authenticate(r *http.Request, body []byte) (string, string, error) {
	who := r.Header.Get(HeaderAuthority)
	agID, auID, ok := strings.Cut(who, "/")
	if !ok {
		return "", "", fmt.Errorf("missing %s header (<agreement>/<authority>)", HeaderAuthority)
	}
	ag, ok := s.cfg.Agreements.Agreement(agID)
	if !ok {
		return "", "", fmt.Errorf("unknown agreement %q", agID)
	}
	au, ok := ag.authority(auID)
	if !ok {
		return "", "", fmt.Errorf("authority %q is not in agreement %q", auID, agID)
	}
	t, err := strconv.ParseUint(r.Header.Get(HeaderTime), 10, 64)
	if err != nil {
		return "", "", fmt.Errorf("missing or bad %s header", HeaderTime)
	}
	now := s.now()
	if t+MaxQuerySkew < now || t > now+MaxQuerySkew {
		return "", "", fmt.Errorf("%s is more than %d s from the server's clock", HeaderTime, MaxQuerySkew)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil || !ed25519.Verify(ed25519.PublicKey(au.Key), QueryMessage(r.Method, r.URL.Path, t, body), sig) {
		return "", "", errors.New("the query signature does not verify")
	}
	return agID, auID, nil
}

func (s *Service) owned(w http.ResponseWriter, r *http.Request, body []byte) (*Record, bool) {
	ag, au, err := s.authenticate(r, body)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, "unauthenticated", err.Error(), "sign queries with the authority key (daylight-authority does)")
		return nil, false
	}
	id, err := ParseID(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad-id", "the request id must be 64 hex digits", "")
		return nil, false
	}
	rec, err := s.Get(r.Context(), id)
	if err != nil || rec.Request.Agreement != ag || rec.Request.Authority != au {
		if err != nil && !errors.Is(err, ErrNotFound) {
			s.cfg.Logger.Error("intake get", "err", err)
		}
		writeErr(w, http.StatusNotFound, "not-found", "no such request for this authority", "list yours with `daylight-authority request list`")
		return nil, false
	}
	return rec, true
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	if rec, ok := s.owned(w, r, nil); ok {
		writeJSON(w, http.StatusOK, ViewOf(rec))
	}
}

func (s *Service) handleAnswer(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.owned(w, r, nil)
	if !ok {
		return
	}
	if rec.Answer == nil {
		writeErr(w, http.StatusNotFound, "no-answer", "this request has no non-content answer", "state: "+string(rec.State))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(rec.Answer)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	ag, au, err := s.authenticate(r, nil)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, "unauthenticated", err.Error(), "sign queries with the authority key (daylight-authority does)")
		return
	}
	recs, err := s.List(r.Context(), ag, au)
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "could not list requests", "retry later")
		return
	}
	out := make([]View, 0, len(recs))
	for _, rec := range recs {
		out = append(out, ViewOf(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// AppealRequest is the body of an appeal.
type AppealRequest struct {
	Detail string `json:"detail"`
}

func (s *Service) handleAppeal(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10+1))
	if err != nil || len(body) > 8<<10 {
		writeErr(w, http.StatusBadRequest, "bad-body", "the appeal body must be JSON of at most 8 KiB", "")
		return
	}
	rec, ok := s.owned(w, r, body)
	if !ok {
		return
	}
	var a AppealRequest
	if err := decodeStrict(body, &a); err != nil || a.Detail == "" || len(a.Detail) > 4096 {
		writeErr(w, http.StatusBadRequest, "malformed", "the appeal body must be {\"detail\": \"...\"} with 1 to 4096 bytes of detail", "")
		return
	}
	got, err := s.Appeal(r.Context(), rec.ID, a.Detail)
	switch {
	case errors.Is(err, ErrIllegalTransition):
		writeErr(w, http.StatusConflict, "illegal-transition", "only a refused request can be appealed (state: "+string(rec.State)+")", "")
	case err != nil:
		s.cfg.Logger.Error("intake appeal", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "the appeal could not be recorded", "retry later")
	default:
		writeJSON(w, http.StatusOK, ViewOf(got))
	}
}
