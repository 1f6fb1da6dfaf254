package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/keydir"
	"github.com/daylight-im/daylight/keydir/account"
	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
	"github.com/daylight-im/daylight/mls/wire"
)

// Key directory (keydir): when the server mounts /keydir/, the client
// publishes its account as device-signed records (keydir/account):
// version 0 at Register, signed by the first device; an Add record at each
// link, signed by the approving device and carried in the approval.
//
// Every answer of the directory is verified by keydir/kdclient against the
// pins (client/pin.go: trust on first use of what the server publishes, or
// Config.KeyDirTrust given out of band): the checkpoint under the pinned
// witness policy (w cosignatures), the epoch head's signature and inclusion,
// the VRF label, the prefix-tree proof and the account chain. Contacts are
// then checked against the verified chain: every device the DS lists must be
// in it, otherwise it is reported as unsigned (a ghost device the provider
// added), and is never added to a group. Only a server that publishes no key
// directory at all, to a profile that never pinned one, gets chain checks.

// accountDeviceID names a device in the account chain: the first 16 bytes of
// SHA-256 over its Ed25519 key (the DS's numeric ids are not known to the
// approver before the link).
func accountDeviceID(pub ed25519.PublicKey) account.DeviceID {
	h := sha256.Sum256(append([]byte("daylight account device id\x00"), pub...))
	var id account.DeviceID
	copy(id[:], h[:16])
	return id
}

func (c *Client) accountDevice(pub ed25519.PublicKey, user string, id api.DeviceID) account.Device {
	cred := (&wire.Credential{Type: wire.CredentialTypeBasic, Identity: ds.Identity(user, ds.DeviceID(id))}).Append(nil)
	return account.Device{ID: accountDeviceID(pub), SignatureKey: pub, Credential: cred, KeyPackageKey: pub,
		AddedAt: uint64(c.cfg.Now().Unix())}
}

func (c *Client) keydirClient() *kdhttp.Client {
	hc := c.cfg.HTTPClient
	if hc == nil {
		if c.kdHTTP == nil {
			var t *tls.Config
			if c.cfg.TLS != nil {
				t = c.cfg.TLS.Clone()
				t.NextProtos = nil // let the transport offer h2 and http/1.1 itself
			}
			c.kdHTTP = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: t, ForceAttemptHTTP2: true}}
		}
		hc = c.kdHTTP
	}
	return &kdhttp.Client{BaseURL: c.prof.Server, HTTP: hc}
}

// publishRegistration publishes version 0 of the account; it returns a
// status for the user (the directory is optional).
func (c *Client) publishRegistration(ctx context.Context) string {
	pub := c.prof.SigningKey.Public().(ed25519.PublicKey)
	rec, err := account.NewRegistration(c.prof.Username, c.accountDevice(pub, c.prof.Username, c.prof.DeviceID), c.prof.SigningKey, uint64(c.cfg.Now().Unix()))
	if err != nil {
		return "not published: " + err.Error()
	}
	b, err := rec.Marshal()
	if err != nil {
		return "not published: " + err.Error()
	}
	if err := c.keydirClient().Register(ctx, b); err != nil {
		return "not published (no key directory on this server?): " + err.Error()
	}
	c.prof.Chain = [][]byte{b}
	out := "published account version 0"
	if c.cfg.KeyDirTrust == nil {
		if _, err := c.kdConfig(ctx); err != nil {
			out += "; key directory NOT pinned: " + err.Error()
		} else if n := c.pinNotice; n != "" {
			out += "; " + n
			c.pinNotice = ""
		}
	}
	return out
}

// ownChain returns this account's verified chain, from the profile or, if
// the profile has none, from the directory.
func (c *Client) ownChain(ctx context.Context) (*account.State, [][]byte, error) {
	chain := c.prof.Chain
	if len(chain) == 0 {
		r, err := c.keydirClient().Lookup(ctx, c.prof.Username)
		if err != nil {
			return nil, nil, err
		}
		chain = r.Records
	}
	st, err := verifyChain(chain)
	return st, chain, err
}

func verifyChain(raw [][]byte) (*account.State, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("client: the account is not in the key directory (yet)")
	}
	recs := make([]*account.Record, len(raw))
	for i, b := range raw {
		r, err := account.ParseRecord(b)
		if err != nil {
			return nil, err
		}
		recs[i] = r
	}
	return account.Verify(recs)
}

// publishApproved publishes, for every device this device approved (link
// approve) that has since enrolled on the DS, the account record adding it,
// signed by this device, with the device's real DS id in its credential.
// Devices not enrolled yet stay pending; without a key directory the pending
// list is dropped.
func (c *Client) publishApproved(ctx context.Context) error {
	if len(c.prof.Approved) == 0 {
		return nil
	}
	st, chain, err := c.ownChain(ctx)
	if err != nil {
		c.prof.Approved = nil
		return c.saveProfile()
	}
	devs, err := c.devices(ctx, c.prof.Username)
	if err != nil {
		return err
	}
	me := accountDeviceID(c.prof.SigningKey.Public().(ed25519.PublicKey))
	var pending []ed25519.PublicKey
	for _, key := range c.prof.Approved {
		i := slices.IndexFunc(devs, func(d Device) bool { return !d.Revoked && bytes.Equal(d.SigningKey, key) })
		if i < 0 {
			pending = append(pending, key)
			continue
		}
		if _, ok := st.Device(accountDeviceID(key)); ok {
			continue
		}
		rec, err := st.NewAdd(c.accountDevice(key, c.prof.Username, devs[i].ID), me, c.prof.SigningKey, uint64(c.cfg.Now().Unix()))
		if err != nil {
			return err
		}
		b, err := rec.Marshal()
		if err != nil {
			return err
		}
		if err := c.keydirClient().ApplyChange(ctx, b); err != nil {
			pending = append(pending, key)
			continue
		}
		if st, err = st.Apply(rec); err != nil {
			return err
		}
		chain = append(chain, b)
	}
	c.prof.Chain, c.prof.Approved = chain, pending
	if err := c.saveProfile(); err != nil {
		return err
	}
	return c.st.Commit()
}

// markOwnDevices sets Device.KeyDir for this account's devices from the
// directory's chain (own-account monitoring for ghost devices; the
// directory's proofs are verified against the pins; an answer that does not
// verify marks every device "UNVERIFIED").
func (c *Client) markOwnDevices(ctx context.Context, devs []Device) {
	r, err := c.keydirClient().Lookup(ctx, c.prof.Username)
	if err != nil {
		return
	}
	if kc, err := c.kdConfig(ctx); err != nil || kc != nil {
		if err == nil {
			_, err = kc.VerifyLookup(r)
		}
		if err != nil {
			for i := range devs {
				if !devs[i].Revoked {
					devs[i].KeyDir = "UNVERIFIED"
				}
			}
			return
		}
	}
	raw := r.Records
	if len(c.prof.Chain) > len(raw) {
		raw = c.prof.Chain // what this device published, ahead of the published epoch
	}
	st, err := verifyChain(raw)
	if err != nil {
		return
	}
	for i, d := range devs {
		switch {
		case d.Revoked:
		case slices.ContainsFunc(st.Devices, func(a account.Device) bool { return bytes.Equal(a.SignatureKey, d.SigningKey) }):
			devs[i].KeyDir = "signed"
		case slices.ContainsFunc(c.prof.Approved, func(k ed25519.PublicKey) bool { return bytes.Equal(k, d.SigningKey) }):
			devs[i].KeyDir = "pending"
		default:
			devs[i].KeyDir = "UNSIGNED"
		}
	}
}

// keyDirStatus is what a contact check found in the key directory.
type keyDirStatus struct {
	Status       string         `json:"status"`                  // "verified chain", "absent", "unavailable: ..."
	Version      uint64         `json:"version,omitempty"`       // the chain's latest version
	SafetyNumber string         `json:"safety_number,omitempty"` // account.State.SafetyNumber (genesis)
	Unsigned     []api.DeviceID `json:"unsigned_devices,omitempty"`
}

// checkKeyDir compares the DS's device list of a contact with the account
// chain the key directory serves. The lookup is verified by kdclient
// against the pinned directory (checkpoint under the witness policy, epoch
// head, VRF label, prefix-tree proof, chain) and the contact's pin, and a
// changed safety number is reported until accepted. Only without any pin
// (a server without a key directory) is the chain checked alone.
func (c *Client) checkKeyDir(ctx context.Context, r *contactRecord, devs []Device, accept bool) keyDirStatus {
	resp, err := c.keydirClient().Lookup(ctx, r.Username)
	if err != nil {
		return keyDirStatus{Status: "unavailable: " + err.Error()}
	}
	var st *account.State
	out := keyDirStatus{}
	trust, err := c.kdConfig(ctx)
	if err != nil {
		return keyDirStatus{Status: "REFUSED: the key directory is not pinned: " + err.Error()}
	}
	if trust != nil {
		kc := kdclient.NewClient(*trust)
		if r.KDPin != nil {
			kc.SetPin(r.Username, *r.KDPin)
		}
		ct, err := kc.Lookup(resp)
		switch {
		case errors.Is(err, kdclient.ErrNotRegistered):
			return keyDirStatus{Status: "absent (proven by the directory)"}
		case err != nil:
			return keyDirStatus{Status: "REFUSED: the directory's answer does not verify: " + c.explainRefusal(ctx, err).Error()}
		}
		if ct.Change == kdclient.SafetyNumberChanged {
			if !accept {
				return keyDirStatus{Status: "SAFETY NUMBER CHANGED: a different account chain than the pinned one; compare account numbers, then `daylight contacts verify --accept " + r.Username + "`",
					Version: ct.State.Version, SafetyNumber: ct.SafetyNumber()}
			}
			kc.AcceptChange(ct)
		}
		if p, ok := kc.Pins()[r.Username]; ok {
			r.KDPin = &p
		}
		st = ct.State
		out.Status = fmt.Sprintf("verified (directory proofs checked, epoch %d, %s)", ct.Epoch, ct.Change)
	} else {
		if len(resp.Records) == 0 {
			return keyDirStatus{Status: "absent (not registered in the directory, or not in a published epoch yet)"}
		}
		if st, err = verifyChain(resp.Records); err != nil {
			return keyDirStatus{Status: "INVALID chain: " + err.Error()}
		}
		out.Status = "verified chain (directory proofs not checked)"
	}
	out.Version, out.SafetyNumber = st.Version, st.SafetyNumber()
	for _, d := range devs {
		if d.Revoked {
			continue
		}
		if !slices.ContainsFunc(st.Devices, func(a account.Device) bool { return bytes.Equal(a.SignatureKey, d.SigningKey) }) {
			out.Unsigned = append(out.Unsigned, d.ID)
		}
	}
	return out
}

// ErrSafetyNumberChanged reports a contact whose key-directory account is
// another chain than the pinned one: nothing is encrypted to it until the
// user compares account numbers and accepts (contacts verify --accept).
var ErrSafetyNumberChanged = errors.New("client: the contact's account changed in the key directory (hint: compare account numbers, then `daylight contacts verify --accept USER`)")

// contactWait bounds how long verifiedContact waits for a user the DS knows
// but the directory does not prove yet (registered or linked moments ago:
// the account appears with the next witnessed epoch).
const contactWait = 20 * time.Second

// verifiedContact looks user up in the pinned key directory and checks it
// against the contact's pin (trust on first use for a user who is not a
// contact: nothing is pinned then). A user the DS lists devices for but
// whose account is not in a witnessed epoch yet is waited for (contactWait).
func (c *Client) verifiedContact(ctx context.Context, trust *kdclient.Config, user string) (*kdclient.Contact, error) {
	const poll = 250 * time.Millisecond
	for try := 0; ; try++ {
		ct, err := c.verifiedContactOnce(ctx, trust, user)
		if err == nil || !errors.Is(err, errNotYetPublished) || time.Duration(try)*poll >= contactWait {
			return ct, err
		}
		if devs, derr := c.devices(ctx, user); derr != nil || !slices.ContainsFunc(devs, func(d Device) bool { return !d.Revoked }) {
			return ct, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

var errNotYetPublished = errors.New("client: the account is not in a witnessed key-directory epoch yet (registered moments ago? retry after the next epoch)")

func (c *Client) verifiedContactOnce(ctx context.Context, trust *kdclient.Config, user string) (*kdclient.Contact, error) {
	resp, err := c.keydirClient().Lookup(ctx, user)
	if err != nil {
		if errors.Is(err, keydir.ErrNotPublished) {
			return nil, fmt.Errorf("%w: %w", errNotYetPublished, err)
		}
		return nil, fmt.Errorf("client: key directory lookup of %s: %w", user, err)
	}
	kc := kdclient.NewClient(*trust)
	if r, ok := c.contact(user); ok && r.KDPin != nil {
		kc.SetPin(user, *r.KDPin)
	}
	ct, err := kc.Lookup(resp)
	if errors.Is(err, kdclient.ErrNotRegistered) {
		return nil, fmt.Errorf("%w (%s): %w", errNotYetPublished, user, err)
	}
	if err != nil {
		return nil, fmt.Errorf("client: refusing %s: the key directory's answer does not verify: %w", user, c.explainRefusal(ctx, err))
	}
	if ct.Change == kdclient.SafetyNumberChanged {
		return nil, fmt.Errorf("%w (%s)", ErrSafetyNumberChanged, user)
	}
	return ct, nil
}
