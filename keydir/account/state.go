package account

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
)

// State is a verified account: the device list after a chain of records,
// each of which was signed by a device of its predecessor. Only Verify and
// Apply create one.
type State struct {
	Username string
	Version  uint64
	Head     [32]byte // Hash of the latest record
	Genesis  [32]byte // Hash of version 0: the account's identity
	Time     uint64
	Devices  []Device // active devices, in the order they were added
	revoked  map[DeviceID]bool
}

// Errors of chain verification; wrapped with details.
var (
	ErrBadSignature = errors.New("keydir/account: record not signed by an active device of the previous version")
	ErrBadChain     = errors.New("keydir/account: record does not extend the chain")
	ErrBadChange    = errors.New("keydir/account: invalid device change")
)

// Device returns the active device with id.
func (s *State) Device(id DeviceID) (Device, bool) {
	for _, d := range s.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return Device{}, false
}

// Revoked reports whether id was revoked in this chain.
func (s *State) Revoked(id DeviceID) bool { return s.revoked[id] }

// Verify checks a whole chain, from version 0, and returns its state.
func Verify(chain []*Record) (*State, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: empty chain", ErrBadChain)
	}
	s, err := Genesis(chain[0])
	if err != nil {
		return nil, err
	}
	for _, r := range chain[1:] {
		if s, err = s.Apply(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Genesis verifies a registration record (version 0, self-signed).
func Genesis(r *Record) (*State, error) {
	if r.Version != 0 || r.Op != OpRegister || r.Prev != ([32]byte{}) {
		return nil, fmt.Errorf("%w: version 0 must register with a zero prev", ErrBadChain)
	}
	if r.Signer != r.Device.ID {
		return nil, fmt.Errorf("%w: registration not self-signed", ErrBadSignature)
	}
	if err := verifySig(r, r.Device.SignatureKey); err != nil {
		return nil, err
	}
	h, err := r.Hash()
	if err != nil {
		return nil, err
	}
	return &State{
		Username: r.Username, Version: 0, Head: h, Genesis: h, Time: r.Time,
		Devices: []Device{cloneDevice(r.Device)}, revoked: map[DeviceID]bool{},
	}, nil
}

func verifySig(r *Record, key ed25519.PublicKey) error {
	m, err := r.signedMessage()
	if err != nil {
		return err
	}
	if len(key) != ed25519.PublicKeySize || len(r.Signature) != ed25519.SignatureSize || !ed25519.Verify(key, m, r.Signature) {
		return fmt.Errorf("%w: version %d", ErrBadSignature, r.Version)
	}
	return nil
}

// Apply verifies r as the next version of s and returns the new state; s is
// unchanged.
func (s *State) Apply(r *Record) (*State, error) {
	if r.Username != s.Username {
		return nil, fmt.Errorf("%w: username %q, want %q", ErrBadChain, r.Username, s.Username)
	}
	if r.Version != s.Version+1 || r.Prev != s.Head {
		return nil, fmt.Errorf("%w: version %d does not follow version %d", ErrBadChain, r.Version, s.Version)
	}
	if r.Time < s.Time {
		return nil, fmt.Errorf("%w: version %d goes back in time", ErrBadChain, r.Version)
	}
	signer, ok := s.Device(r.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: version %d signer %x is not an active device", ErrBadSignature, r.Version, r.Signer[:4])
	}
	if err := verifySig(r, signer.SignatureKey); err != nil {
		return nil, err
	}
	n := &State{Username: s.Username, Version: r.Version, Genesis: s.Genesis, Time: r.Time,
		Devices: slices.Clone(s.Devices), revoked: make(map[DeviceID]bool, len(s.revoked)+1)}
	for k := range s.revoked {
		n.revoked[k] = true
	}
	switch r.Op {
	case OpAdd:
		if _, dup := s.Device(r.Device.ID); dup || s.revoked[r.Device.ID] {
			return nil, fmt.Errorf("%w: device id %x already used", ErrBadChange, r.Device.ID[:4])
		}
		n.Devices = append(n.Devices, cloneDevice(r.Device))
	case OpRevoke:
		i := slices.IndexFunc(n.Devices, func(d Device) bool { return d.ID == r.Revoked })
		if i < 0 {
			return nil, fmt.Errorf("%w: revoked device %x is not active", ErrBadChange, r.Revoked[:4])
		}
		if len(n.Devices) == 1 {
			return nil, fmt.Errorf("%w: cannot revoke the last device", ErrBadChange)
		}
		n.Devices = slices.Delete(n.Devices, i, i+1)
		n.revoked[r.Revoked] = true
	default:
		return nil, fmt.Errorf("%w: op %v after version 0", ErrBadChange, r.Op)
	}
	h, err := r.Hash()
	if err != nil {
		return nil, err
	}
	n.Head = h
	return n, nil
}

func cloneDevice(d Device) Device {
	d.SignatureKey = slices.Clone(d.SignatureKey)
	d.Credential = slices.Clone(d.Credential)
	d.KeyPackageKey = slices.Clone(d.KeyPackageKey)
	return d
}

// SafetyNumber returns the account identity shown to users for comparison:
// 60 decimal digits derived from the genesis record hash. It changes only if
// the account's chain is replaced, not when its own devices add or revoke
// devices (those are shown as device changes).
func (s *State) SafetyNumber() string {
	h := sha256.Sum256(append([]byte("daylight/keydir/safety-number/v1\x00"), s.Genesis[:]...))
	out := make([]byte, 0, 71)
	for i := range 12 {
		chunk := uint64(h[i*2])<<16 | uint64(h[i*2+1])<<8 | uint64(h[24+i%8])
		if i > 0 {
			out = append(out, ' ')
		}
		out = fmt.Appendf(out, "%05d", chunk%100000)
	}
	return string(out)
}

// NewRegistration returns version 0 of an account, signed by its first device.
func NewRegistration(username string, d Device, priv ed25519.PrivateKey, now uint64) (*Record, error) {
	r := &Record{Username: username, Version: 0, Op: OpRegister, Device: d, Time: now}
	return r, r.Sign(d.ID, priv)
}

// NewAdd returns the next version of s adding d, signed by device signer.
func (s *State) NewAdd(d Device, signer DeviceID, priv ed25519.PrivateKey, now uint64) (*Record, error) {
	r := &Record{Username: s.Username, Version: s.Version + 1, Prev: s.Head, Op: OpAdd, Device: d, Time: max(now, s.Time)}
	return r, r.Sign(signer, priv)
}

// NewRevoke returns the next version of s revoking id, signed by device signer.
func (s *State) NewRevoke(id, signer DeviceID, priv ed25519.PrivateKey, now uint64) (*Record, error) {
	r := &Record{Username: s.Username, Version: s.Version + 1, Prev: s.Head, Op: OpRevoke, Revoked: id, Time: max(now, s.Time)}
	return r, r.Sign(signer, priv)
}
