// Package transport is the Go client of the daylightd server API (package
// api): registration and device linking, signed-challenge authentication
// with automatic token renewal, the KeyPackage directory, groups, sending MLS
// messages, receiving over WebSocket with reconnection and an HTTP long-poll
// fallback, explicit acks, and attachments with progress callbacks and
// resumable downloads.
//
// MLS bytes are opaque here: the caller's MLS engine produces and consumes
// them. A Client is safe for concurrent use.
package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/ds"
)

// Config configures a Client.
type Config struct {
	// BaseURL of the server, e.g. "https://127.0.0.1:8443". Required.
	BaseURL string
	// TLS for https (e.g. with the dev certificate in RootCAs); nil uses the
	// system roots. Ignored when HTTPClient is set.
	TLS *tls.Config
	// HTTPClient, if set, is used for every request.
	HTTPClient *http.Client
	// Now is the clock (token renewal); default time.Now.
	Now func() time.Time
}

// Client talks to one daylightd as one device (once SetIdentity or
// Register has named it).
type Client struct {
	base *url.URL
	hc   *http.Client
	tls  *tls.Config
	now  func() time.Time

	mu       sync.Mutex
	username string
	device   api.DeviceID
	key      ed25519.PrivateKey
	token    string
	expires  time.Time
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("transport: BaseURL %q: want http(s)://host:port", cfg.BaseURL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg.TLS
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: tr}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{base: u, hc: hc, tls: cfg.TLS, now: now}, nil
}

// SetIdentity names the device this client acts as (its id and Ed25519
// key); the next authenticated call obtains a token with it.
func (c *Client) SetIdentity(username string, device api.DeviceID, key ed25519.PrivateKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.username, c.device, c.key, c.token = username, device, key, ""
}

// Device returns the device this client acts as (0 before an identity is set).
func (c *Client) Device() api.DeviceID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.device
}

// call performs one request. body is JSON-encoded unless it is []byte (then
// sent with contentType). out, if not nil, receives the JSON answer.
func (c *Client) call(ctx context.Context, method, path string, auth bool, contentType string, body any, out any) error {
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		switch b := body.(type) {
		case nil:
		case []byte:
			rd = bytes.NewReader(b)
		default:
			enc, err := json.Marshal(b)
			if err != nil {
				return err
			}
			rd, contentType = bytes.NewReader(enc), api.MediaJSON
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
		if err != nil {
			return err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if auth {
			tok, err := c.Token(ctx)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("transport: %s %s: %w", method, path, err)
		}
		err = decodeResponse(resp, out)
		if auth && attempt == 0 && api.HasCode(err, api.CodeUnauthenticated) {
			c.dropToken() // expired or revoked meanwhile: authenticate once more
			continue
		}
		return err
	}
}

// decodeResponse turns an error answer into *api.Error and decodes a success.
func decodeResponse(resp *http.Response, out any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("transport: reading answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e api.ErrorResponse
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return &api.Error{Status: resp.StatusCode, ErrorBody: api.ErrorBody{Code: api.CodeInternal, Message: strings.TrimSpace(resp.Status)}}
		}
		return &api.Error{Status: resp.StatusCode, ErrorBody: e.Error}
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("transport: decoding answer: %w", err)
	}
	return nil
}

func (c *Client) dropToken() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

// Token returns a valid bearer token, authenticating (challenge, signature,
// token) when there is none or it expires within a minute.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, exp, dev, key := c.token, c.expires, c.device, c.key
	c.mu.Unlock()
	if tok != "" && c.now().Add(time.Minute).Before(exp) {
		return tok, nil
	}
	if dev == 0 || key == nil {
		return "", errors.New("transport: no device identity (Register, LinkDevice or SetIdentity first)")
	}
	var ch api.ChallengeResponse
	if err := c.call(ctx, "POST", "/v1/auth/challenge", false, "", api.ChallengeRequest{Device: dev}, &ch); err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, ds.AuthStatement(ds.DeviceID(dev), ch.Nonce))
	var t api.TokenResponse
	if err := c.call(ctx, "POST", "/v1/auth/token", false, "", api.TokenRequest{Device: dev, Nonce: ch.Nonce, Signature: sig}, &t); err != nil {
		return "", err
	}
	c.mu.Lock()
	c.token, c.expires = t.Token, t.Expires
	c.mu.Unlock()
	return t.Token, nil
}

// Register creates username with this client's first device, signing the
// registration with key, and makes that device the client's identity.
func (c *Client) Register(ctx context.Context, username, deviceName string, key ed25519.PrivateKey) (api.Device, error) {
	pub := key.Public().(ed25519.PublicKey)
	req := api.RegisterRequest{Username: username, DeviceName: deviceName, SigningKey: pub,
		Signature: ed25519.Sign(key, ds.RegisterStatement(username, deviceName, pub))}
	var out api.DeviceResponse
	if err := c.call(ctx, "POST", "/v1/accounts", false, "", req, &out); err != nil {
		return api.Device{}, err
	}
	c.SetIdentity(username, out.Device.ID, key)
	return out.Device, nil
}

// LinkApproval is what an existing device (approver, with approverKey)
// computes to authorise newKey as a device of username; it travels to the
// new device out of band (QR code, copy and paste).
func LinkApproval(approverKey ed25519.PrivateKey, username string, approver api.DeviceID, deviceName string, newKey ed25519.PublicKey) []byte {
	return ed25519.Sign(approverKey, ds.LinkStatement(username, ds.DeviceID(approver), deviceName, newKey))
}

// LinkDevice adds this client's new device (key) to username with the
// approval of an existing device, and makes it the client's identity.
func (c *Client) LinkDevice(ctx context.Context, username, deviceName string, key ed25519.PrivateKey, approver api.DeviceID, approval []byte) (api.Device, error) {
	pub := key.Public().(ed25519.PublicKey)
	req := api.LinkRequest{Approver: approver, DeviceName: deviceName, SigningKey: pub, Approval: approval,
		Signature: ed25519.Sign(key, ds.RegisterStatement(username, deviceName, pub))}
	var out api.DeviceResponse
	if err := c.call(ctx, "POST", "/v1/accounts/"+url.PathEscape(username)+"/devices", false, "", req, &out); err != nil {
		return api.Device{}, err
	}
	c.SetIdentity(username, out.Device.ID, key)
	return out.Device, nil
}

// Devices lists username's devices (revoked ones included).
func (c *Client) Devices(ctx context.Context, username string) ([]api.Device, error) {
	var out api.DevicesResponse
	err := c.call(ctx, "GET", "/v1/accounts/"+url.PathEscape(username)+"/devices", true, "", nil, &out)
	return out.Devices, err
}

// RevokeDevice revokes one of the account's own devices.
func (c *Client) RevokeDevice(ctx context.Context, id api.DeviceID) error {
	return c.call(ctx, "DELETE", "/v1/devices/"+strconv.FormatInt(int64(id), 10), true, "", nil, nil)
}

// UploadKeyPackages uploads MLSMessage-encoded KeyPackages of this device.
func (c *Client) UploadKeyPackages(ctx context.Context, kps [][]byte) error {
	return c.call(ctx, "POST", "/v1/keypackages", true, "", api.UploadKeyPackagesRequest{KeyPackages: kps}, nil)
}

// KeyPackageCount returns how many one-time KeyPackages this device has left.
func (c *Client) KeyPackageCount(ctx context.Context) (int, error) {
	var out api.CountResponse
	err := c.call(ctx, "GET", "/v1/keypackages/count", true, "", nil, &out)
	return out.Count, err
}

// ClaimKeyPackages claims one KeyPackage for each device of username.
func (c *Client) ClaimKeyPackages(ctx context.Context, username string) ([]api.KeyPackage, error) {
	var out api.ClaimResponse
	err := c.call(ctx, "POST", "/v1/accounts/"+url.PathEscape(username)+"/keypackages/claim", true, "", nil, &out)
	return out.KeyPackages, err
}

// ClaimKeyPackage claims one KeyPackage of one device.
func (c *Client) ClaimKeyPackage(ctx context.Context, device api.DeviceID) (api.KeyPackage, error) {
	var out api.ClaimResponse
	err := c.call(ctx, "POST", "/v1/devices/"+strconv.FormatInt(int64(device), 10)+"/keypackage/claim", true, "", nil, &out)
	if err != nil {
		return api.KeyPackage{}, err
	}
	if len(out.KeyPackages) != 1 {
		return api.KeyPackage{}, fmt.Errorf("transport: claim answered %d KeyPackages", len(out.KeyPackages))
	}
	return out.KeyPackages[0], nil
}

// CreateGroup registers a group from its creator's GroupInfo (with the
// ratchet_tree extension).
func (c *Client) CreateGroup(ctx context.Context, groupInfo []byte) (api.Group, error) {
	var out api.Group
	err := c.call(ctx, "POST", "/v1/groups", true, api.MediaMLS, groupInfo, &out)
	return out, err
}

// Group returns a group's public view (members only).
func (c *Client) Group(ctx context.Context, id []byte) (api.Group, error) {
	var out api.Group
	err := c.call(ctx, "GET", "/v1/groups/"+base64.RawURLEncoding.EncodeToString(id), true, "", nil, &out)
	return out, err
}

// Send sends one MLS message (PrivateMessage application data, or a
// PublicMessage proposal or commit) and returns once it is durable. A commit
// that lost the race for its epoch fails with api.CodeStaleEpoch: process the
// winning commit, then rebase.
func (c *Client) Send(ctx context.Context, msg []byte) (api.Receipt, error) {
	var out api.Receipt
	err := c.call(ctx, "POST", "/v1/messages", true, api.MediaMLS, msg, &out)
	return out, err
}

// SendCommit sends a commit with the Welcome for the devices it adds.
func (c *Client) SendCommit(ctx context.Context, commit, welcome []byte) (api.Receipt, error) {
	var out api.Receipt
	err := c.call(ctx, "POST", "/v1/messages", true, "", api.SendRequest{Message: commit, Welcome: welcome}, &out)
	return out, err
}

// Fetch reads this device's queue after the cursor; with wait > 0 it
// long-polls up to wait for a non-empty page.
func (c *Client) Fetch(ctx context.Context, after uint64, limit int, wait time.Duration) (api.Page, error) {
	q := url.Values{}
	q.Set(api.QueryAfter, strconv.FormatUint(after, 10))
	if limit > 0 {
		q.Set(api.QueryLimit, strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set(api.QueryWait, strconv.Itoa(int(min(wait, api.MaxWaitSeconds*time.Second)/time.Second)))
	}
	var out api.Page
	err := c.call(ctx, "GET", "/v1/messages?"+q.Encode(), true, "", nil, &out)
	return out, err
}

// Ack acknowledges this device's queue up to cursor (inclusive); the server
// deletes a message once every recipient acked it.
func (c *Client) Ack(ctx context.Context, cursor uint64) error {
	return c.call(ctx, "POST", "/v1/ack", true, "", api.AckRequest{Cursor: cursor}, nil)
}

// Health reports the server's /healthz answer.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var out api.Health
	err := c.call(ctx, "GET", "/healthz", false, "", nil, &out)
	return out, err
}
