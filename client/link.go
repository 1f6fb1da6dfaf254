package client

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/daylight-im/daylight/api"
)

// Linking a device takes three steps, with two short strings carried out of
// band (copy and paste, QR code):
//
//  1. new device:      BeginLink(name)      -> link code "dl-link:<name>:<public key>"
//  2. existing device: ApproveCode(code)    -> approval "dl-approve:<approver id>:<signature>"
//  3. new device:      FinishLink(user, approval)
//
// The new device's key is generated in step 1 and kept in its local store.

var b64 = base64.RawURLEncoding

// ErrBadLinkCode reports a link code or approval that does not parse.
var ErrBadLinkCode = errors.New("client: malformed link code or approval (hint: copy it whole, it starts with dl-link: or dl-approve:)")

// BeginLink creates this profile's device key for linking and returns the
// link code to show on an existing device.
func (c *Client) BeginLink(deviceName string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prof != nil {
		return "", ErrAlreadyRegistered
	}
	key, err := NewLinkKey(c.cfg.Rand)
	if err != nil {
		return "", err
	}
	c.st.Put("link/key", key)
	c.st.Put("link/name", []byte(deviceName))
	if err := c.st.Commit(); err != nil {
		return "", err
	}
	return linkCode(deviceName, key.Public().(ed25519.PublicKey)), nil
}

// ApproveCode authorises the device of a link code as a device of this
// account and returns the approval to paste on the new device.
func (c *Client) ApproveCode(code string) (string, error) {
	name, pub, err := parseLinkCode(code)
	if err != nil {
		return "", err
	}
	approver, approval, err := c.ApproveLink(name, pub)
	if err != nil {
		return "", err
	}
	return approvalString(approver, approval), nil
}

// FinishLink enrols this profile as a device of username with the approval
// from ApproveCode.
func (c *Client) FinishLink(ctx context.Context, username, approval string) (Identity, error) {
	id, sig, err := parseApproval(approval)
	if err != nil {
		return Identity{}, err
	}
	c.mu.Lock()
	key, ok := c.st.Get("link/key")
	name, _ := c.st.Get("link/name")
	c.mu.Unlock()
	if !ok || len(key) != ed25519.PrivateKeySize {
		return Identity{}, fmt.Errorf("client: no pending link on this profile (hint: run `daylight link request` here first)")
	}
	ident, err := c.Link(ctx, username, string(name), ed25519.PrivateKey(key), id, sig)
	if err != nil {
		return ident, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Delete("link/key")
	c.st.Delete("link/name")
	// The account's devices at link time are this device's starting point
	// for monitoring (trust on first use of its own account).
	if r, err := c.keydirClient().Lookup(ctx, username); err == nil {
		if st, err := verifyChain(r.Records); err == nil {
			for _, d := range st.Devices {
				c.knowDevice(d.SignatureKey)
			}
		}
	}
	if err := c.saveProfile(); err != nil {
		return ident, err
	}
	return ident, c.st.Commit()
}

func linkCode(name string, pub ed25519.PublicKey) string {
	return "dl-link:" + b64.EncodeToString([]byte(name)) + ":" + b64.EncodeToString(pub)
}

// parseLinkCode decodes "dl-link:<name>:<public key>" strictly.
func parseLinkCode(code string) (string, ed25519.PublicKey, error) {
	parts := strings.Split(strings.TrimSpace(code), ":")
	if len(parts) != 3 || parts[0] != "dl-link" {
		return "", nil, ErrBadLinkCode
	}
	name, err1 := b64.Strict().DecodeString(parts[1])
	pub, err2 := b64.Strict().DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || len(name) == 0 {
		return "", nil, ErrBadLinkCode
	}
	return string(name), ed25519.PublicKey(pub), nil
}

func approvalString(id api.DeviceID, sig []byte) string {
	return "dl-approve:" + strconv.FormatInt(int64(id), 10) + ":" + b64.EncodeToString(sig)
}

// parseApproval decodes "dl-approve:<approver id>:<signature>" strictly.
func parseApproval(s string) (api.DeviceID, []byte, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 || parts[0] != "dl-approve" {
		return 0, nil, ErrBadLinkCode
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	sig, err2 := b64.Strict().DecodeString(parts[2])
	if err1 != nil || err2 != nil || id <= 0 || strconv.FormatInt(id, 10) != parts[1] || len(sig) != ed25519.SignatureSize {
		return 0, nil, ErrBadLinkCode
	}
	return api.DeviceID(id), sig, nil
}
