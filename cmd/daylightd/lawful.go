package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/warrant"
)

// recordsByLoggedPolicy serves POST /v1/lawful/records
// (server.WarrantRecordsHandler) under the policy the warrant names, taken
// from this provider's own access log: the Policy entry with that id, whose
// signed policy verifies and names this provider's key. daylightd publishes
// policies at run time (POST /admin/v1/policy), so the handler is built per
// policy on first use and cached. With build set (server.WarrantStatesHandler)
// it serves that handler instead, under the same policy lookup.
type recordsByLoggedPolicy struct {
	svc      *ds.Service
	logDir   string
	logPol   *accesslog.CheckpointPolicy
	provider ed25519.PublicKey
	build    func(*ds.Service, *policy.Verified, func() time.Time) (http.Handler, error) // default server.WarrantRecordsHandler

	mu       sync.Mutex
	handlers map[policy.ID]http.Handler
}

func (h *recordsByLoggedPolicy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		lawfulFail(w, http.StatusRequestEntityTooLarge, "the request body is too large")
		return
	}
	var req struct {
		Warrant []byte `json:"warrant"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		lawfulFail(w, http.StatusBadRequest, "the request body is not the expected JSON")
		return
	}
	ws, err := warrant.ParseSigned(req.Warrant)
	if err != nil {
		lawfulFail(w, http.StatusBadRequest, "warrant: "+err.Error())
		return
	}
	wt, err := warrant.Parse(ws.Body)
	if err != nil {
		lawfulFail(w, http.StatusBadRequest, "warrant: "+err.Error())
		return
	}
	next, err := h.handler(r, wt.PolicyID)
	if err != nil {
		lawfulFail(w, http.StatusForbidden, err.Error())
		return
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	next.ServeHTTP(w, r2)
}

func (h *recordsByLoggedPolicy) handler(r *http.Request, id policy.ID) (http.Handler, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hd, ok := h.handlers[id]; ok {
		return hd, nil
	}
	lc, err := tlog.NewClient(h.logDir, h.logPol, nil)
	if err != nil {
		return nil, err
	}
	cp, err := lc.Checkpoint(r.Context())
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	var found *policy.Verified
	errFound := errors.New("found")
	err = lc.Entries(r.Context(), cp, func(_ uint64, raw []byte) error {
		e, err := accesslog.ParseAs[*accesslog.Policy](raw)
		if err != nil || e.PolicyID != id {
			return nil
		}
		s, err := policy.ParseSigned(e.SignedPolicy)
		if err != nil {
			return nil
		}
		v, err := policy.Verify(s)
		if err != nil || !v.Provider.Equal(h.provider) {
			return nil
		}
		found = v
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("access log: %w", err)
	}
	if found == nil {
		return nil, fmt.Errorf("the warrant names policy %x, which this provider has not published in its access log", id[:6])
	}
	build := h.build
	if build == nil {
		build = server.WarrantRecordsHandler
	}
	hd, err := build(h.svc, found, time.Now)
	if err != nil {
		return nil, err
	}
	if h.handlers == nil {
		h.handlers = map[policy.ID]http.Handler{}
	}
	h.handlers[id] = hd
	return hd, nil
}

func lawfulFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg}})
}
