package client

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/keydir/kdclient"
)

// Contacts are pinned on first use (TOFU): AddContact records the device keys
// the server lists for a user; later lookups that show other keys are
// reported as changes (a new device, or a device key the server swapped),
// and adding a user to a group reports devices that are not pinned. The key
// directory (keydir/kdclient) is not consulted yet: daylightd does not mount
// /keydir/ (see docs/client.md).

type pin struct {
	Device api.DeviceID `json:"device"`
	Key    []byte       `json:"key"`
	Name   string       `json:"name"`
}

type contactRecord struct {
	Username string    `json:"username"`
	Pins     []pin     `json:"pins"`
	Verified bool      `json:"verified"`
	Added    time.Time `json:"added"`
	// KDPin is the key-directory pin (kdclient) when Config.KeyDirTrust is set.
	KDPin *kdclient.Pin `json:"kd_pin,omitempty"`
}

// Contact is a pinned contact as reported to the user.
type Contact struct {
	Username     string         `json:"username"`
	Devices      []pin          `json:"devices"`
	Verified     bool           `json:"verified"`
	SafetyNumber string         `json:"safety_number"`
	New          []api.DeviceID `json:"new_devices,omitempty"`     // listed by the server, not pinned
	Changed      []api.DeviceID `json:"changed_devices,omitempty"` // pinned with another key
	Gone         []api.DeviceID `json:"gone_devices,omitempty"`    // pinned, now revoked or missing
	// KeyDir is what the key directory says about the account: its chain
	// of device-signed records, and DS devices missing from it (ghosts).
	KeyDir keyDirStatus `json:"keydir"`
}

func (c *Client) pins(user string) []pin {
	b, ok := c.st.Get("contact/" + user)
	if !ok {
		return nil
	}
	var r contactRecord
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return r.Pins
}

func (c *Client) contact(user string) (*contactRecord, bool) {
	b, ok := c.st.Get("contact/" + user)
	if !ok {
		return nil, false
	}
	var r contactRecord
	if json.Unmarshal(b, &r) != nil {
		return nil, false
	}
	return &r, true
}

func (c *Client) putContact(r *contactRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	c.st.Put("contact/"+r.Username, b)
	return c.st.Commit()
}

// AddContact pins user's current devices (or re-checks an existing contact)
// and returns the contact with its safety number.
func (c *Client) AddContact(ctx context.Context, user string) (Contact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return Contact{}, err
	}
	r, ok := c.contact(user)
	devs, err := c.devices(ctx, user)
	if err != nil {
		return Contact{}, err
	}
	if !ok {
		r = &contactRecord{Username: user, Added: c.cfg.Now().UTC()}
		for _, d := range devs {
			if !d.Revoked {
				r.Pins = append(r.Pins, pin{Device: d.ID, Key: d.SigningKey, Name: d.Name})
			}
		}
		if err := c.putContact(r); err != nil {
			return Contact{}, err
		}
	}
	ct, err := c.report(ctx, r, devs, false)
	if err != nil {
		return Contact{}, err
	}
	return ct, c.putContact(r)
}

// VerifyContact marks user as verified (after comparing safety numbers out
// of band) and re-pins the devices the server lists now when accept is set.
func (c *Client) VerifyContact(ctx context.Context, user string, accept bool) (Contact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return Contact{}, err
	}
	r, ok := c.contact(user)
	if !ok {
		return Contact{}, fmt.Errorf("client: %s is not a contact (hint: `daylight contacts add %s`)", user, user)
	}
	devs, err := c.devices(ctx, user)
	if err != nil {
		return Contact{}, err
	}
	if accept {
		r.Pins = nil
		for _, d := range devs {
			if !d.Revoked {
				r.Pins = append(r.Pins, pin{Device: d.ID, Key: d.SigningKey, Name: d.Name})
			}
		}
	}
	r.Verified = true
	ct, err := c.report(ctx, r, devs, accept)
	if err != nil {
		return Contact{}, err
	}
	return ct, c.putContact(r)
}

// Contacts lists the contacts, each checked against the server's current
// device list.
func (c *Client) Contacts(ctx context.Context) ([]Contact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return nil, err
	}
	var out []Contact
	for _, k := range c.st.List("contact/") {
		r, _ := c.contact(strings.TrimPrefix(k, "contact/"))
		devs, err := c.devices(ctx, r.Username)
		if err != nil {
			return nil, err
		}
		ct, err := c.report(ctx, r, devs, false)
		if err != nil {
			return nil, err
		}
		if err := c.putContact(r); err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, nil
}

// report checks r against the server's device list and the key directory;
// it may update r's key-directory pin (the caller persists r).
func (c *Client) report(ctx context.Context, r *contactRecord, devs []Device, accept bool) (Contact, error) {
	ct := Contact{Username: r.Username, Devices: r.Pins, Verified: r.Verified}
	for _, d := range devs {
		i := slices.IndexFunc(r.Pins, func(p pin) bool { return p.Device == d.ID })
		switch {
		case d.Revoked && i >= 0:
			ct.Gone = append(ct.Gone, d.ID)
		case d.Revoked:
		case i < 0:
			ct.New = append(ct.New, d.ID)
		case !bytes.Equal(r.Pins[i].Key, d.SigningKey):
			ct.Changed = append(ct.Changed, d.ID)
		}
	}
	mine, err := c.devices(ctx, c.prof.Username)
	if err != nil {
		return Contact{}, err
	}
	var myKeys [][]byte
	for _, d := range mine {
		if !d.Revoked {
			myKeys = append(myKeys, d.SigningKey)
		}
	}
	var theirs [][]byte
	for _, p := range r.Pins {
		theirs = append(theirs, p.Key)
	}
	ct.SafetyNumber = SafetyNumber(c.prof.Username, myKeys, r.Username, theirs)
	ct.KeyDir = c.checkKeyDir(ctx, r, devs, accept)
	return ct, nil
}

// SafetyNumber is the number two users compare out of band: 60 digits, 30
// per user, each half derived from the user's name and sorted device keys by
// 5200 iterations of SHA-512 (the construction of Signal's safety numbers,
// over all of a user's device keys). It is symmetric: both users compute the
// same string.
func SafetyNumber(userA string, keysA [][]byte, userB string, keysB [][]byte) string {
	a, b := fingerprint(userA, keysA), fingerprint(userB, keysB)
	if userB < userA {
		a, b = b, a
	}
	return a + " " + b
}

func fingerprint(user string, keys [][]byte) string {
	ks := slices.Clone(keys)
	slices.SortFunc(ks, bytes.Compare)
	var in []byte
	for _, k := range ks {
		in = append(in, k...)
	}
	h := append([]byte("daylight safety number v1\x00"+user+"\x00"), in...)
	for range 5200 {
		s := sha512.Sum512(append(h, in...))
		h = s[:]
	}
	var parts []string
	for i := range 6 {
		v := binary.BigEndian.Uint64(append([]byte{0, 0, 0}, h[i*5:i*5+5]...)) % 100000
		parts = append(parts, fmt.Sprintf("%05d", v))
	}
	return strings.Join(parts, " ")
}
