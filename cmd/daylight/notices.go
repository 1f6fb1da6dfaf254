package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/client"
)

// Opening notices (A7): `daylight opening-key` prints (creating it on first
// use) the account's X-Wing key to which trustees seal the opening at a
// warrant's embargo end; `daylight notices` reads the access log and shows
// the openings addressed to this account (docs/notices.md).

const noticesUsage = "[--log URL] --log-key VKEY [--witness VKEY]... [--threshold N]"

type listFlag []string

func (s *listFlag) String() string     { return strings.Join(*s, ",") }
func (s *listFlag) Set(v string) error { *s = append(*s, v); return nil }

func (e *env) openingKey(args []string) error {
	fs := e.flags("opening-key")
	if _, err := parse(fs, args, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	pub, err := c.OpeningKey()
	if err != nil {
		return err
	}
	b64 := base64.StdEncoding.EncodeToString(pub)
	e.emit(map[string]string{"opening_key": b64}, func(w io.Writer) { fmt.Fprintln(w, b64) })
	return nil
}

func (e *env) notices(ctx context.Context, args []string) error {
	fs := e.flags("notices")
	logURL := fs.String("log", "", "")
	logKey := fs.String("log-key", "", "")
	threshold := fs.Int("threshold", -1, "")
	var witnesses listFlag
	fs.Var(&witnesses, "witness", "")
	if _, err := parse(fs, args, 0, 0, noticesUsage); err != nil {
		return err
	}
	if *logKey == "" {
		return usageErr("usage: daylight notices %s (the log key and witness keys are in the provider's published policy)", noticesUsage)
	}
	if *threshold < 0 {
		*threshold = len(witnesses)
	}
	origin, _, _ := strings.Cut(*logKey, "+")
	pol, err := accesslog.NewCheckpointPolicy(origin, *logKey, witnesses, *threshold)
	if err != nil {
		return fmt.Errorf("notices: %w", err)
	}
	c, err := e.open(false)
	if err != nil {
		return err
	}
	ns, err := c.Notices(ctx, client.LogTrust{URL: *logURL, Policy: pol})
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []client.Notice{}
	}
	e.emit(ns, func(w io.Writer) {
		if len(ns) == 0 {
			fmt.Fprintln(w, "no opening notices: no warrant on this account has reached its embargo end")
			return
		}
		seen := map[string]bool{}
		for _, n := range ns {
			id := fmt.Sprintf("%x", n.WarrantCommitment)
			if seen[id] {
				continue // the same warrant opened by another trustee
			}
			seen[id] = true
			fmt.Fprintf(w, "your account was accessed under a warrant (log entry %d, opened %s by %s):\n", n.Index, n.Opened.Format("2006-01-02 15:04 UTC"), n.Trustee)
			fmt.Fprintf(w, "  window   %s to %s\n", n.WindowStart.Format("2006-01-02 15:04:05 UTC"), n.WindowEnd.Format("2006-01-02 15:04:05 UTC"))
			fmt.Fprintf(w, "  court    %s (%s), case %s\n", n.Court, n.Jurisdiction, n.CaseNumber)
			fmt.Fprintf(w, "  basis    %s\n", n.LegalBasis)
			fmt.Fprintf(w, "  records  %d released\n", n.Records)
			fmt.Fprintf(w, "  warrant  %s\n", id[:16])
		}
	})
	return nil
}
