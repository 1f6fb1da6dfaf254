package kdclient

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/prefix"
)

// AlertKind names what monitoring found wrong with one's own account.
type AlertKind int

const (
	// AlertUnknownDevice: an active device the user never approved (a ghost).
	AlertUnknownDevice AlertKind = iota + 1
	// AlertUnsignedVersion: a version that no active device of the account
	// signed, or that breaks the chain.
	AlertUnsignedVersion
	// AlertForkedHistory: the chain no longer contains a version seen before.
	AlertForkedHistory
	// AlertUnexplainedCommitment: an epoch commits the account to a value
	// that matches no version the directory serves.
	AlertUnexplainedCommitment
	// AlertRollback: an epoch commits to an older version than a previous one.
	AlertRollback
	// AlertDisappeared: an epoch proves the registered account absent.
	AlertDisappeared
)

func (k AlertKind) String() string {
	return [...]string{"", "unknown device", "unsigned version", "forked history", "unexplained commitment", "rollback", "account disappeared"}[k]
}

// Alert is one finding, to show the user.
type Alert struct {
	Kind    AlertKind
	Epoch   uint64 // epoch where it was seen, 0 if not epoch-specific
	Version uint64
	Device  account.DeviceID
	Detail  string
}

func (a Alert) String() string {
	return fmt.Sprintf("%v (epoch %d, version %d): %s", a.Kind, a.Epoch, a.Version, a.Detail)
}

// Monitor is a client's view of its own account. Persist it between runs.
type Monitor struct {
	Username string
	// Known holds the devices the user added or approved, by id, with their
	// signature keys.
	Known map[account.DeviceID][]byte
	// Epoch is the last epoch checked; fetch History since Epoch.
	Epoch uint64
	// Root is the root of Epoch.
	Root [32]byte
	// Version and Head are the latest version seen committed.
	Version uint64
	Head    [32]byte
	Present bool
}

// NewMonitor starts monitoring username, whose devices so far are own.
func NewMonitor(username string, own ...account.Device) *Monitor {
	m := &Monitor{Username: username, Known: map[account.DeviceID][]byte{}}
	for _, d := range own {
		m.Approve(d)
	}
	return m
}

// Approve records a device the user added (for example, linked by scanning
// a code on one of its devices).
func (m *Monitor) Approve(d account.Device) { m.Known[d.ID] = bytes.Clone(d.SignatureKey) }

// Sync verifies a history response for m's account and advances m. Proof
// failures are errors (ErrUnverifiable, ErrSplitView) and leave m as it was;
// everything the proofs show that the user did not do comes back as alerts.
func (c *Client) Sync(m *Monitor, r *keydir.HistoryResponse) ([]Alert, error) {
	if r.Username != m.Username {
		return nil, unverifiable("history is for %q", r.Username)
	}
	if r.FirstVersion != 0 {
		return nil, unverifiable("history starts at version %d (Complete it with the versions held)", r.FirstVersion)
	}
	cp, err := c.cfg.Checkpoints.VerifyCheckpoint(r.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnverifiable, err)
	}
	label, err := keydir.VerifyLabel(c.cfg.VRFKey, r.Username, r.VRFProof)
	if err != nil {
		return nil, unverifiable("%v", err)
	}
	var alerts []Alert
	// The chain: verify as far as it verifies; past that, every version is
	// one the account's devices did not sign.
	commits := make([][32]byte, len(r.Records))
	states := []*account.State{}
	var st *account.State
	for i, b := range r.Records {
		rec, err := account.ParseRecord(b)
		if err != nil {
			return nil, unverifiable("record %d: %v", i, err)
		}
		h, err := rec.Hash()
		if err != nil {
			return nil, unverifiable("record %d: %v", i, err)
		}
		commits[i] = keydir.Commitment(r.Openings[i], h)
		if len(states) < i {
			continue // after a bad version
		}
		if rec.Username != m.Username || rec.Version != uint64(i) {
			return nil, unverifiable("record %d is not version %d of %q", i, i, m.Username)
		}
		if i == 0 {
			st, err = account.Genesis(rec)
		} else {
			st, err = st.Apply(rec)
		}
		if err != nil {
			alerts = append(alerts, Alert{Kind: AlertUnsignedVersion, Version: uint64(i), Detail: err.Error()})
			continue
		}
		states = append(states, st)
	}
	if m.Present && (m.Version >= uint64(len(states)) || states[m.Version].Head != m.Head) {
		alerts = append(alerts, Alert{Kind: AlertForkedHistory, Version: m.Version, Detail: "the served chain does not contain the version seen before"})
	}
	// Every device that was ever active, even briefly, must be one the user
	// added: a ghost added and revoked between two syncs still shows.
	reported := map[account.DeviceID]bool{}
	for _, s := range states {
		for _, d := range s.Devices {
			if k, ok := m.Known[d.ID]; (!ok || !bytes.Equal(k, d.SignatureKey)) && !reported[d.ID] {
				reported[d.ID] = true
				alerts = append(alerts, Alert{Kind: AlertUnknownDevice, Version: s.Version, Device: d.ID, Detail: fmt.Sprintf("device %x was not added by you", d.ID[:4])})
			}
		}
	}
	// The epochs.
	next := *m
	seenRoots := map[uint64][32]byte{}
	for i := range r.Epochs {
		e := &r.Epochs[i]
		h, err := c.cfg.verifyHead(cp, &e.HeadProof)
		if err != nil {
			return nil, err
		}
		if h.Epoch != next.Epoch+1 {
			return nil, unverifiable("epoch %d where %d was due", h.Epoch, next.Epoch+1)
		}
		c.mu.Lock()
		seen, ok := c.roots[h.Epoch]
		split := c.split[h.Epoch] || ok && seen != h.Root
		if split {
			c.split[h.Epoch] = true
		}
		c.mu.Unlock()
		if split {
			return nil, fmt.Errorf("%w: epoch %d", ErrSplitView, h.Epoch)
		}
		seenRoots[h.Epoch] = h.Root
		if e.TreeProof == nil {
			if next.Epoch == 0 || h.Root != next.Root {
				return nil, unverifiable("epoch %d omits its proof but its root changed", h.Epoch)
			}
			next.Epoch, next.Root = h.Epoch, h.Root
			continue
		}
		next.Epoch, next.Root = h.Epoch, h.Root
		if e.TreeProof.Terminal != prefix.TerminalMember {
			if err := prefix.Verify(h.Root, label, nil, e.TreeProof); err != nil {
				return nil, unverifiable("epoch %d absence: %v", h.Epoch, err)
			}
			if next.Present {
				alerts = append(alerts, Alert{Kind: AlertDisappeared, Epoch: h.Epoch})
			}
			continue
		}
		found := -1
		for v := range commits {
			if prefix.Verify(h.Root, label, &commits[v], e.TreeProof) == nil {
				found = v
				break
			}
		}
		switch {
		case found < 0:
			alerts = append(alerts, Alert{Kind: AlertUnexplainedCommitment, Epoch: h.Epoch, Detail: "the epoch commits to a version the directory does not show"})
		case found >= len(states):
			alerts = append(alerts, Alert{Kind: AlertUnsignedVersion, Epoch: h.Epoch, Version: uint64(found), Detail: "the epoch serves a version your devices did not sign"})
		case next.Present && uint64(found) < next.Version:
			alerts = append(alerts, Alert{Kind: AlertRollback, Epoch: h.Epoch, Version: uint64(found)})
		default:
			next.Present, next.Version, next.Head = true, uint64(found), states[found].Head
		}
	}
	c.mu.Lock()
	for e, root := range seenRoots {
		c.roots[e] = root
	}
	c.mu.Unlock()
	*m = next
	return alerts, nil
}

// Complete prepends to a history answered from version r.FirstVersion on
// (kdhttp.Client.HistoryFrom) the versions and openings a monitor kept from
// its earlier syncs. It reports false, and changes nothing, when the answer
// does not start right after them (the account has fewer versions than the
// monitor holds: ask again for the whole chain, and Sync shows what
// happened). Sync then verifies the whole chain as usual: versions that do
// not extend the held ones are alerts, not silently accepted.
func Complete(r *keydir.HistoryResponse, held [][]byte, heldOpenings [][32]byte) bool {
	if r.FirstVersion != uint64(len(held)) || len(held) != len(heldOpenings) {
		return false
	}
	r.Records = append(slices.Clone(held), r.Records...)
	r.Openings = append(slices.Clone(heldOpenings), r.Openings...)
	r.FirstVersion = 0
	return true
}
