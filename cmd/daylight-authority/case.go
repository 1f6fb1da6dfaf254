package main

// The `case` subcommands of daylight-authority: the requesting authority's
// lawful-access case (docs/trustee.md), one step per command so each step's
// output can be inspected and kept:
//
//	daylight-authority case keygen  --out authority.keys --name NAME
//	daylight-authority case file    --keys K --policy P --warrant W [--records R] --log L --append A --out case.json
//	daylight-authority case fetch   --case case.json --server DS [--retained R.jsonl] [--states S.json] [--present-only]
//	daylight-authority case collect --keys K --case case.json --log L --trustee ID=URL ... [--want N]
//	daylight-authority case decrypt --keys K --case case.json --log L --retained R.jsonl --states S.json --out M.jsonl
//	daylight-authority case bundle  --keys K --case case.json --log L --messages M.jsonl --out bundle.zip [--append A]

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/warrant"
)

// caseCommands lists the `case` subcommands.
func caseCommands() map[string]command {
	return map[string]command{
		"keygen":  {"generate the authority's keys (X-Wing for shares, Ed25519 for bundles)", runCaseKeygen},
		"file":    {"log a court-signed warrant's commitment and start a case", runCaseFile},
		"fetch":   {"present a filed warrant to the DS; fetch its records and retained ciphertext (fetch.go)", runCaseFetch},
		"collect": {"ask trustees for their shares and check every answer", runCaseCollect},
		"decrypt": {"recover, name lying trustees, and decrypt the retained messages", runCaseDecrypt},
		"bundle":  {"recover, name lying trustees, and build the evidence bundle", runCaseBundle},
	}
}

// caseSummary is the one-line summary of `case` in the tool's command table.
const caseSummary = "lawful-access case: keygen, file, collect, decrypt, bundle"

// runCase dispatches `daylight-authority case <sub> ...`.
func runCase(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmds := caseCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: daylight-authority case <command> [flags]\n\ncommands:")
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-8s %s\n", n, cmds[n].summary)
		}
		if len(args) == 0 {
			return errors.New("case: no command (hint: daylight-authority case keygen --out authority.keys --name NAME)")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("case: unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], stdin, stdout, stderr)
}

type caseStrings []string

func (s *caseStrings) String() string     { return strings.Join(*s, ",") }
func (s *caseStrings) Set(v string) error { *s = append(*s, v); return nil }

func caseFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("daylight-authority case "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func caseWriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func runCaseKeygen(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := caseFlags("keygen", stderr)
	out := fs.String("out", "", "write the private keys here (mode 0600; must not exist)")
	name := fs.String("name", "", "the authority's name as the court will write it in warrants")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *name == "" {
		return errors.New("case keygen: --out and --name are required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("case keygen: %s exists (hint: keys are never overwritten)", *out)
	}
	k, err := authority.GenerateKeys(*name, rand.Reader)
	if err != nil {
		return err
	}
	b, err := k.Marshal()
	if err != nil {
		return err
	}
	if err := caseWriteFile(*out, b, 0o600); err != nil {
		return err
	}
	// The public keys, ready to paste into the warrant JSON the court signs.
	e := json.NewEncoder(stdout)
	e.SetIndent("", "  ")
	return e.Encode(k.Public())
}

// caseEnv is what most steps need: keys, policy, log reader, and an
// Authority over them.
type caseEnv struct {
	keys   *authority.Keys
	polS   *policy.Signed
	pol    *policy.Verified
	reader *tlog.Client
	auth   *authority.Authority
}

func caseLoadEnv(keysPath string, pol *policy.Signed, logSrc, appendURL, tokenFile string) (*caseEnv, error) {
	if keysPath == "" || logSrc == "" {
		return nil, errors.New("--keys and --log are required")
	}
	kb, err := os.ReadFile(keysPath)
	if err != nil {
		return nil, err
	}
	keys, err := authority.ParseKeys(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keysPath, err)
	}
	v, err := policy.Verify(pol)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	cpol, err := v.CheckpointPolicy()
	if err != nil {
		return nil, err
	}
	reader, err := tlog.NewClient(logSrc, cpol, nil)
	if err != nil {
		return nil, fmt.Errorf("--log: %w", err)
	}
	cfg := authority.Config{Keys: keys, Policy: v, Reader: reader}
	if appendURL != "" {
		app := service.HTTPAppender{URL: appendURL}
		if tokenFile != "" {
			tok, err := os.ReadFile(tokenFile)
			if err != nil {
				return nil, err
			}
			app.Token = strings.TrimSpace(string(tok))
		}
		cfg.Log = app
	}
	a, err := authority.New(cfg)
	if err != nil {
		return nil, err
	}
	return &caseEnv{keys: keys, polS: pol, pol: v, reader: reader, auth: a}, nil
}

func caseRead(path string) (*authority.Case, error) {
	if path == "" {
		return nil, errors.New("--case is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return authority.ParseCase(b)
}

func caseSave(path string, c *authority.Case) error {
	b, err := authority.MarshalCase(c)
	if err != nil {
		return err
	}
	return caseWriteFile(path, b, 0o600)
}

func runCaseFile(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := caseFlags("file", stderr)
	keys := fs.String("keys", "", "the authority's keys (case keygen)")
	polPath := fs.String("policy", "", "the signed access policy")
	wPath := fs.String("warrant", "", "the court-signed warrant (daylight-court sign)")
	recPath := fs.String("records", "", `the escrow records asked for: JSON [{"record": b64, "epoch_evidence": b64}] from the delivery service`)
	logSrc := fs.String("log", "", "the access log: tlog-tiles URL prefix or directory")
	appendURL := fs.String("append", "", "the provider's log append endpoint")
	token := fs.String("append-token-file", "", "bearer token file for --append")
	out := fs.String("out", "case.json", "write the case here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *polPath == "" || *wPath == "" || *appendURL == "" {
		return errors.New("case file: --policy, --warrant and --append are required (--records, or later case fetch)")
	}
	pb, err := os.ReadFile(*polPath)
	if err != nil {
		return err
	}
	ps, err := policy.ParseSigned(pb)
	if err != nil {
		return fmt.Errorf("case file: %s: %w", *polPath, err)
	}
	env, err := caseLoadEnv(*keys, ps, *logSrc, *appendURL, *token)
	if err != nil {
		return fmt.Errorf("case file: %w", err)
	}
	wb, err := os.ReadFile(*wPath)
	if err != nil {
		return err
	}
	sw, err := warrant.ParseSigned(wb)
	if err != nil {
		return fmt.Errorf("case file: %s: %w", *wPath, err)
	}
	var recs []service.RecordRequest
	if *recPath != "" { // without: the prospective flow fetches them later (case fetch)
		rb, err := os.ReadFile(*recPath)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(rb)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&recs); err != nil || len(recs) == 0 {
			return fmt.Errorf("case file: %s: want a non-empty JSON list of records (%v)", *recPath, err)
		}
	}
	var rr []trustee.RecordRequest
	for _, r := range recs {
		rr = append(rr, trustee.RecordRequest{Record: r.Record, EpochEvidence: r.EpochEvidence})
	}
	c, err := env.auth.File(ctx, ps, sw, rr)
	if err != nil {
		return fmt.Errorf("case file: %w", err)
	}
	if err := caseSave(*out, c); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "filed: warrant commitment %x at log index %d, %d records -> %s\n",
		warrant.Commitment(sw, c.Salt), c.WarrantEntry.Index, len(rr), *out)
	return nil
}

func runCaseCollect(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := caseFlags("collect", stderr)
	keys := fs.String("keys", "", "the authority's keys")
	casePath := fs.String("case", "case.json", "the case (updated in place)")
	logSrc := fs.String("log", "", "the access log: tlog-tiles URL prefix or directory")
	want := fs.Int("want", 0, "trustees to collect from in total (default: the policy's k)")
	caFile := fs.String("ca", "", "PEM file of extra CA certificates for the trustees' TLS (default: system roots)")
	var trustees caseStrings
	fs.Var(&trustees, "trustee", "a trustee as ID=URL (repeatable; asked in order)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := caseRead(*casePath)
	if err != nil {
		return fmt.Errorf("case collect: %w", err)
	}
	env, err := caseLoadEnv(*keys, c.Policy, *logSrc, "", "")
	if err != nil {
		return fmt.Errorf("case collect: %w", err)
	}
	hc := &http.Client{Timeout: 2 * time.Minute}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("case collect: --ca %s: no certificate", *caFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	var ts []authority.Trustee
	for _, t := range trustees {
		id, url, ok := strings.Cut(t, "=")
		if !ok || id == "" || url == "" {
			return fmt.Errorf("case collect: --trustee %q: want ID=URL", t)
		}
		ts = append(ts, authority.Trustee{ID: id, Client: &service.Client{URL: url, HTTP: hc}})
	}
	if *want == 0 {
		*want = int(env.pol.K)
	}
	err = env.auth.Collect(ctx, c, ts, *want)
	if serr := caseSave(*casePath, c); serr != nil {
		return serr
	}
	for _, r := range c.Releases {
		fmt.Fprintf(stdout, "released: %s (release entry at log index %d, %d shares)\n", r.Trustee, r.Entry.Index, len(r.Shares))
	}
	for _, r := range c.Refusals {
		fmt.Fprintf(stdout, "refused: %s: %s\n", r.Trustee, r.Reason)
	}
	if err != nil {
		return fmt.Errorf("case collect: %w", err)
	}
	return nil
}

func runCaseBundle(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := caseFlags("bundle", stderr)
	keys := fs.String("keys", "", "the authority's keys")
	casePath := fs.String("case", "case.json", "the case")
	logSrc := fs.String("log", "", "the access log: tlog-tiles URL prefix or directory")
	msgPath := fs.String("messages", "", "the decrypted in-scope messages, JSON Lines of evidence messages")
	out := fs.String("out", "", "write the bundle here: a .zip file, or a directory (must not exist)")
	appendURL := fs.String("append", "", "if set, log the bundle's digest (Evidence entry) through this endpoint")
	token := fs.String("append-token-file", "", "bearer token file for --append")
	ref := fs.String("ref", "", "reference for the Evidence entry (no personal data; default: the case number)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *msgPath == "" {
		return errors.New("case bundle: --out and --messages are required (hint: the MLS decryption step writes --messages)")
	}
	c, err := caseRead(*casePath)
	if err != nil {
		return fmt.Errorf("case bundle: %w", err)
	}
	env, err := caseLoadEnv(*keys, c.Policy, *logSrc, *appendURL, *token)
	if err != nil {
		return fmt.Errorf("case bundle: %w", err)
	}
	recs, err := env.auth.Recover(c)
	if err != nil {
		return fmt.Errorf("case bundle: %w (hint: case collect --want %d asks one more trustee)", err, len(c.Releases)+1)
	}
	if liars := authority.Liars(recs); len(liars) > 0 {
		fmt.Fprintf(stdout, "LIARS: trustees %s released wrong shares (their signed shares are in %s)\n", strings.Join(liars, ", "), *casePath)
	}
	msgs, err := caseReadMessages(*msgPath)
	if err != nil {
		return fmt.Errorf("case bundle: %w", err)
	}
	b, err := env.auth.Bundle(ctx, c, recs, msgs)
	if err != nil {
		return fmt.Errorf("case bundle: %w", err)
	}
	if strings.HasSuffix(*out, ".zip") {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if err := b.WriteZip(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	} else if err := b.WriteDir(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bundle: %d messages, %d records, digest %x -> %s\n", len(msgs), len(recs), b.Digest(), *out)
	if *appendURL != "" {
		w, err := warrant.Parse(c.Warrant.Body)
		if err != nil {
			return fmt.Errorf("case bundle: %w", err)
		}
		r := *ref
		if r == "" {
			r = w.CaseNumber
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		idx, err := env.auth.LogBundle(ctx, b, w.Jurisdiction, r)
		if err != nil {
			return fmt.Errorf("case bundle: log the bundle: %w", err)
		}
		fmt.Fprintf(stdout, "bundle digest logged at index %d\n", idx)
	}
	return nil
}

// caseStateKey names an epoch in the --states file: "<group hex>/<epoch>".
func caseStateKey(group []byte, epoch uint64) string { return fmt.Sprintf("%x/%d", group, epoch) }

func runCaseDecrypt(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := caseFlags("decrypt", stderr)
	keys := fs.String("keys", "", "the authority's keys")
	casePath := fs.String("case", "case.json", "the case")
	logSrc := fs.String("log", "", "the access log: tlog-tiles URL prefix or directory")
	retPath := fs.String("retained", "", `retained ciphertext, JSON Lines {"group": b64, "epoch": N, "time_ms": N, "ciphertext": b64} (from the delivery service)`)
	statesPath := fs.String("states", "", `epoch states, JSON {"<group hex>/<epoch>": {"cipher_suite", "leaf_count", "group_context", "members"}} (from the delivery service)`)
	out := fs.String("out", "messages.jsonl", "write the decrypted messages here (JSON Lines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *retPath == "" || *statesPath == "" {
		return errors.New("case decrypt: --retained and --states are required")
	}
	c, err := caseRead(*casePath)
	if err != nil {
		return fmt.Errorf("case decrypt: %w", err)
	}
	env, err := caseLoadEnv(*keys, c.Policy, *logSrc, "", "")
	if err != nil {
		return fmt.Errorf("case decrypt: %w", err)
	}
	recs, err := env.auth.Recover(c)
	if err != nil {
		return fmt.Errorf("case decrypt: %w (hint: case collect --want %d asks one more trustee)", err, len(c.Releases)+1)
	}
	if liars := authority.Liars(recs); len(liars) > 0 {
		fmt.Fprintf(stdout, "LIARS: trustees %s released wrong shares (their signed shares are in %s)\n", strings.Join(liars, ", "), *casePath)
	}
	sb, err := os.ReadFile(*statesPath)
	if err != nil {
		return err
	}
	var states map[string]*authority.EpochState
	if err := json.Unmarshal(sb, &states); err != nil {
		return fmt.Errorf("case decrypt: %s: %w", *statesPath, err)
	}
	rb, err := os.ReadFile(*retPath)
	if err != nil {
		return err
	}
	var retained []authority.Retained
	for i, line := range strings.Split(string(rb), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var r authority.Retained
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("case decrypt: %s:%d: %w", *retPath, i+1, err)
		}
		retained = append(retained, r)
	}
	// The states come from the delivery service; the accounts of each epoch
	// also come, member-signed, in the evidence the trustees verified before
	// releasing (the statement starting the epoch): they must agree.
	signed := map[string][]string{}
	for _, r := range c.Records {
		if cs, err := startStatement(r.EpochEvidence); err == nil {
			want := slices.Clone(cs.Members)
			slices.Sort(want)
			signed[caseStateKey(cs.GroupID, cs.Epoch)] = slices.Compact(want)
		}
	}
	d := authority.NewMLSDecrypter(func(g []byte, e uint64) (*authority.EpochState, error) {
		st, ok := states[caseStateKey(g, e)]
		if !ok {
			return nil, fmt.Errorf("no state for %s in %s", caseStateKey(g, e), *statesPath)
		}
		if want, ok := signed[caseStateKey(g, e)]; ok {
			var have []string
			for _, m := range st.Members {
				have = append(have, m.Account)
			}
			slices.Sort(have)
			have = slices.Compact(have)
			if !slices.Equal(have, want) {
				return nil, fmt.Errorf("the epoch state's accounts %v are not the member-signed statement's %v", have, want)
			}
		}
		return st, nil
	})
	msgs, rej := authority.Decrypt(recs, retained, d)
	var buf strings.Builder
	for _, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := caseWriteFile(*out, []byte(buf.String()), 0o600); err != nil {
		return err
	}
	for _, r := range rej {
		fmt.Fprintf(stdout, "rejected: retained[%d] (group %x epoch %d): %s\n", r.Index, r.GroupID, r.Epoch, r.Reason)
	}
	fmt.Fprintf(stdout, "decrypted %d messages of %d recovered epochs (%d rejected) -> %s\n", len(msgs), len(recs), len(rej), *out)
	return nil
}

func caseReadMessages(path string) ([]evidence.Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []evidence.Message
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var m evidence.Message
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// startStatement returns the first statement of epoch evidence in
// trustee.EncodeEpochEvidence form (u16-length-prefixed statements): the
// member-signed statement that started the epoch.
func startStatement(ev []byte) (*trustee.CommitStatement, error) {
	if len(ev) < 2 || len(ev) < 2+(int(ev[0])<<8|int(ev[1])) {
		return nil, errors.New("epoch evidence: truncated")
	}
	return trustee.ParseCommitStatement(ev[2 : 2+(int(ev[0])<<8|int(ev[1]))])
}
