// Package client is the daylight client library: one device's account,
// contacts, MLS groups, messages and attachments, on top of
// client/transport (the server API), mls/group (the MLS engine) and
// client/localstore (the encrypted local store).
//
// Every device is its own MLS leaf, with the credential identity
// ds.Identity(username, deviceID) and its registered Ed25519 key as the leaf
// signature key; a message to a user reaches all of that user's devices
// because all of them are members of the group.
//
// A Client is safe for concurrent use; its methods serialize on one mutex.
// Every method that changes state returns only after the local store is
// durable (localstore.Store.Commit); the server queue is acked only after
// that.
package client

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/client/localstore"
	"github.com/daylight-im/daylight/client/transport"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/policy"
)

// Sentinel errors callers branch on.
var (
	ErrNotRegistered     = errors.New("client: this profile has no device yet (hint: run `daylight register` or `daylight link`)")
	ErrAlreadyRegistered = errors.New("client: this profile already holds a device (hint: use another --home)")
	ErrUnknownGroup      = errors.New("client: unknown group (hint: `daylight group list`)")
	ErrNotMember         = errors.New("client: this device is no longer a member of the group")
	ErrUnknownMessage    = errors.New("client: unknown message id (hint: `daylight history GROUP`)")
)

// Config configures Open.
type Config struct {
	// Home is the profile directory (the local store lives there).
	Home string
	// Key opens the local store (a passphrase or a key file's key).
	Key localstore.Key
	// ServerURL is the daylightd base URL; required before Register/Link,
	// remembered afterwards (a non-empty value overrides the stored one).
	ServerURL string
	// TLS for https servers (e.g. the dev certificate in RootCAs).
	TLS *tls.Config
	// HTTPClient, if set, is used for every request.
	HTTPClient *http.Client
	// Now is the clock; default time.Now. Rand the randomness; default crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// KeyPackages is how many one-time KeyPackages to keep on the server (default 10).
	KeyPackages int
	// KeyDirTrust, if set, pins the key directory (its head-signing key,
	// VRF key and the access log's witness policy): contact lookups are then
	// fully verified with keydir/kdclient (proofs, split views, pins).
	// Without it only the account chain's signatures are checked.
	KeyDirTrust *kdclient.Config
	// Escrow, if set, makes this client escrow each epoch of its groups
	// under that policy before sending in it (client/escrow.go). Nil: no
	// escrow (a "no escrow" deployment, or a non-compliant client).
	Escrow *EscrowPolicy
}

// profile is the device's own record ("profile" in the store).
type profile struct {
	Server     string             `json:"server"`
	Username   string             `json:"username"`
	DeviceID   api.DeviceID       `json:"device_id"`
	DeviceName string             `json:"device_name"`
	SigningKey ed25519.PrivateKey `json:"signing_key"`
	Cursor     uint64             `json:"cursor"`
	// Chain is this account's key-directory chain as far as this device
	// knows it (encoded account.Records); Approved the keys of devices this
	// device approved whose Add record is not published yet.
	Chain    [][]byte            `json:"chain,omitempty"`
	Approved []ed25519.PublicKey `json:"approved,omitempty"`
	// Monitor is the own-account monitor's state (monitor.go).
	Monitor *monitorRecord `json:"monitor,omitempty"`
}

// Client is one device's client.
type Client struct {
	mu  sync.Mutex
	cfg Config
	// claimed, set only by tests (export_test.go), makes this client claim a
	// policy in the groups it creates and accept it without escrowing under
	// it: the non-compliant member of the T8/T9 attack tests.
	claimed   *policy.GroupPolicy
	st        *localstore.Store
	prof      *profile
	tr        *transport.Client
	groups    map[string]*groupState // loaded groups by hex id
	kdHTTP    *http.Client           // key directory requests
	pinNotice string                 // what kdConfig pinned on first contact (client/pin.go)
}

// Open opens (or creates) the profile in cfg.Home.
func Open(cfg Config) (*Client, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = cryptoReader
	}
	if cfg.HTTPClient == nil {
		// TLS randomness must not come from crypto/rand.Reader while
		// withDeterministicHPKE has swapped it.
		t := &tls.Config{}
		if cfg.TLS != nil {
			t = cfg.TLS.Clone()
		}
		if t.Rand == nil {
			t.Rand = cryptoReader
		}
		cfg.TLS = t
	}
	if cfg.KeyPackages <= 0 {
		cfg.KeyPackages = 10
	}
	st, err := localstore.Open(cfg.Home, cfg.Key)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, st: st, groups: map[string]*groupState{}}
	if b, ok := st.Get("profile"); ok {
		c.prof = new(profile)
		if err := json.Unmarshal(b, c.prof); err != nil {
			st.Close()
			return nil, fmt.Errorf("client: profile record: %w", err)
		}
		if cfg.ServerURL != "" {
			c.prof.Server = cfg.ServerURL
		}
		if err := c.dial(c.prof.Server); err != nil {
			st.Close()
			return nil, err
		}
		c.tr.SetIdentity(c.prof.Username, c.prof.DeviceID, c.prof.SigningKey)
	}
	return c, nil
}

// Close releases the local store.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Close()
}

func (c *Client) dial(url string) error {
	if url == "" {
		return errors.New("client: no server URL (hint: pass --server https://HOST:PORT)")
	}
	tr, err := transport.New(transport.Config{BaseURL: url, TLS: c.cfg.TLS, HTTPClient: c.cfg.HTTPClient, Now: c.cfg.Now})
	if err != nil {
		return err
	}
	c.tr = tr
	return nil
}

// Identity describes this device.
type Identity struct {
	Username   string       `json:"username"`
	DeviceID   api.DeviceID `json:"device_id"`
	DeviceName string       `json:"device_name"`
	Server     string       `json:"server"`
	SigningKey []byte       `json:"signing_key"`      // Ed25519 public key
	KeyDir     string       `json:"keydir,omitempty"` // what Register did in the key directory
}

// Whoami returns this device's identity.
func (c *Client) Whoami() (Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof == nil {
		return Identity{}, ErrNotRegistered
	}
	return c.identity(), nil
}

func (c *Client) identity() Identity {
	return Identity{Username: c.prof.Username, DeviceID: c.prof.DeviceID, DeviceName: c.prof.DeviceName,
		Server: c.prof.Server, SigningKey: c.prof.SigningKey.Public().(ed25519.PublicKey)}
}

func (c *Client) mlsIdentity() []byte {
	return ds.Identity(c.prof.Username, ds.DeviceID(c.prof.DeviceID))
}

func (c *Client) saveProfile() error {
	b, err := json.Marshal(c.prof)
	if err != nil {
		return err
	}
	c.st.Put("profile", b)
	return nil
}

// Register creates username on the server with this profile's first device,
// then uploads KeyPackages. The device key is generated here and never
// leaves the local store.
func (c *Client) Register(ctx context.Context, username, deviceName string) (Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof != nil {
		return Identity{}, ErrAlreadyRegistered
	}
	if err := c.dial(c.cfg.ServerURL); err != nil {
		return Identity{}, err
	}
	_, sk, err := ed25519.GenerateKey(c.cfg.Rand)
	if err != nil {
		return Identity{}, err
	}
	dev, err := c.tr.Register(ctx, username, deviceName, sk)
	if err != nil {
		return Identity{}, err
	}
	id, err := c.finishEnrol(ctx, dev, sk)
	if err != nil {
		return id, err
	}
	id.KeyDir = c.publishRegistration(ctx)
	if err := c.saveProfile(); err != nil {
		return id, err
	}
	return id, c.st.Commit()
}

// LinkRequest is what a new device shows the approving device: its key.
// Approve it with Client.ApproveLink on an existing device; the approval
// travels back out of band.
func NewLinkKey(r io.Reader) (ed25519.PrivateKey, error) {
	if r == nil {
		r = cryptoReader
	}
	_, sk, err := ed25519.GenerateKey(r)
	return sk, err
}

// ApproveLink is run on an existing device: it authorises newKey as a new
// device named deviceName of this account and returns the approval to hand
// to the new device.
func (c *Client) ApproveLink(deviceName string, newKey ed25519.PublicKey) (approver api.DeviceID, approval []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof == nil {
		return 0, nil, ErrNotRegistered
	}
	c.prof.Approved = append(c.prof.Approved, newKey)
	c.knowDevice(newKey)
	if err := c.saveProfile(); err != nil {
		return 0, nil, err
	}
	if err := c.st.Commit(); err != nil {
		return 0, nil, err
	}
	return c.prof.DeviceID, transport.LinkApproval(c.prof.SigningKey, c.prof.Username, c.prof.DeviceID, deviceName, newKey), nil
}

// Link enrols this (empty) profile as a new device of username, with key
// and an approval from an existing device (ApproveLink).
func (c *Client) Link(ctx context.Context, username, deviceName string, key ed25519.PrivateKey, approver api.DeviceID, approval []byte) (Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof != nil {
		return Identity{}, ErrAlreadyRegistered
	}
	if err := c.dial(c.cfg.ServerURL); err != nil {
		return Identity{}, err
	}
	dev, err := c.tr.LinkDevice(ctx, username, deviceName, key, approver, approval)
	if err != nil {
		return Identity{}, err
	}
	return c.finishEnrol(ctx, dev, key)
}

func (c *Client) finishEnrol(ctx context.Context, dev api.Device, sk ed25519.PrivateKey) (Identity, error) {
	c.prof = &profile{Server: c.cfg.ServerURL, Username: dev.Username, DeviceID: dev.ID, DeviceName: dev.Name, SigningKey: sk}
	c.knowDevice(sk.Public().(ed25519.PublicKey))
	if err := c.saveProfile(); err != nil {
		return Identity{}, err
	}
	if err := c.st.Commit(); err != nil {
		return Identity{}, err
	}
	if err := c.replenishKeyPackages(ctx); err != nil {
		return c.identity(), fmt.Errorf("client: registered, but uploading KeyPackages failed (run `daylight sync` to retry): %w", err)
	}
	return c.identity(), nil
}

// replenishKeyPackages tops the server's one-time KeyPackages up to
// cfg.KeyPackages. Private keys are durable before the upload.
func (c *Client) replenishKeyPackages(ctx context.Context) error {
	n, err := c.tr.KeyPackageCount(ctx)
	if err != nil {
		return err
	}
	if n >= c.cfg.KeyPackages {
		return nil
	}
	var msgs [][]byte
	for range c.cfg.KeyPackages - n {
		kp, err := c.newKeyPackage()
		if err != nil {
			return err
		}
		ref, err := kp.Ref()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(kpRecord{Message: kp.Message, InitPriv: kp.InitPriv, EncryptionPriv: kp.EncryptionPriv, SignaturePriv: kp.SignaturePriv})
		c.st.Put("kp/"+hex.EncodeToString(ref), b)
		msgs = append(msgs, kp.Message)
	}
	if err := c.st.Commit(); err != nil {
		return err
	}
	return c.tr.UploadKeyPackages(ctx, msgs)
}

// newKeyPackage creates a KeyPackage whose leaf signature key is the device
// key. mls/group.NewKeyPackage draws a fresh signature key from Config.Rand
// first; the device's Ed25519 seed is fed as those first bytes (adapter until
// mls/group takes a signer), and the result is checked.
func (c *Client) newKeyPackage() (*group.KeyPackageBundle, error) {
	cfg := group.Config{Rand: io.MultiReader(bytesReader(c.prof.SigningKey.Seed()), c.cfg.Rand), Now: c.cfg.Now,
		ExtensionTypes: []uint16{policy.ExtensionType}} // client/policyctx.go
	kp, err := group.NewKeyPackage(cfg, cipherSuite, c.mlsIdentity())
	if err != nil {
		return nil, err
	}
	if !slices.Equal(kp.SignaturePriv, []byte(c.prof.SigningKey)) && !slices.Equal(kp.SignaturePriv, c.prof.SigningKey.Seed()) {
		return nil, errors.New("client: KeyPackage leaf key is not the device key (mls/group changed how it draws keys)")
	}
	return kp, nil
}

// Device is a device of an account, as the server lists it.
type Device struct {
	ID         api.DeviceID `json:"id"`
	Name       string       `json:"name"`
	SigningKey []byte       `json:"signing_key"`
	Created    time.Time    `json:"created"`
	Revoked    bool         `json:"revoked,omitempty"`
	This       bool         `json:"this,omitempty"`
	// KeyDir is, for this account's own devices, what the key directory's
	// account chain says: "signed" (a device of the account added it),
	// "pending" (approved here, not published yet), "UNSIGNED" (no device
	// of the account added it: a ghost device) or "" (no directory).
	KeyDir string `json:"keydir,omitempty"`
}

// Devices lists username's devices (this account's when username is "").
func (c *Client) Devices(ctx context.Context, username string) ([]Device, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof == nil {
		return nil, ErrNotRegistered
	}
	if username == "" {
		username = c.prof.Username
	}
	devs, err := c.devices(ctx, username)
	if err != nil || username != c.prof.Username {
		return devs, err
	}
	c.markOwnDevices(ctx, devs)
	return devs, nil
}

func (c *Client) devices(ctx context.Context, username string) ([]Device, error) {
	ds, err := c.tr.Devices(ctx, username)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(ds))
	for _, d := range ds {
		out = append(out, Device{ID: d.ID, Name: d.Name, SigningKey: d.SigningKey, Created: d.Created,
			Revoked: d.Revoked != nil, This: username == c.prof.Username && d.ID == c.prof.DeviceID})
	}
	return out, nil
}

// RevokeDevice revokes one of this account's devices.
func (c *Client) RevokeDevice(ctx context.Context, id api.DeviceID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof == nil {
		return ErrNotRegistered
	}
	return c.tr.RevokeDevice(ctx, id)
}

type bytesReaderT struct{ b []byte }

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &bytesReaderT{b: slices.Clone(b)} }
