package main

import (
	"context"
	"fmt"
	"io"

	"github.com/daylight-im/daylight/client"
)

// status is `daylight status`: this account's standing with the provider's
// moderators (warnings, suspension), docs/blocking.md.
func (e *env) status(ctx context.Context, args []string) error {
	if _, err := parse(e.flags("status"), args, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	st, err := c.Standing(ctx)
	if err != nil {
		return err
	}
	e.emit(st, func(w io.Writer) {
		if !st.Available {
			fmt.Fprintln(w, "this provider does not publish moderation status")
			return
		}
		if !st.Suspended && len(st.Warnings) == 0 {
			fmt.Fprintln(w, "account in good standing: no warnings, not suspended")
			return
		}
		printStanding(w, st, false)
	})
	return nil
}

// printStanding shows the suspension and the warnings (only the new ones
// with onlyNew), each with a hint.
func printStanding(w io.Writer, st client.Standing, onlyNew bool) {
	if st.Suspended {
		since := ""
		if st.Since != nil {
			since = " since " + st.Since.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "ACCOUNT SUSPENDED by the provider's moderators%s: you cannot send messages.\n", since)
		fmt.Fprintln(w, "  hint: you can still read; contact the provider to appeal")
	}
	shown := 0
	for _, wa := range st.Warnings {
		if onlyNew && !wa.New {
			continue
		}
		fmt.Fprintf(w, "WARNING from the provider's moderators (%s): %s\n", wa.Time.Local().Format("2006-01-02 15:04"), wa.Text)
		shown++
	}
	if shown > 0 {
		fmt.Fprintln(w, "  hint: a report of a message you sent was upheld; further violations may get the account suspended (`daylight status` lists all warnings)")
	}
}

// noteStanding prints new warnings and a suspension on w after sync and
// when interactive mode starts; failures to fetch are silent (the standing
// is advisory, the messages are what the command is for).
func noteStanding(ctx context.Context, w io.Writer, c *client.Client) {
	st, err := c.Standing(ctx)
	if err != nil || !st.Available || (!st.Suspended && st.New == 0) {
		return
	}
	printStanding(w, st, true)
}
