package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/daylight-im/daylight/evidence"
)

// bundleReport is the result of `daylight-verify bundle` as JSON.
type bundleReport struct {
	OK           bool     `json:"ok"`
	Path         string   `json:"path"`
	Court        string   `json:"court,omitempty"`
	Jurisdiction string   `json:"jurisdiction,omitempty"`
	CaseNumber   string   `json:"case_number,omitempty"`
	Targets      []string `json:"targets,omitempty"`
	WindowStart  uint64   `json:"window_start,omitempty"`
	WindowEnd    uint64   `json:"window_end,omitempty"`
	Messages     int      `json:"messages"`
	Groups       int      `json:"groups"`
	Warnings     []string `json:"warnings"`
	Problems     []string `json:"problems"`
}

// runBundle checks an evidence bundle offline (evidence.VerifyPath): the
// authority's signature on the manifest, every file's hash, the policy, the
// court's signature, the log entries and their inclusion under a witnessed
// checkpoint, the trustees' release signatures, each message's scope and MLS
// signature. It lists every problem by file and line.
func runBundle(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("daylight-verify bundle", flag.ContinueOnError)
	fset.SetOutput(stderr)
	authKey := fset.String("authority-key", "", "the requesting authority's Ed25519 public key (base64), if known out of band")
	asJSON := fset.Bool("json", false, "print the report as JSON")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 1 {
		return errors.New("want exactly one bundle (a directory or a .zip) (hint: daylight-verify bundle case-bundle.zip)")
	}
	path := fset.Arg(0)
	var opts evidence.Options
	if *authKey != "" {
		k, err := base64.StdEncoding.Strict().DecodeString(*authKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return errors.New("--authority-key: want a base64 Ed25519 public key")
		}
		opts.AuthorityKey = k
	}
	rep, err := evidence.VerifyPath(path, opts)
	out := bundleReport{Path: path, Warnings: []string{}, Problems: []string{}}
	var ve *evidence.VerifyError
	switch {
	case err == nil:
		out.OK = true
		m := rep.Manifest
		out.Court, out.Jurisdiction, out.CaseNumber, out.Targets = m.Court, m.Jurisdiction, m.CaseNumber, m.Targets
		out.WindowStart, out.WindowEnd, out.Messages, out.Groups = m.WindowStart, m.WindowEnd, rep.Messages, rep.Groups
		out.Warnings = append(out.Warnings, rep.Warnings...)
	case errors.As(err, &ve):
		out.Problems = append(out.Problems, ve.Problems...)
	default:
		return fmt.Errorf("bundle %s: %w", path, err)
	}
	if *asJSON {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		if err := e.Encode(out); err != nil {
			return err
		}
	} else if out.OK {
		fmt.Fprintf(stdout, "OK: bundle %s\n  court %s (%s), case %s, targets %v\n  %d messages in %d groups, all in scope and signed\n",
			path, out.Court, out.Jurisdiction, out.CaseNumber, out.Targets, out.Messages, out.Groups)
		for _, w := range out.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
	} else {
		fmt.Fprintf(stdout, "FAIL: bundle %s\n", path)
		for _, p := range out.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
	}
	if !out.OK {
		return fmt.Errorf("bundle %s does not verify (%d problems)", path, len(out.Problems))
	}
	return nil
}
