package client

import (
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/warrant"
)

// Opening notices (design A7, T15): when a warrant's embargo ends, trustees
// append an Opening entry to the access log, sealed (warrant.SealOpening) to
// the target account's X-Wing opening key. The client keeps that key's seed
// in its sealed local store, and finds its notices by reading every Opening
// entry of the log through the tlog-tiles API (tlog.Client, verified against
// a witness-cosigned checkpoint) and trial-decrypting (warrant.TryOpen): the
// provider cannot hide a notice without hiding it from everyone (the
// witnesses cosign one log), and an entry reveals nothing about its target.
//
// The opening key is per account and lives on the device that created it
// (OpeningKey); publishing it in the key directory is left to the key
// directory's owner: until then the trustees' --directory accounts file is
// built from `daylight opening-key` (docs/notices.md).

const openingKeyRecord = "opening-key"

// OpeningKey returns this account's X-Wing opening public key (1216 bytes,
// the form warrant.SealOpening takes), creating and storing its seed on
// first use.
func (c *Client) OpeningKey() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seed, ok := c.st.Get(openingKeyRecord)
	if !ok {
		seed = make([]byte, 32)
		if _, err := io.ReadFull(c.cfg.Rand, seed); err != nil {
			return nil, fmt.Errorf("client: opening key: %w", err)
		}
		c.st.Put(openingKeyRecord, seed)
		if err := c.st.Commit(); err != nil {
			return nil, fmt.Errorf("client: opening key: %w", err)
		}
	}
	sk, err := hpke.MLKEM768X25519().NewPrivateKey(seed)
	if err != nil {
		return nil, fmt.Errorf("client: opening key: %w", err)
	}
	return sk.PublicKey().Bytes(), nil
}

// Notice is one opening notice for this account, as found in the log.
type Notice struct {
	Index             uint64    `json:"index"` // the Opening entry's index in the log
	Trustee           string    `json:"trustee"`
	WarrantCommitment []byte    `json:"warrant_commitment"`
	Court             string    `json:"court"`
	Jurisdiction      string    `json:"jurisdiction"`
	CaseNumber        string    `json:"case_number"`
	LegalBasis        string    `json:"legal_basis"`
	WindowStart       time.Time `json:"window_start"`
	WindowEnd         time.Time `json:"window_end"`
	Records           uint32    `json:"records"`
	Opened            time.Time `json:"opened"`
}

// LogTrust is what the client needs to read the access log: where its tiles
// are and the checkpoint policy (log key, witness keys, threshold).
type LogTrust struct {
	URL    string // tlog-tiles prefix, e.g. https://daylight.example/log/; default <server>/log/
	Policy *accesslog.CheckpointPolicy
}

// ErrNoOpeningKey is returned by Notices when this device never created the
// account's opening key (no warrant can have been sealed to it).
var ErrNoOpeningKey = errors.New("client: no opening key on this device (hint: `daylight opening-key`)")

// Notices reads the whole access log under a cosigned checkpoint and returns
// the opening notices addressed to this account, in log order. Several
// trustees append an Opening for the same warrant; each is reported (the
// caller may group them by WarrantCommitment).
func (c *Client) Notices(ctx context.Context, lt LogTrust) ([]Notice, error) {
	c.mu.Lock()
	seed, ok := c.st.Get(openingKeyRecord)
	var account, server string
	if c.prof != nil {
		account, server = c.prof.Username, c.prof.Server
	}
	c.mu.Unlock()
	if account == "" {
		return nil, errors.New("client: notices: not registered")
	}
	if !ok {
		return nil, ErrNoOpeningKey
	}
	if lt.Policy == nil {
		return nil, errors.New("client: notices: no checkpoint policy (log key and witnesses)")
	}
	src := lt.URL
	if src == "" {
		src = server + "/log/"
	}
	hc := c.cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: c.cfg.TLS}, Timeout: time.Minute}
	}
	lc, err := tlog.NewClient(src, lt.Policy, hc)
	if err != nil {
		return nil, fmt.Errorf("client: notices: %w", err)
	}
	cp, err := lc.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: notices: checkpoint: %w", err)
	}
	var out []Notice
	err = lc.Entries(ctx, cp, func(index uint64, raw []byte) error {
		e, err := accesslog.ParseAs[*accesslog.Opening](raw)
		if err != nil {
			return nil // another entry type (or one this client cannot parse)
		}
		o, err := warrant.TryOpen(seed, account, e.Sealed)
		if err != nil { // ErrNotForMe, or a malformed body sealed to this key
			return nil
		}
		if o.WarrantCommitment != e.WarrantCommitment {
			return nil // a sealed body moved under another warrant's entry
		}
		out = append(out, Notice{
			Index: index, Trustee: e.Trustee, WarrantCommitment: o.WarrantCommitment[:],
			Court: o.Court, Jurisdiction: o.Jurisdiction, CaseNumber: o.CaseNumber, LegalBasis: o.LegalBasis,
			WindowStart: secTime(o.WindowStart), WindowEnd: secTime(o.WindowEnd),
			Records: o.Records, Opened: secTime(o.Opened),
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("client: notices: %w", err)
	}
	return out, nil
}

// secTime converts a warrant time (Unix seconds) to UTC.
func secTime(s uint64) time.Time { return time.Unix(int64(s), 0).UTC() }
