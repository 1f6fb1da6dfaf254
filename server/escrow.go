package server

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
)

// escrowUpload implements api.RouteEscrowUpload: the body is one escrow
// record (application/octet-stream), checked by ds.Service.PutEscrowRecord.
func (s *Server) escrowUpload(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	if mt := mediaType(r); mt != api.MediaBinary {
		return fmt.Errorf("Content-Type %q, want %s: %w", r.Header.Get("Content-Type"), api.MediaBinary, errMedia)
	}
	b, err := readBody(w, r, int64(s.svc.Config().MaxMessageBytes))
	if err != nil {
		return err
	}
	rc, err := s.svc.PutEscrowRecord(r.Context(), p, b)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if rc.Created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, api.EscrowReceipt{ID: rc.ID[:], Epoch: rc.Epoch, Created: rc.Created})
}

// escrowList implements api.RouteEscrowList.
func (s *Server) escrowList(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	id, err := pathGroup(r)
	if err != nil {
		return err
	}
	epoch, err := strconv.ParseUint(r.PathValue("epoch"), 10, 64)
	if err != nil {
		return fmt.Errorf("epoch %q: %w", r.PathValue("epoch"), errBadParam)
	}
	idsOnly := false
	switch v := r.URL.Query().Get("ids"); v {
	case "":
	case "1":
		idsOnly = true
	default:
		return fmt.Errorf("ids %q (want 1, or leave it out): %w", v, errBadParam)
	}
	cs, err := s.svc.EscrowRecords(r.Context(), p, id, epoch)
	if err != nil {
		return err
	}
	out := api.EscrowCandidates{Candidates: make([]api.EscrowCandidate, 0, len(cs))}
	for _, c := range cs {
		ups := make([]api.DeviceID, 0, len(c.Uploaders))
		for _, u := range c.Uploaders {
			ups = append(ups, api.DeviceID(u))
		}
		ec := api.EscrowCandidate{ID: c.ID[:], Record: c.Record, Uploaders: ups, FirstMs: c.First.UnixMilli()}
		if idsOnly {
			ec.Record = nil
		}
		out.Candidates = append(out.Candidates, ec)
	}
	return writeJSON(w, http.StatusOK, out)
}

// epochStatement implements api.RouteEpochStatement.
func (s *Server) epochStatement(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	if mt := mediaType(r); mt != api.MediaBinary {
		return fmt.Errorf("Content-Type %q, want %s: %w", r.Header.Get("Content-Type"), api.MediaBinary, errMedia)
	}
	b, err := readBody(w, r, int64(s.svc.Config().MaxMessageBytes))
	if err != nil {
		return err
	}
	if err := s.svc.PutEpochStatement(r.Context(), p, b); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// epochEvidence implements api.RouteEpochEvidence.
func (s *Server) epochEvidence(w http.ResponseWriter, r *http.Request, p ds.Principal) error {
	id, err := pathGroup(r)
	if err != nil {
		return err
	}
	epoch, err := strconv.ParseUint(r.PathValue("epoch"), 10, 64)
	if err != nil {
		return fmt.Errorf("epoch %q: %w", r.PathValue("epoch"), errBadParam)
	}
	ev, err := s.svc.EpochEvidence(r.Context(), p, id, epoch)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.EpochEvidence{Evidence: ev})
}
