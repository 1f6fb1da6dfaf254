package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/daylight-im/daylight/moderation"
)

// report is `daylight report GROUP MSGID --reason R [--context N] [--comment TEXT]`:
// an abuse report of a received message to the provider (docs/moderation.md).
// Flags may come before or after the arguments.
func (e *env) report(ctx context.Context, args []string) error {
	fs := e.flags("report")
	reason := fs.String("reason", "", "")
	contextN := fs.Int("context", 0, "")
	comment := fs.String("comment", "", "")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usageErr("report: %v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	var reasons []string
	for _, r := range moderation.Reasons() {
		reasons = append(reasons, string(r))
	}
	what := "GROUP MSGID --reason " + strings.Join(reasons, "|") + " [--context N] [--comment TEXT]"
	if len(pos) != 2 || *reason == "" || *contextN < 0 {
		return usageErr("usage: daylight report %s", what)
	}
	id, err := strconv.Atoi(pos[1])
	if err != nil || id <= 0 {
		return usageErr("report: MSGID %q is not a message id (see `daylight history GROUP`)", pos[1])
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	res, err := c.Report(ctx, pos[0], id, *reason, *comment, *contextN)
	if err != nil {
		return err
	}
	e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "reported message #%d (%s) with %d context message(s): report %s\n", res.Message, res.Reason, len(res.Context), res.ID)
	})
	return nil
}
