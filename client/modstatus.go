package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/daylight-im/daylight/api"
	"github.com/daylight-im/daylight/moderation"
)

// Account standing (issue 7, "warnings shown to users"; docs/blocking.md):
// when a moderator warns or suspends this account (docs/moderation.md), the
// provider serves it on moderation.RouteStatus; the client fetches it and
// tells the user, each warning once as new.

// ProviderWarning is a warning a moderator of the provider sent this account.
type ProviderWarning struct {
	Text string    `json:"text"`
	Time time.Time `json:"time"`
	New  bool      `json:"new,omitempty"` // not shown by an earlier Standing call on this device
}

// Standing is this account's standing with the provider's moderators.
type Standing struct {
	// Available is false when the provider serves no moderation status (a
	// server without the moderation service).
	Available bool              `json:"available"`
	Suspended bool              `json:"suspended"`
	Since     *time.Time        `json:"since,omitempty"`
	Warnings  []ProviderWarning `json:"warnings"`
	New       int               `json:"new"` // warnings not seen before on this device
}

// seenRecord is the store record "moderation-seen": how many of the
// account's warnings this device has already shown.
type seenRecord struct {
	Warnings int `json:"warnings"`
}

// Standing fetches this account's warnings and suspension and marks every
// warning as seen on this device (Standing.New counts those that were not).
func (c *Client) Standing(ctx context.Context) (Standing, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return Standing{}, err
	}
	var resp moderation.StatusResponse
	err := c.tr.GetJSON(ctx, strings.TrimPrefix(moderation.RouteStatus, "GET "), &resp)
	if api.HasCode(err, api.CodeNotFound) || api.HasCode(err, api.CodeMethodNotAllowed) {
		return Standing{Warnings: []ProviderWarning{}}, nil
	}
	if err != nil {
		return Standing{}, fmt.Errorf("account standing: %w", err)
	}
	var seen seenRecord
	if b, ok := c.st.Get("moderation-seen"); ok {
		_ = json.Unmarshal(b, &seen)
	}
	st := Standing{Available: true, Suspended: resp.Suspended, Since: resp.Since, Warnings: []ProviderWarning{}}
	for i, w := range resp.Warnings {
		pw := ProviderWarning{Text: w.Text, Time: w.Time, New: i >= seen.Warnings}
		if pw.New {
			st.New++
		}
		st.Warnings = append(st.Warnings, pw)
	}
	if len(resp.Warnings) != seen.Warnings {
		b, _ := json.Marshal(seenRecord{Warnings: len(resp.Warnings)})
		c.st.Put("moderation-seen", b)
		if err := c.st.Commit(); err != nil {
			return st, err
		}
	}
	return st, nil
}
