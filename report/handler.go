package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/daylight-im/daylight/accesslog"
)

// HandlerConfig configures Handler.
type HandlerConfig struct {
	Log  LogReader // e.g. tlog.NewClient(logDir, log.Policy(), nil)
	Page Page      // public URLs and keys shown on the page
	// MaxAge: a report is recomputed when older than this (default 10 s), so
	// the page shows a new log entry well within a minute.
	MaxAge time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the transparency report (mount it at /transparency/):
//
//	GET /transparency/              the HTML page
//	GET /transparency/report.json   the report (format: Report)
//	GET /transparency/report.csv    the figures as CSV
//	GET /transparency/policy        the policy in force (PolicyView JSON)
type Handler struct {
	cfg HandlerConfig
	mu  sync.Mutex
	at  time.Time
	rep *Report
	pol *PolicyView
}

// NewHandler returns a Handler.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Page.Policy == "" {
		cfg.Page.Policy = "policy"
	}
	return &Handler{cfg: cfg}
}

// PolicyView is the machine-readable policy in force.
type PolicyView struct {
	LogIndex uint64          `json:"log_index"`
	PolicyID string          `json:"policy_id"`
	Time     uint64          `json:"time"`
	Verified bool            `json:"verified"` // every trustee and the provider signed it
	Error    string          `json:"error,omitempty"`
	Policy   json.RawMessage `json:"policy,omitempty"` // the decoded policy (policy.Policy)
	Signed   string          `json:"signed_policy"`    // base64 of the logged signed policy
}

// current returns the cached report, recomputing it when stale.
func (h *Handler) current(ctx context.Context) (*Report, *PolicyView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rep != nil && h.cfg.Now().Sub(h.at) < h.cfg.MaxAge {
		return h.rep, h.pol, nil
	}
	cp, es, err := Read(ctx, h.cfg.Log)
	if err != nil {
		return nil, nil, err
	}
	rep := Compute(cp.Origin, es)
	var pv *PolicyView
	if rep.Policy != nil {
		pe, err := accesslog.ParseAs[*accesslog.Policy](es[*rep.Policy].Data)
		if err == nil {
			pv = &PolicyView{LogIndex: *rep.Policy, PolicyID: hex.EncodeToString(pe.PolicyID[:]), Time: pe.Time,
				Signed: base64.StdEncoding.EncodeToString(pe.SignedPolicy)}
			if v, err := ParsePolicy(pe); err != nil {
				pv.Error = err.Error()
			} else {
				pv.Verified = true
				pv.Policy, _ = json.Marshal(v.Policy)
			}
		}
	}
	h.rep, h.pol, h.at = rep, pv, h.cfg.Now()
	return rep, pv, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	for _, p := range []string{"/transparency/", "/"} {
		if len(path) >= len(p) && path[:len(p)] == p {
			path = path[len(p):]
			break
		}
	}
	rep, pol, err := h.current(r.Context())
	if err != nil {
		h.cfg.Logger.Error("transparency report", "err", err)
		http.Error(w, "the report cannot be computed right now (the log is unavailable or does not verify)", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	w.Header().Set("Cache-Control", "max-age=10")
	switch path {
	case "", "index.html":
		err = rep.WriteHTML(&buf, h.cfg.Page)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case "report.json":
		err = rep.WriteJSON(&buf)
		w.Header().Set("Content-Type", "application/json")
	case "report.csv":
		err = rep.WriteCSV(&buf)
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "policy":
		if pol == nil {
			http.Error(w, "no policy has been logged", http.StatusNotFound)
			return
		}
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(pol)
		w.Header().Set("Content-Type", "application/json")
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.cfg.Logger.Error("transparency render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Write(buf.Bytes())
}
