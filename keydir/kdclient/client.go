package kdclient

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
)

// Client verifies directory responses and remembers what it has seen: one
// root per epoch (to catch a split view) and a pin per contact (to catch a
// key change). Safe for concurrent use. Persist Pins and Roots between runs.
type Client struct {
	cfg   Config
	mu    sync.Mutex
	pins  map[string]Pin
	roots map[uint64][32]byte
	split map[uint64]bool // epochs seen with two roots: nothing anchored there is trusted
}

// Pin is what a client trusts about a contact after first use.
type Pin struct {
	Genesis [32]byte // the account's identity (its safety number)
	Version uint64
	Head    [32]byte
	Devices []account.Device // active devices at Version
}

func pinOf(st *account.State) Pin {
	return Pin{st.Genesis, st.Version, st.Head, st.Devices}
}

// NewClient returns a Client with no pins.
func NewClient(cfg Config) *Client {
	return &Client{cfg: cfg, pins: map[string]Pin{}, roots: map[uint64][32]byte{}, split: map[uint64]bool{}}
}

// Errors a caller branches on.
var (
	// ErrSplitView: the directory signed two different roots for one epoch.
	ErrSplitView = errors.New("kdclient: two different roots for the same epoch (split view)")
	// ErrRollback: the directory served an older version than one already seen.
	ErrRollback = errors.New("kdclient: directory served an older account version")
	// ErrNotRegistered: the directory proved the username is not registered.
	ErrNotRegistered = errors.New("kdclient: username not registered")
	// ErrKeyChangePending: the contact's safety number changed and the user
	// has not accepted it; nothing may be encrypted to the new devices.
	ErrKeyChangePending = errors.New("kdclient: contact's safety number changed; the user must verify it")
	// ErrUnverifiedDevice: a key that no verified device of the contact has.
	ErrUnverifiedDevice = errors.New("kdclient: key belongs to no verified device of the contact")
)

// NoteRoot records the root of an epoch seen anywhere (lookups, monitoring,
// gossip with other clients) and fails with ErrSplitView if a different
// root was seen for it before; from then on every response anchored at that
// epoch is refused.
func (c *Client) NoteRoot(h keydir.EpochHead) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.noteRootLocked(h)
}

func (c *Client) noteRootLocked(h keydir.EpochHead) error {
	if r, ok := c.roots[h.Epoch]; c.split[h.Epoch] || ok && r != h.Root {
		c.split[h.Epoch] = true
		return fmt.Errorf("%w: epoch %d", ErrSplitView, h.Epoch)
	}
	c.roots[h.Epoch] = h.Root
	return nil
}

// Roots returns the epoch roots seen, for gossip and persistence.
func (c *Client) Roots() map[uint64][32]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint64][32]byte, len(c.roots))
	for k, v := range c.roots {
		out[k] = v
	}
	return out
}

// Change says how a contact differs from its pin.
type Change int

const (
	FirstSeen           Change = iota // no pin yet: trust on first use
	Unchanged                         // same version as pinned
	DevicesChanged                    // the contact's own devices signed new versions
	SafetyNumberChanged               // a different chain: a new identity, or a swap
)

func (c Change) String() string {
	return [...]string{"first seen", "unchanged", "devices changed", "safety number changed"}[c]
}

// Contact is a verified contact, ready to encrypt to unless Change is
// SafetyNumberChanged and the user has not accepted it.
type Contact struct {
	Username string
	State    *account.State
	Epoch    uint64
	Change   Change
	Added    []account.Device   // devices new since the pin
	Removed  []account.DeviceID // devices gone since the pin
	accepted bool
}

// SafetyNumber is what users compare out of band.
func (ct *Contact) SafetyNumber() string { return ct.State.SafetyNumber() }

// Lookup verifies a lookup response for a contact and compares it with the
// contact's pin. An unverifiable response is an error (ErrUnverifiable),
// never a contact. A chain that does not extend the pinned one comes back
// with Change SafetyNumberChanged and is not pinned until AcceptChange.
func (c *Client) Lookup(r *keydir.LookupResponse) (*Contact, error) {
	l, err := c.cfg.VerifyLookup(r)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.noteRootLocked(l.Head); err != nil {
		return nil, err
	}
	if l.State == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotRegistered, r.Username)
	}
	st := l.State
	ct := &Contact{Username: st.Username, State: st, Epoch: l.Head.Epoch}
	pin, ok := c.pins[st.Username]
	switch {
	case !ok:
		ct.Change, ct.accepted = FirstSeen, true
		c.pins[st.Username] = pinOf(st)
		return ct, nil
	case pin.Genesis == st.Genesis && pin.Version > st.Version:
		return nil, fmt.Errorf("%w: %q version %d, pinned %d", ErrRollback, st.Username, st.Version, pin.Version)
	case pin.Genesis == st.Genesis && chainHas(r.Records, pin.Version, pin.Head):
		ct.accepted = true
		if pin.Version == st.Version {
			ct.Change = Unchanged
		} else {
			ct.Change = DevicesChanged
			ct.Added, ct.Removed = diff(pin.Devices, st)
			c.pins[st.Username] = pinOf(st)
		}
		return ct, nil
	default:
		ct.Change = SafetyNumberChanged
		ct.Added, ct.Removed = diff(pin.Devices, st)
		return ct, nil
	}
}

// AcceptChange pins a contact whose safety number changed, after the user
// verified it (or chose to trust it).
func (c *Client) AcceptChange(ct *Contact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pins[ct.Username] = pinOf(ct.State)
	ct.accepted = true
}

// Pins returns the pins, for persistence.
func (c *Client) Pins() map[string]Pin {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Pin, len(c.pins))
	for k, v := range c.pins {
		out[k] = v
	}
	return out
}

// SetPin restores a persisted pin.
func (c *Client) SetPin(username string, p Pin) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pins[username] = p
}

func chainHas(records [][]byte, version uint64, head [32]byte) bool {
	if version >= uint64(len(records)) {
		return false
	}
	r, err := account.ParseRecord(records[version])
	if err != nil {
		return false
	}
	h, err := r.Hash()
	return err == nil && h == head
}

func diff(old []account.Device, cur *account.State) (added []account.Device, removed []account.DeviceID) {
	find := func(id account.DeviceID) (account.Device, bool) {
		for _, d := range old {
			if d.ID == id {
				return d, true
			}
		}
		return account.Device{}, false
	}
	for _, d := range cur.Devices {
		if o, ok := find(d.ID); !ok || !bytes.Equal(o.SignatureKey, d.SignatureKey) {
			added = append(added, d)
		}
	}
	for _, d := range old {
		if _, ok := cur.Device(d.ID); !ok {
			removed = append(removed, d.ID)
		}
	}
	return added, removed
}

// EncryptionDevices returns the devices to encrypt to: the contact's
// verified, active devices. It refuses while a safety-number change is
// pending.
func (ct *Contact) EncryptionDevices() ([]account.Device, error) {
	if !ct.accepted {
		return nil, fmt.Errorf("%w: %q", ErrKeyChangePending, ct.Username)
	}
	return ct.State.Devices, nil
}

// CheckKeyPackage checks that an MLS KeyPackage's leaf signature key (and,
// if given, its credential) belong to a verified active device of the
// contact; a client adds a KeyPackage to a group only after this succeeds.
// It returns the device.
func (ct *Contact) CheckKeyPackage(signatureKey, credential []byte) (account.Device, error) {
	devs, err := ct.EncryptionDevices()
	if err != nil {
		return account.Device{}, err
	}
	for _, d := range devs {
		if bytes.Equal(d.KeyPackageKey, signatureKey) && (credential == nil || bytes.Equal(d.Credential, credential)) {
			return d, nil
		}
	}
	return account.Device{}, fmt.Errorf("%w: %q", ErrUnverifiedDevice, ct.Username)
}
