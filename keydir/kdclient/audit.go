package kdclient

import (
	"fmt"

	"github.com/daylight-im/daylight/keydir"
)

// Auditor reads the access log's entries in order (from its tiles) and
// checks the directory's heads: each validly signed, epochs consecutive,
// and never two different heads for one epoch. A head logged twice with the
// same bytes (a re-append after a crash) is allowed.
type Auditor struct {
	cfg   Config
	heads map[uint64]keydir.EpochHead
	last  uint64
}

// NewAuditor returns an Auditor for the directory in cfg.
func NewAuditor(cfg Config) *Auditor {
	return &Auditor{cfg: cfg, heads: map[uint64]keydir.EpochHead{}}
}

// Add checks the next log entry; entries of other types are skipped.
func (a *Auditor) Add(entry []byte) error {
	h, err := a.cfg.decode(entry)
	if err != nil {
		return nil // not a key directory entry
	}
	if err := keydir.VerifyHead(a.cfg.DirectoryKey, &h); err != nil {
		return fmt.Errorf("kdclient: audit: %w", err)
	}
	if old, ok := a.heads[h.Epoch]; ok {
		if old.Equal(&h) {
			return nil
		}
		return fmt.Errorf("%w: the log holds two heads for epoch %d", ErrSplitView, h.Epoch)
	}
	if h.Epoch != a.last+1 {
		return fmt.Errorf("kdclient: audit: epoch %d logged after epoch %d", h.Epoch, a.last)
	}
	a.heads[h.Epoch], a.last = h, h.Epoch
	return nil
}

// Head returns the head the log holds for epoch.
func (a *Auditor) Head(epoch uint64) (keydir.EpochHead, bool) {
	h, ok := a.heads[epoch]
	return h, ok
}
