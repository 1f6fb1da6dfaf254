// Command daylight-authority is the requesting authority's tool. Subcommands
// are listed in a table (commands); this file has the request subcommands:
//
//	daylight-authority request file   --server URL --key FILE --agreement ID --authority ID (--request FILE | flags)
//	daylight-authority request status --server URL --key FILE --agreement ID --authority ID <id>
//	daylight-authority request list   --server URL --key FILE --agreement ID --authority ID
//	daylight-authority request appeal --server URL --key FILE --agreement ID --authority ID --detail TEXT <id>
//	daylight-authority request keygen --key FILE   (prints the public key for the agreement file)
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/daylight-im/daylight/intake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "daylight-authority:", err)
		os.Exit(1)
	}
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands is the table of command groups; each dispatches its own
// subcommands. Other groups (case, warrant) are added as files beside this
// one, each with one entry here.
func commands() map[string]command {
	return map[string]command{
		"request": {"cross-border legal requests: file, status, list, appeal, keygen", runRequest},
		"case":    {caseSummary, runCase},
	}
}

// requestCommands lists the `request` subcommands.
func requestCommands() map[string]command {
	return map[string]command{
		"file":   {"sign and file a legal request under an agreement", requestFile},
		"status": {"show a request's state and history", requestStatus},
		"list":   {"list this authority's requests", requestList},
		"appeal": {"appeal a refusal", requestAppeal},
		"keygen": {"create an Ed25519 authority key file and print its public key", requestKeygen},
	}
}

func usageOf(w io.Writer, title string, cmds map[string]command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", title)
	var names []string
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
}

func dispatch(ctx context.Context, title string, cmds map[string]command, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usageOf(stderr, title, cmds)
		if len(args) == 0 {
			return fmt.Errorf("%s: no command (hint: daylight-authority request file -h)", title)
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usageOf(stderr, title, cmds)
		return fmt.Errorf("%s: unknown command %q", title, args[0])
	}
	return c.run(ctx, args[1:], stdin, stdout, stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "daylight-authority", commands(), args, stdin, stdout, stderr)
}

func runRequest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "daylight-authority request", requestCommands(), args, stdin, stdout, stderr)
}

type common struct {
	server, keyFile, agreement, authority string
	asJSON                                bool
	key                                   ed25519.PrivateKey
}

func (c *common) flags(f *flag.FlagSet) {
	f.StringVar(&c.server, "server", "", "the provider's base URL, e.g. https://daylight.example (required)")
	f.StringVar(&c.keyFile, "key", "", "file holding the authority's Ed25519 key (base64 seed; see request keygen) (required)")
	f.StringVar(&c.agreement, "agreement", "", "agreement id (required)")
	f.StringVar(&c.authority, "authority", "", "this authority's id in the agreement (required)")
	f.BoolVar(&c.asJSON, "json", false, "print JSON")
}

func (c *common) load() error {
	if c.server == "" || c.keyFile == "" || c.agreement == "" || c.authority == "" {
		return errors.New("--server, --key, --agreement and --authority are required (hint: the provider publishes the agreement ids)")
	}
	b, err := os.ReadFile(c.keyFile)
	if err != nil {
		return fmt.Errorf("reading the key: %w (hint: create one with `daylight-authority request keygen --key FILE`)", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("%s is not a base64 Ed25519 seed of %d bytes", c.keyFile, ed25519.SeedSize)
	}
	c.key = ed25519.NewKeyFromSeed(seed)
	return nil
}

func requestKeygen(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("request keygen", flag.ContinueOnError)
	f.SetOutput(stderr)
	path := f.String("key", "", "where to write the key (must not exist)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("--key is required")
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	fh, err := os.OpenFile(*path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w (hint: the key file must not exist yet)", err)
	}
	fmt.Fprintln(fh, base64.StdEncoding.EncodeToString(seed))
	if err := fh.Close(); err != nil {
		return err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(pub))
	return nil
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func requestFile(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("request file", flag.ContinueOnError)
	f.SetOutput(stderr)
	var c common
	c.flags(f)
	reqFile := f.String("request", "", "a JSON request (intake.Request) to sign; '-' for stdin. Without it the flags below build one")
	category := f.String("category", "", "subscriber, metadata or content")
	offence := f.String("offence", "", "offence category")
	caseRef := f.String("case", "", "your case reference")
	reviewKind := f.String("review-kind", "", "domestic review kind, e.g. judicial")
	reviewBody := f.String("review-body", "", "the reviewing body")
	reviewRef := f.String("review-ref", "", "the review's reference")
	within := f.Duration("answer-within", 10*24*time.Hour, "answer-by = now + this")
	var targets stringsFlag
	f.Var(&targets, "target", "account[:nationality[:location]] (repeatable)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := c.load(); err != nil {
		return err
	}
	now := uint64(time.Now().Unix())
	var r intake.Request
	if *reqFile != "" {
		var b []byte
		var err error
		if *reqFile == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, intake.MaxDocumentSize))
		} else {
			b, err = os.ReadFile(*reqFile)
		}
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("%s: %w (hint: fields are those of intake.Request, docs/intake.md)", *reqFile, err)
		}
	} else {
		r = intake.Request{Category: intake.Category(*category), Offence: *offence, Case: *caseRef, AnswerBy: now + uint64(within.Seconds())}
		for _, t := range targets {
			p := strings.SplitN(t, ":", 3)
			tg := intake.Target{Account: p[0]}
			if len(p) > 1 {
				tg.Nationality = p[1]
			}
			if len(p) > 2 {
				tg.Location = p[2]
			}
			r.Targets = append(r.Targets, tg)
		}
		if *reviewKind != "" {
			r.Review = &intake.Review{Kind: *reviewKind, Body: *reviewBody, Reference: *reviewRef, Time: now}
		}
	}
	r.Version, r.Agreement, r.Authority = intake.FormatVersion, c.agreement, c.authority
	if r.Issued == 0 {
		r.Issued = now
	}
	if r.Nonce == "" {
		n := make([]byte, 12)
		rand.Read(n)
		r.Nonce = base64.RawURLEncoding.EncodeToString(n)
	}
	s, err := intake.Sign(&r, c.key)
	if err != nil {
		return fmt.Errorf("%w (hint: see `daylight-authority request file -h`)", err)
	}
	body, _ := s.Marshal()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.server, "/")+"/intake/v1/requests", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	var v intake.View
	status, err := do(req, &v)
	if err != nil {
		return err
	}
	if err := show(stdout, c.asJSON, v); err != nil {
		return err
	}
	if status == http.StatusUnprocessableEntity {
		return fmt.Errorf("refused: %s (%s)", v.Reason, v.Detail)
	}
	return nil
}

// do sends req and decodes a 2xx or 422 answer into v; other statuses
// become errors carrying the API's message and hint.
func do(req *http.Request, v any) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w (hint: check --server)", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusUnprocessableEntity {
		if err := json.Unmarshal(b, v); err != nil {
			return 0, fmt.Errorf("the server's answer is not understood: %w", err)
		}
		return resp.StatusCode, nil
	}
	var e struct{ Error intake.APIError }
	if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
		msg := fmt.Sprintf("%s (%s): %s", resp.Status, e.Error.Code, e.Error.Message)
		if e.Error.Hint != "" {
			msg += " (hint: " + e.Error.Hint + ")"
		}
		return 0, errors.New(msg)
	}
	return 0, fmt.Errorf("%s (hint: is --server a Daylight server with the intake enabled?)", resp.Status)
}

// call makes an authenticated API call (intake.SignQuery) and decodes the answer.
func (c *common) call(ctx context.Context, method, path string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	intake.SignQuery(req.Header, c.agreement, c.authority, c.key, method, path, uint64(time.Now().Unix()), body)
	_, err = do(req, v)
	return err
}

func (c *common) get(ctx context.Context, path string, v any) error {
	return c.call(ctx, http.MethodGet, path, nil, v)
}

func requestAppeal(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("request appeal", flag.ContinueOnError)
	f.SetOutput(stderr)
	var c common
	c.flags(f)
	detail := f.String("detail", "", "why the refusal should be reconsidered (required)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 || *detail == "" {
		return errors.New("give one request id and --detail (hint: daylight-authority request appeal --detail '...' <id>)")
	}
	if _, err := intake.ParseID(f.Arg(0)); err != nil {
		return err
	}
	if err := c.load(); err != nil {
		return err
	}
	body, _ := json.Marshal(intake.AppealRequest{Detail: *detail})
	var v intake.View
	if err := c.call(ctx, http.MethodPost, "/intake/v1/requests/"+f.Arg(0)+"/appeal", body, &v); err != nil {
		return err
	}
	return show(stdout, c.asJSON, v)
}

func requestStatus(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("request status", flag.ContinueOnError)
	f.SetOutput(stderr)
	var c common
	c.flags(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errors.New("give one request id (hint: `daylight-authority request list`)")
	}
	if _, err := intake.ParseID(f.Arg(0)); err != nil {
		return fmt.Errorf("%w (hint: ids are printed by `request file`)", err)
	}
	if err := c.load(); err != nil {
		return err
	}
	var v intake.View
	if err := c.get(ctx, "/intake/v1/requests/"+f.Arg(0), &v); err != nil {
		return err
	}
	return show(stdout, c.asJSON, v)
}

func requestList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("request list", flag.ContinueOnError)
	f.SetOutput(stderr)
	var c common
	c.flags(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := c.load(); err != nil {
		return err
	}
	var vs []intake.View
	if err := c.get(ctx, "/intake/v1/requests", &vs); err != nil {
		return err
	}
	if c.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(vs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCATEGORY\tSTATE\tREASON\tRECEIVED")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Category, v.State, v.Reason, ts(v.History[0].Time))
	}
	return tw.Flush()
}

func ts(t uint64) string { return time.Unix(int64(t), 0).UTC().Format(time.RFC3339) }

func show(w io.Writer, asJSON bool, v intake.View) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(w, "request %s\n  agreement %s (%s, %s), authority %s, %s data, case %q\n  state: %s", v.ID, v.Agreement, v.Jurisdiction, v.Instrument, v.Authority, v.Category, v.Case, v.State)
	if v.Reason != "" {
		fmt.Fprintf(w, " (%s: %s)", v.Reason, v.Detail)
	}
	fmt.Fprintln(w)
	for _, h := range v.History {
		fmt.Fprintf(w, "  %s  %-22s %s  log entry %d\n", ts(h.Time), h.State, h.Reason, h.LogIndex)
	}
	return nil
}
