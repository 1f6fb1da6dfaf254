package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/daylight-im/daylight/client"
)

// block is `daylight block USER`, `daylight unblock USER` and `daylight
// blocked`: blocks live on this device only (docs/blocking.md).
func (e *env) block(args []string) error {
	a, err := parse(e.flags("block"), args, 1, 1, "USER")
	if err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	b, err := c.Block(a[0])
	if err != nil {
		return err
	}
	e.emit(b, func(w io.Writer) {
		fmt.Fprintf(w, "blocked %s: their messages are no longer shown (on this device; the provider is not told)\n", b.Username)
		warnBlockedGroups(w, c, b)
	})
	return nil
}

func (e *env) unblock(args []string) error {
	a, err := parse(e.flags("unblock"), args, 1, 1, "USER")
	if err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	if err := c.Unblock(a[0]); err != nil {
		return err
	}
	e.emit(map[string]any{"username": a[0], "blocked": false}, func(w io.Writer) {
		fmt.Fprintf(w, "unblocked %s: new messages are shown again (messages sent while blocked are not recovered)\n", a[0])
	})
	return nil
}

func (e *env) blocked(args []string) error {
	if _, err := parse(e.flags("blocked"), args, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	bs, err := c.BlockedUsers()
	if err != nil {
		return err
	}
	e.emit(bs, func(w io.Writer) {
		if len(bs) == 0 {
			fmt.Fprintln(w, "no blocked users")
		}
		for _, b := range bs {
			fmt.Fprintf(w, "%s  blocked since %s  %d message(s) not shown\n", b.Username, b.Since.Local().Format("2006-01-02 15:04"), b.Dropped)
			warnBlockedGroups(w, c, b)
		}
	})
	return nil
}

// warnBlockedGroups lists the groups in which a blocked user is a member.
func warnBlockedGroups(w io.Writer, c *client.Client, b client.Blocked) {
	for _, id := range b.Groups {
		g, _ := c.Group(id)
		fmt.Fprintf(w, "  note: %s is a member of group %s (%s); you still receive nothing they send there; `daylight group leave %s` to leave it\n", b.Username, g.Name, id[:8], id[:8])
	}
}

// warnBlockedMembers is printed under a group that has blocked members.
func warnBlockedMembers(w io.Writer, g client.GroupInfo) {
	if len(g.Blocked) > 0 {
		fmt.Fprintf(w, "  WARNING: this group contains %s, whom you blocked: their messages are hidden\n", strings.Join(g.Blocked, ", "))
	}
}

// blockedDropped is the total of messages from blocked users not shown, for
// the note after sync.
func blockedDropped(c *client.Client) int {
	bs, err := c.BlockedUsers()
	if err != nil {
		return 0
	}
	n := 0
	for _, b := range bs {
		n += b.Dropped
	}
	return n
}
