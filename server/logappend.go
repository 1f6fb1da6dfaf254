package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/api"
)

// PathLogAppend is where daylightd mounts the log append endpoint
// (docs/trustee.md, "What daylightd must expose"; the client is
// trustee/service.HTTPAppender).
const PathLogAppend = "/v1/log/append"

// DefaultMaxEntryBytes bounds an appended entry. The largest legitimate
// entries (an Opening's sealed notice, a TrusteeKey's X-Wing key with its
// signature) are a few KiB.
const DefaultMaxEntryBytes = 64 << 10

// Role is what a log writer may append: an authority files warrant
// commitments and evidence digests; trustee <id> logs its own releases,
// openings and escrow keys.
type Role struct {
	Authority bool
	Trustee   string // the trustee id, when not Authority
}

// ParseRole parses "authority" or "trustee:<id>".
func ParseRole(s string) (Role, error) {
	if s == "authority" {
		return Role{Authority: true}, nil
	}
	if id, ok := strings.CutPrefix(s, "trustee:"); ok && id != "" && strings.TrimSpace(id) == id {
		return Role{Trustee: id}, nil
	}
	return Role{}, fmt.Errorf("role %q: want authority or trustee:<id>", s)
}

func (r Role) String() string {
	if r.Authority {
		return "authority"
	}
	return "trustee:" + r.Trustee
}

// allows reports whether r may append e, naming the rule it breaks.
func (r Role) allows(e accesslog.Entry) error {
	t := e.Type()
	if r.Authority {
		switch t {
		case accesslog.TypeWarrantCommitment, accesslog.TypeEvidence:
			return nil
		}
		return fmt.Errorf("the authority role may append WarrantCommitment and Evidence entries, not %s", t)
	}
	var who string
	switch e := e.(type) {
	case *accesslog.Release:
		who = e.Trustee
	case *accesslog.Opening:
		who = e.Trustee
	case *accesslog.TrusteeKey:
		who = e.Trustee
	default:
		return fmt.Errorf("a trustee role may append Release, Opening and TrusteeKey entries, not %s", t)
	}
	if who != r.Trustee {
		return fmt.Errorf("the %s entry names trustee %q; this token is trustee %q's", t, who, r.Trustee)
	}
	return nil
}

// LogWriters maps the SHA-256 of a bearer token to its role. Only hashes
// are kept, so the roles file is not a secret store.
type LogWriters map[[32]byte]Role

// TokenHash returns the hash under which a token is listed.
func TokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// ParseLogWriters reads a roles file: one writer per line, "<hex SHA-256 of
// the token> <role>", blank lines and lines starting with # ignored.
// Duplicate hashes and unknown roles are errors naming the line.
func ParseLogWriters(r io.Reader) (LogWriters, error) {
	w := LogWriters{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"<sha256 hex of the token> <role>\"", n)
		}
		h, err := hex.DecodeString(f[0])
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("line %d: token hash: want 64 hex digits", n)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		k := [32]byte(h)
		if _, dup := w[k]; dup {
			return nil, fmt.Errorf("line %d: token hash listed twice", n)
		}
		w[k] = role
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return w, nil
}

// LogAppender is the log the endpoint appends to; *tlog.Log satisfies it
// (AppendRaw returns once the entry is durably sequenced and integrated).
type LogAppender interface {
	AppendRaw(ctx context.Context, entry []byte) (uint64, error)
}

// LogAppendConfig configures NewLogAppendHandler.
type LogAppendConfig struct {
	Log      LogAppender
	Writers  LogWriters
	MaxBytes int64        // default DefaultMaxEntryBytes
	Logger   *slog.Logger // default: discard
}

// NewLogAppendHandler returns the log append endpoint for authorized roles:
//
//	POST /v1/log/append   body: one encoded access-log entry (application/octet-stream)
//	                      Authorization: Bearer <token listed in Writers>
//	200 {"index": N}      once the entry is durably sequenced
//
// Refusals (JSON api.ErrorResponse, nothing appended): 401 missing or
// unknown token, 403 an entry type the role may not append or a trustee
// entry naming another trustee, 400 an entry that does not parse, 413 a body
// over MaxBytes, 415 another Content-Type, 503 the log failed. The token is
// looked up by its SHA-256, so lookup time says nothing about valid tokens.
func NewLogAppendHandler(cfg LogAppendConfig) http.Handler {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxEntryBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &logAppend{cfg}
}

type logAppend struct{ cfg LogAppendConfig }

func (h *logAppend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		appendError(w, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "method not allowed on this route", "")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	role, known := h.cfg.Writers[TokenHash(strings.TrimSpace(tok))]
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="daylight log append"`)
		appendError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "a log writer's bearer token is required", "")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/octet-stream" {
			appendError(w, http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia, "unsupported Content-Type", "send the encoded entry as application/octet-stream")
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		appendError(w, http.StatusRequestEntityTooLarge, api.CodeTooLarge, "the entry is too large", fmt.Sprintf("at most %d bytes", h.cfg.MaxBytes))
		return
	}
	if err != nil {
		appendError(w, http.StatusBadRequest, api.CodeMalformedBody, "the body could not be read", "")
		return
	}
	e, err := accesslog.Parse(body)
	if err != nil {
		appendError(w, http.StatusBadRequest, api.CodeInvalidInput, "the body is not an encoded access-log entry", err.Error())
		return
	}
	if err := role.allows(e); err != nil {
		h.cfg.Logger.Warn("log append refused", "role", role.String(), "type", e.Type().String(), "err", err)
		appendError(w, http.StatusForbidden, api.CodeForbidden, "this role may not append this entry", err.Error())
		return
	}
	idx, err := h.cfg.Log.AppendRaw(r.Context(), body)
	if err != nil {
		h.cfg.Logger.Error("log append", "role", role.String(), "type", e.Type().String(), "err", err)
		appendError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "the log could not append the entry; retry", "")
		return
	}
	h.cfg.Logger.Info("log append", "role", role.String(), "type", e.Type().String(), "index", idx)
	w.Header().Set("Content-Type", api.MediaJSON)
	json.NewEncoder(w).Encode(struct {
		Index uint64 `json:"index"`
	}{idx})
}

func appendError(w http.ResponseWriter, status int, code api.Code, msg, detail string) {
	w.Header().Set("Content-Type", api.MediaJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.ErrorBody{Code: code, Message: msg, Detail: detail}})
}
