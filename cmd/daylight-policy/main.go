// Command daylight-policy builds an access policy body from the parties'
// public keys and assembles the signed policy from their signatures
// (lawful-access.md A10):
//
//	daylight-policy build --out policy.body --provider B64 --k 3 --trustee t0.pub.json ... \
//	    --court court-a=A=B64 --log-vkey VKEY --witness VKEY ... [--w N] [budget flags]
//	daylight-policy assemble --body policy.body --signatures sigs.txt --out policy.bin
//
// Trustee files are `daylight-trustee init --json` outputs; a signatures file
// holds "signer base64" lines as printed by `daylight-trustee sign-policy` and
// `daylightd sign-policy`. assemble checks the result with policy.Verify.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/daylight-im/daylight/internal/cli"
	"github.com/daylight-im/daylight/policy"
)

func main() { cli.Main("daylight-policy", run) }

const usage = "usage: daylight-policy build|assemble [flags] (see -h of each)"

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "build":
		return runBuild(args[1:], stdout, stderr)
	case "assemble":
		return runAssemble(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (%s)", args[0], usage)
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// b64 decodes a base64 value given inline or, as @FILE, read from a file.
func b64(v string) ([]byte, error) {
	if f, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v = string(bytes.TrimSpace(b))
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(v))
}

func runBuild(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("daylight-policy build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "policy.body", "write the policy body here")
	name := fs.String("name", "daylight demo policy", "the policy's name")
	provider := fs.String("provider", "", "the provider's Ed25519 public key, base64 or @FILE (daylightd provider-key)")
	k := fs.Int("k", 3, "trustees needed to open a record")
	jur := fs.String("trustee-jurisdiction", "A", "jurisdiction of the trustees")
	logVKey := fs.String("log-vkey", "", "the access log's verifier key (daylightd log-key); the origin is its name")
	w := fs.Int("w", -1, "witness cosignatures required (default: all --witness)")
	genesis := fs.Uint64("genesis", 1767225600, "key period genesis (unix seconds)")
	length := fs.Uint64("period-length", 30*86400, "key period length (seconds)")
	var trustees, courts, witnesses list
	fs.Var(&trustees, "trustee", "a trustee's public keys: `daylight-trustee init --json` output file (repeatable, in order)")
	fs.Var(&courts, "court", "a court as ID=JURISDICTION=KEY (base64 or @FILE of `daylight-court keygen`) (repeatable)")
	fs.Var(&witnesses, "witness", "a witness verifier key (repeatable)")
	bu := policy.Budgets{}
	u32 := func(p *uint32, n string, def uint32, h string) {
		fs.Func(n, fmt.Sprintf("%s (default %d)", h, def), func(s string) error { _, err := fmt.Sscan(s, p); return err })
		*p = def
	}
	u64 := func(p *uint64, n string, def uint64, h string) {
		fs.Func(n, fmt.Sprintf("%s (default %d)", h, def), func(s string) error { _, err := fmt.Sscan(s, p); return err })
		*p = def
	}
	u32(&bu.RecordsPerWarrant, "records-per-warrant", 100, "records one warrant may open")
	u32(&bu.RecordsPerJurisdiction30d, "records-per-jurisdiction-30d", 1000, "records per jurisdiction in 30 days")
	u32(&bu.RecordsOverall30d, "records-overall-30d", 5000, "records overall in 30 days")
	bu.MaxTargets = 3
	u64(&bu.MaxWindow, "max-window", 90*86400, "longest warrant window (s)")
	u64(&bu.MaxEmbargo, "max-embargo", 180*86400, "longest embargo (s)")
	u64(&bu.Lookback, "lookback", 365*86400, "period keys older than this are destroyed (s)")
	u64(&bu.EpochMaxAge, "epoch-max-age", 86400, "longest epoch (s)")
	u64(&bu.RetentionGrace, "retention-grace", 7*86400, "retention after the window end (s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *provider == "" || *logVKey == "" || len(trustees) == 0 || len(courts) == 0 {
		return errors.New("build: --provider, --log-vkey, --trustee and --court are required")
	}
	p := &policy.Policy{Name: *name, K: uint8(*k), Periods: policy.KeyPeriods{Genesis: *genesis, Length: *length}, Budgets: bu}
	var err error
	if p.Provider, err = b64(*provider); err != nil {
		return fmt.Errorf("build: --provider: %w", err)
	}
	for _, f := range trustees {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("build: --trustee: %w", err)
		}
		var t struct {
			ID         string `json:"id"`
			SigningKey []byte `json:"signing_key"`
			PeriodKeys []struct {
				Period uint32 `json:"period"`
				Key    []byte `json:"key"`
			} `json:"period_keys"`
		}
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("build: --trustee %s: %w", f, err)
		}
		pt := policy.Trustee{ID: t.ID, Jurisdiction: *jur, SigningKey: t.SigningKey}
		for _, pk := range t.PeriodKeys {
			pt.PeriodKeys = append(pt.PeriodKeys, policy.PeriodKey{Period: pk.Period, Key: pk.Key})
		}
		p.Trustees = append(p.Trustees, pt)
	}
	for _, c := range courts {
		parts := strings.SplitN(c, "=", 3)
		if len(parts) != 3 {
			return fmt.Errorf("build: --court %q: want ID=JURISDICTION=KEY", c)
		}
		key, err := b64(parts[2])
		if err != nil {
			return fmt.Errorf("build: --court %s: %w", parts[0], err)
		}
		p.Courts = append(p.Courts, policy.Court{ID: parts[0], Jurisdiction: parts[1], Key: key})
	}
	origin, _, _ := strings.Cut(*logVKey, "+")
	p.Log = policy.LogKey{Origin: origin, VerifierKey: *logVKey}
	for _, v := range witnesses {
		n, _, _ := strings.Cut(v, "+")
		p.Witnesses = append(p.Witnesses, policy.Witness{Name: n, VerifierKey: v})
	}
	if *w < 0 {
		*w = len(witnesses)
	}
	p.W = uint8(*w)
	body, err := p.Marshal()
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		return err
	}
	id := policy.IDOf(body)
	fmt.Fprintf(stdout, "%x\n", id[:])
	return nil
}

func runAssemble(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("daylight-policy assemble", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bodyPath := fs.String("body", "policy.body", "the policy body (build)")
	sigPath := fs.String("signatures", "", `"signer base64" lines from every trustee and the provider`)
	out := fs.String("out", "policy.bin", "write the signed policy here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		return err
	}
	f, err := os.Open(*sigPath)
	if err != nil {
		return fmt.Errorf("assemble: --signatures: %w", err)
	}
	defer f.Close()
	s := &policy.Signed{Body: body}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		signer, sig, ok := strings.Cut(line, " ")
		if !ok {
			return fmt.Errorf("assemble: %s:%d: want \"signer base64\"", *sigPath, n)
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
		if err != nil {
			return fmt.Errorf("assemble: %s:%d: %w", *sigPath, n, err)
		}
		s.Signatures = append(s.Signatures, policy.Signature{Signer: signer, Sig: b})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	v, err := policy.Verify(s)
	if err != nil {
		return fmt.Errorf("assemble: the signed policy does not verify: %w", err)
	}
	b, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%x\n", v.ID[:])
	return nil
}
