package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/daylight-im/daylight/keydir/kdclient"
	"github.com/daylight-im/daylight/keydir/kdhttp"
)

// Key-directory pins (trust on first use, like an SSH host key). Unless
// Config.KeyDirTrust pins the directory out of band, the client fetches
// what the server publishes at /keydir/v1/trust (the access log's origin
// and key, the witnesses' keys and threshold w, the directory's head-signing
// and VRF keys) on first contact — at Register, or at the first key-directory
// use of an older profile —, stores it in the sealed local store and shows
// its fingerprint. Every later lookup and monitoring sync is verified
// against those pins, never against a freshly fetched copy: a checkpoint
// without w valid cosignatures of the pinned witnesses, an epoch head signed
// by another directory key, or a proof that does not verify is refused. When
// an answer is refused, the client fetches the published trust once more
// only to explain the refusal (which pinned key changed); `daylight trust
// reset` drops the pins after the user compared the new fingerprint out of
// band.

const trustRecord = "keydir/trust"

type trustPin struct {
	Trust    []byte    `json:"trust"` // kdclient.Trust, text form
	PinnedAt time.Time `json:"pinned_at"`
	Server   string    `json:"server"`
}

// TrustInfo describes the key-directory pins of this profile.
type TrustInfo struct {
	Source       string    `json:"source"` // "pinned on first contact", "file" or "none"
	Fingerprint  string    `json:"fingerprint,omitempty"`
	PinnedAt     time.Time `json:"pinned_at,omitzero"`
	Server       string    `json:"server,omitempty"`
	Origin       string    `json:"origin,omitempty"`
	LogKey       string    `json:"log_key,omitempty"`
	Witnesses    []string  `json:"witnesses,omitempty"`
	Threshold    int       `json:"threshold"`
	DirectoryKey string    `json:"directory_key,omitempty"`
	VRFKey       string    `json:"vrf_key,omitempty"`
	// Unwitnessed: the server runs no witnesses, so the log key alone
	// stands between the provider and a split view.
	Unwitnessed bool `json:"unwitnessed,omitempty"`
}

// DescribeTrust returns the TrustInfo of t (Source left empty).
func DescribeTrust(t *kdclient.Trust) TrustInfo {
	return TrustInfo{Fingerprint: t.Fingerprint(), Origin: t.Origin, LogKey: t.LogVKey, Witnesses: t.Witnesses,
		Threshold: t.Threshold, DirectoryKey: hex.EncodeToString(t.DirectoryKey), VRFKey: hex.EncodeToString(t.VRFKey),
		Unwitnessed: t.Unwitnessed()}
}

// Summary is one line for the user: fingerprint and witness policy.
func (i TrustInfo) Summary() string {
	if i.Fingerprint == "" {
		return "no key directory pinned"
	}
	w := fmt.Sprintf("%d of %d witnesses", i.Threshold, len(i.Witnesses))
	if i.Unwitnessed {
		w = "WARNING: no witnesses (the log key alone vouches for checkpoints)"
	}
	return fmt.Sprintf("key directory %s (log %s, %s)", i.Fingerprint, i.Origin, w)
}

// ErrKeyDirPinChanged reports answers refused because the server now
// publishes other keys than the ones pinned on first contact.
var ErrKeyDirPinChanged = errors.New("client: the server's key directory keys differ from the pinned ones")

func (c *Client) loadPin() (*trustPin, *kdclient.Trust, error) {
	b, ok := c.st.Get(trustRecord)
	if !ok {
		return nil, nil, nil
	}
	var p trustPin
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, fmt.Errorf("client: key directory pin record: %w", err)
	}
	t, err := kdclient.ParseTrust(p.Trust)
	if err != nil {
		return nil, nil, fmt.Errorf("client: key directory pin record: %w", err)
	}
	return &p, t, nil
}

// fetchTrust returns what the server publishes now (nil, nil: nothing).
func (c *Client) fetchTrust(ctx context.Context) (*kdclient.Trust, error) {
	b, err := c.keydirClient().Trust(ctx)
	if errors.Is(err, kdhttp.ErrNoTrust) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client: fetching the key directory's keys: %w", err)
	}
	return kdclient.ParseTrust(b)
}

// pinTrust pins what the server publishes (trust on first use) and makes
// it durable; nil, nil when the server publishes no key directory.
func (c *Client) pinTrust(ctx context.Context) (*kdclient.Trust, error) {
	t, err := c.fetchTrust(ctx)
	if t == nil || err != nil {
		return nil, err
	}
	b, err := json.Marshal(trustPin{Trust: t.Marshal(), PinnedAt: c.cfg.Now().UTC(), Server: c.prof.Server})
	if err != nil {
		return nil, err
	}
	c.st.Put(trustRecord, b)
	if err := c.st.Commit(); err != nil {
		return nil, err
	}
	c.pinNotice = "pinned on first contact: " + DescribeTrust(t).Summary() +
		" (compare the fingerprint with the one your provider publishes; `daylight trust show`)"
	return t, nil
}

// kdConfig returns how key-directory answers are verified: the out-of-band
// pins (Config.KeyDirTrust), else the profile's pins, pinning what the
// server publishes if there are none yet. nil, nil: the server has no key
// directory and nothing is pinned (only account chains can be checked).
func (c *Client) kdConfig(ctx context.Context) (*kdclient.Config, error) {
	if c.cfg.KeyDirTrust != nil {
		return c.cfg.KeyDirTrust, nil
	}
	_, t, err := c.loadPin()
	if err != nil {
		return nil, err
	}
	if t == nil {
		if t, err = c.pinTrust(ctx); t == nil || err != nil {
			return nil, err
		}
	}
	return t.Config()
}

// explainRefusal adds to a refused key-directory answer what the user can
// do: if the server now publishes other keys than the pinned ones, which
// ones changed (the server swapped keys, or the operator rotated them).
func (c *Client) explainRefusal(ctx context.Context, err error) error {
	if c.cfg.KeyDirTrust != nil {
		return fmt.Errorf("%w (hint: the answer does not verify against the --keydir-trust pins)", err)
	}
	p, pinned, perr := c.loadPin()
	if perr != nil || pinned == nil {
		return err
	}
	now, ferr := c.fetchTrust(ctx)
	if ferr != nil || now == nil {
		return fmt.Errorf("%w (hint: verified against the keys pinned on %s: `daylight trust show`)", err, p.PinnedAt.Format(time.DateOnly))
	}
	if d := now.Diff(pinned); len(d) > 0 {
		return fmt.Errorf("%w: %s changed since %s (pinned %s, now %s) — a provider swapping keys looks like this; "+
			"if your provider announced a key rotation, compare the new fingerprint out of band, then `daylight trust reset` (cause: %w)",
			ErrKeyDirPinChanged, strings.Join(d, ", "), p.PinnedAt.Format(time.DateOnly), pinned.Fingerprint(), now.Fingerprint(), err)
	}
	return fmt.Errorf("%w (hint: the server's answer does not verify against its own pinned keys %s)", err, pinned.Fingerprint())
}

// KeyDirTrust describes the pins in use (Config.KeyDirTrust: Source "file",
// with no fingerprint: the caller has the file).
func (c *Client) KeyDirTrust() (TrustInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.KeyDirTrust != nil {
		return TrustInfo{Source: "file"}, nil
	}
	p, t, err := c.loadPin()
	if err != nil || t == nil {
		return TrustInfo{Source: "none"}, err
	}
	i := DescribeTrust(t)
	i.Source, i.PinnedAt, i.Server = "pinned on first contact", p.PinnedAt, p.Server
	return i, nil
}

// ResetKeyDirTrust drops the profile's pins and the own-account monitor's
// epoch position (they belong to the old directory; the devices this device
// knows are kept). The next key-directory use pins what the server then
// publishes. It returns the dropped pins.
func (c *Client) ResetKeyDirTrust() (TrustInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return TrustInfo{}, err
	}
	p, t, err := c.loadPin()
	if err != nil {
		c.st.Delete(trustRecord)
		return TrustInfo{Source: "none"}, c.st.Commit()
	}
	out := TrustInfo{Source: "none"}
	if t != nil {
		out = DescribeTrust(t)
		out.Source, out.PinnedAt, out.Server = "pinned on first contact", p.PinnedAt, p.Server
	}
	c.st.Delete(trustRecord)
	if m := c.prof.Monitor; m != nil {
		m.Epoch, m.Root, m.Version, m.Head, m.Present = 0, [32]byte{}, 0, [32]byte{}, false
		m.Records, m.Openings = nil, nil
		if err := c.saveProfile(); err != nil {
			return out, err
		}
	}
	return out, c.st.Commit()
}

// KeyDirNotice returns, once, what the client pinned on first contact
// during the last call ("" if nothing): the CLI shows it to the user.
func (c *Client) KeyDirNotice() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.pinNotice
	c.pinNotice = ""
	return n
}
