package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

// Own-account monitoring (keydir/kdclient.Monitor): this device keeps the
// set of devices it knows to be the account's own (itself, the devices it
// approved, and the account's devices when it was linked) and, against the
// pinned key directory (client/pin.go), checks the account's history in
// every epoch since the last check: a device it does not know, a version no
// device signed, a forked or rolled-back history are alerts.

type monitorRecord struct {
	Known   []knownDevice `json:"known"`
	Epoch   uint64        `json:"epoch"`
	Root    [32]byte      `json:"root"`
	Version uint64        `json:"version"`
	Head    [32]byte      `json:"head"`
	Present bool          `json:"present"`
	// Records and Openings are the account's versions as of the last
	// sync: the next one asks only for the versions after them.
	Records  [][]byte   `json:"records,omitempty"`
	Openings [][32]byte `json:"openings,omitempty"`
}

type knownDevice struct {
	ID  []byte `json:"id"`
	Key []byte `json:"key"`
}

func (c *Client) knowDevice(pub ed25519.PublicKey) {
	if c.prof.Monitor == nil {
		c.prof.Monitor = &monitorRecord{}
	}
	id := accountDeviceID(pub)
	for _, k := range c.prof.Monitor.Known {
		if string(k.ID) == string(id[:]) {
			return
		}
	}
	c.prof.Monitor.Known = append(c.prof.Monitor.Known, knownDevice{ID: id[:], Key: pub})
}

func (c *Client) monitor() *kdclient.Monitor {
	m := kdclient.NewMonitor(c.prof.Username)
	if r := c.prof.Monitor; r != nil {
		for _, k := range r.Known {
			var id account.DeviceID
			copy(id[:], k.ID)
			m.Known[id] = k.Key
		}
		m.Epoch, m.Root, m.Version, m.Head, m.Present = r.Epoch, r.Root, r.Version, r.Head, r.Present
	}
	return m
}

// Alert is one finding of own-account monitoring.
type Alert struct {
	Kind    string `json:"kind"`
	Epoch   uint64 `json:"epoch"`
	Version uint64 `json:"version"`
	Detail  string `json:"detail"`
}

// ErrNoKeyDirTrust reports a check that needs a key directory when none is
// pinned and the server publishes none.
var ErrNoKeyDirTrust = errors.New("client: the key directory is not pinned and the server publishes none (hint: pass --keydir-trust FILE)")

// MonitorAccount checks this account's key-directory history since the last
// check and returns what it shows that no known device did. The monitor's
// progress is durable when it returns.
func (c *Client) MonitorAccount(ctx context.Context) ([]Alert, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return nil, err
	}
	trust, err := c.kdConfig(ctx)
	if err != nil {
		return nil, err
	}
	if trust == nil {
		return nil, ErrNoKeyDirTrust
	}
	m := c.monitor()
	var held [][]byte
	var heldOpenings [][32]byte
	if r := c.prof.Monitor; r != nil {
		held, heldOpenings = r.Records, r.Openings
	}
	// Only the versions after the ones held; the whole chain if the
	// answer does not continue them (or the server cannot leave them out).
	h, err := c.keydirClient().HistoryFrom(ctx, c.prof.Username, m.Epoch, uint64(len(held)))
	if err != nil || !kdclient.Complete(h, held, heldOpenings) {
		h, err = c.keydirClient().History(ctx, c.prof.Username, m.Epoch)
	}
	if err != nil {
		return nil, fmt.Errorf("client: key directory history: %w", err)
	}
	as, err := kdclient.NewClient(*trust).Sync(m, h)
	if err != nil {
		return nil, fmt.Errorf("client: key directory history does not verify: %w", c.explainRefusal(ctx, err))
	}
	out := []Alert{}
	for _, a := range as {
		out = append(out, Alert{Kind: a.Kind.String(), Epoch: a.Epoch, Version: a.Version, Detail: a.Detail})
	}
	r := c.prof.Monitor
	if r == nil {
		r = &monitorRecord{}
		c.prof.Monitor = r
	}
	r.Epoch, r.Root, r.Version, r.Head, r.Present = m.Epoch, m.Root, m.Version, m.Head, m.Present
	r.Records, r.Openings = h.Records, h.Openings
	if err := c.saveProfile(); err != nil {
		return nil, err
	}
	return out, c.st.Commit()
}
