package main

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/policy"
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
	// LoggedAt is the index of the bundle's Evidence entry in the access log
	// (with --log).
	LoggedAt *uint64 `json:"logged_at,omitempty"`
}

// bundleFS opens a bundle directory or zip file.
func bundleFS(path string) (fs.FS, func(), error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return os.DirFS(path), func() {}, nil
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, err
	}
	return z, func() { z.Close() }, nil
}

// bundleLogged looks for the bundle's Evidence entry (digest = SHA-256 of
// manifest.json) in the access log named by the bundle's own policy, read
// from src and verified against that policy's log key and witnesses.
func bundleLogged(ctx context.Context, path, src string) (uint64, error) {
	fsys, done, err := bundleFS(path)
	if err != nil {
		return 0, err
	}
	defer done()
	manifest, err := fs.ReadFile(fsys, evidence.ManifestFile)
	if err != nil {
		return 0, err
	}
	pb, err := fs.ReadFile(fsys, evidence.PolicyFile)
	if err != nil {
		return 0, err
	}
	ps, err := policy.ParseSigned(pb)
	if err != nil {
		return 0, err
	}
	pol, err := policy.Verify(ps)
	if err != nil {
		return 0, err
	}
	cpol, err := pol.CheckpointPolicy()
	if err != nil {
		return 0, err
	}
	c, err := tlog.NewClient(src, cpol, nil)
	if err != nil {
		return 0, err
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	digest := sha256.Sum256(manifest)
	found, at := false, uint64(0)
	err = c.Entries(ctx, cp, func(i uint64, raw []byte) error {
		if e, err := accesslog.ParseAs[*accesslog.Evidence](raw); err == nil && e.Kind == accesslog.EvidenceBundle && e.Digest == digest && !found {
			found, at = true, i
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("the bundle's digest %x is not in the log (checkpoint of size %d)", digest[:8], cp.Size)
	}
	return at, nil
}

// runBundle checks an evidence bundle offline (evidence.VerifyPath): the
// authority's signature on the manifest, every file's hash, the policy, the
// court's signature, the log entries and their inclusion under a witnessed
// checkpoint, the trustees' release signatures, each message's scope and MLS
// signature. It lists every problem by file and line.
func runBundle(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("daylight-verify bundle", flag.ContinueOnError)
	fset.SetOutput(stderr)
	authKey := fset.String("authority-key", "", "the requesting authority's Ed25519 public key (base64), if known out of band")
	asJSON := fset.Bool("json", false, "print the report as JSON")
	logSrc := fset.String("log", "", "also check that the bundle's digest is in the access log (tlog-tiles URL prefix or directory), verified with the bundle's policy")
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
	if out.OK && *logSrc != "" {
		at, err := bundleLogged(ctx, path, *logSrc)
		if err != nil {
			out.OK = false
			out.Problems = append(out.Problems, "access log: "+err.Error())
		} else {
			out.LoggedAt = &at
		}
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
		if out.LoggedAt != nil {
			fmt.Fprintf(stdout, "  digest logged in the access log at index %d\n", *out.LoggedAt)
		}
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
