package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Blocking (issue 7, "block a user"; docs/blocking.md).
//
// Blocks are kept on this device only, in the encrypted local store (record
// "blocks"): the provider never learns whom a user blocked. A blocked
// account's texts and files are still received and decrypted — the MLS
// state must advance, and its commits and group renames are processed as
// usual, since they are the group's state, not its content — but they are
// dropped before they reach the history: Sync, Wait and Listen never return
// them, and each dropped message is counted. Messages received before the block stay in the store
// but History no longer returns them; unblocking shows them again. The
// client refuses to add a blocked user to a group, and GroupInfo.Blocked
// names the blocked users among a group's members so the user can be warned.

// ErrBlocked is returned when an operation names a blocked user.
var ErrBlocked = errors.New("client: user is blocked")

// blockRecord is one blocked account.
type blockRecord struct {
	Since   time.Time `json:"since"`
	Dropped int       `json:"dropped"` // application messages not shown since the block
}

// blocksRecord is the store record "blocks".
type blocksRecord struct {
	Users map[string]*blockRecord `json:"users"`
}

// Blocked describes one blocked account.
type Blocked struct {
	Username string    `json:"username"`
	Since    time.Time `json:"since"`
	// Dropped counts this account's application messages received and not
	// shown since it was blocked.
	Dropped int `json:"dropped"`
	// Groups are the ids of this device's groups in which the account is a
	// member (the user may want to leave them).
	Groups []string `json:"groups,omitempty"`
}

func (c *Client) blocks() *blocksRecord {
	br := &blocksRecord{Users: map[string]*blockRecord{}}
	if b, ok := c.st.Get("blocks"); ok {
		if json.Unmarshal(b, br) != nil || br.Users == nil {
			br.Users = map[string]*blockRecord{}
		}
	}
	return br
}

func (c *Client) putBlocks(br *blocksRecord) error {
	b, err := json.Marshal(br)
	if err != nil {
		return err
	}
	c.st.Put("blocks", b)
	return nil
}

// isBlocked reports whether user is blocked on this device.
func (c *Client) isBlocked(user string) bool {
	_, ok := c.blocks().Users[user]
	return ok
}

// Block blocks user on this device (no request to the server). It is
// durable when Block returns. Blocking an already blocked user keeps the
// original time and count.
func (c *Client) Block(user string) (Blocked, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return Blocked{}, err
	}
	user = strings.TrimSpace(user)
	if user == "" {
		return Blocked{}, errors.New("client: block: empty username")
	}
	if user == c.prof.Username {
		return Blocked{}, errors.New("client: block: you cannot block your own account (hint: revoke a device with `daylight devices revoke ID`)")
	}
	br := c.blocks()
	if br.Users[user] == nil {
		br.Users[user] = &blockRecord{Since: c.cfg.Now().UTC()}
		if err := c.putBlocks(br); err != nil {
			return Blocked{}, err
		}
		if err := c.st.Commit(); err != nil {
			return Blocked{}, err
		}
	}
	return c.describeBlock(user, br.Users[user])
}

// Unblock lifts a block; messages that were dropped while it held are not
// recovered, messages received before it are shown again by History.
func (c *Client) Unblock(user string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return err
	}
	br := c.blocks()
	if br.Users[user] == nil {
		return fmt.Errorf("client: %s is not blocked (hint: `daylight blocked` lists blocked users)", user)
	}
	delete(br.Users, user)
	if err := c.putBlocks(br); err != nil {
		return err
	}
	return c.st.Commit()
}

// BlockedUsers lists the blocked accounts, by name.
func (c *Client) BlockedUsers() ([]Blocked, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return nil, err
	}
	br := c.blocks()
	out := []Blocked{}
	for _, u := range slices.Sorted(mapKeys(br.Users)) {
		b, err := c.describeBlock(u, br.Users[u])
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (c *Client) describeBlock(user string, r *blockRecord) (Blocked, error) {
	b := Blocked{Username: user, Since: r.Since, Dropped: r.Dropped}
	for _, k := range c.st.List("group/") {
		gs, err := c.loadGroup(strings.TrimPrefix(k, "group/"))
		if err != nil {
			return Blocked{}, err
		}
		if gs.Removed || gs.Left || gs.m == nil || gs.m.g == nil {
			continue
		}
		if slices.ContainsFunc(members(gs.m.g), func(m Member) bool { return m.Username == user }) {
			b.Groups = append(b.Groups, gs.hexID())
		}
	}
	return b, nil
}

// refuseBlocked is the check before adding users to a group.
func (c *Client) refuseBlocked(users []string) error {
	br := c.blocks()
	for _, u := range users {
		if br.Users[u] != nil {
			return fmt.Errorf("%w: %s", ErrBlocked, u)
		}
	}
	return nil
}

// dropBlocked is the check on receipt of an application message from user:
// true means it is not shown, and it is counted (the caller's page commit
// makes the count durable).
func (c *Client) dropBlocked(user string) bool {
	br := c.blocks()
	r := br.Users[user]
	if r == nil {
		return false
	}
	r.Dropped++
	_ = c.putBlocks(br)
	return true
}

// blockedMembers lists the blocked accounts among ms (sorted, once each).
func (c *Client) blockedMembers(ms []Member) []string {
	br := c.blocks()
	if len(br.Users) == 0 {
		return nil
	}
	var out []string
	for _, m := range ms {
		if br.Users[m.Username] != nil && !slices.Contains(out, m.Username) {
			out = append(out, m.Username)
		}
	}
	slices.Sort(out)
	return out
}

// hiddenByBlock reports whether History leaves m out: a text or file from
// a blocked account.
func (c *Client) hiddenByBlock(br *blocksRecord, m Message) bool {
	return !m.Outgoing && (m.Kind == "text" || m.Kind == "file") && br.Users[m.From] != nil
}

// blockNote is appended to the event of a commit that added a blocked
// account's devices to a group this device is in.
func (c *Client) blockNote(added []Member) string {
	if bl := c.blockedMembers(added); len(bl) > 0 {
		return fmt.Sprintf(" (you blocked %s: their messages stay hidden; consider leaving the group)", strings.Join(bl, ", "))
	}
	return ""
}
