// Command daylight-trustee runs one lawful-access trustee (docs/trustee.md):
// its own signing key and X-Wing period keys in its own data directory, and
// the HTTP service that releases shares only for logged, in-scope, in-budget
// requests after its own release entry is cosigned in the access log.
//
//	daylight-trustee init --data DIR --id ID [--periods 0,1,2] [--json]
//	daylight-trustee keygen --data DIR --period N [--policy policy.bin] [--json]
//	daylight-trustee serve --addr 127.0.0.1:8801 --data DIR --policy policy.bin \
//	    --log URL-or-DIR --append URL [--append-token-file F] --directory accounts.json [--witness VKEY]...
//	daylight-trustee destroy-expired --data DIR --policy policy.bin [--json]
//	daylight-trustee sign-policy --data DIR --body policy.body [--json]
//	daylight-trustee directory --policy policy.bin --server URL --directory-key HEX --vrf-key HEX \
//	    --account alice=alice.opening.json ... --out accounts.json
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
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "daylight-trustee:", err)
		os.Exit(1)
	}
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"init":            {"create the data directory: signing key and period keys", runInit},
		"keygen":          {"generate the X-Wing key of a new key period", runKeygen},
		"serve":           {"run the trustee's HTTP service", runServe},
		"destroy-expired": {"destroy period keys past the policy's lookback", runDestroy},
		"sign-policy":     {"check a policy body names this trustee and its keys, and sign it", runSignPolicy},
		"directory":       {"write the --directory accounts file from verified key-directory lookups", runDirectory},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: daylight-trustee <command> [flags]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, cmds[n].summary)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("no command (hint: daylight-trustee init --data ./trustee --id trustee-0)")
		}
		return nil
	}
	c, ok := commands()[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], stdin, stdout, stderr)
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("daylight-trustee "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

// Data directory layout: identity.json (trustee id), signing.key (Ed25519
// seed, mode 0600) and the service.FileStore (keys/, destroyed/, ...).
const signingPrefix = "daylight-trustee-key-v1:"

type identity struct {
	ID string `json:"id"`
}

// WriteIdentity writes a trustee's data directory identity (id and signing
// key); used by init and by tests that import fixture keys.
func writeIdentity(dir, id string, key ed25519.PrivateKey) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(identity{ID: id})
	if err := os.WriteFile(filepath.Join(dir, "identity.json"), b, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "signing.key"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w (hint: the data directory is already initialized)", err)
	}
	if _, err := f.WriteString(signingPrefix + base64.StdEncoding.EncodeToString(key.Seed()) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readIdentity(dir string) (string, ed25519.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, "identity.json"))
	if err != nil {
		return "", nil, fmt.Errorf("%w (hint: daylight-trustee init --data %s)", err, dir)
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil || id.ID == "" {
		return "", nil, fmt.Errorf("%s/identity.json: malformed", dir)
	}
	k, err := os.ReadFile(filepath.Join(dir, "signing.key"))
	if err != nil {
		return "", nil, err
	}
	s := strings.TrimSpace(string(k))
	seed, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(s, signingPrefix))
	if !strings.HasPrefix(s, signingPrefix) || err != nil || len(seed) != ed25519.SeedSize {
		return "", nil, fmt.Errorf("%s/signing.key: malformed", dir)
	}
	return id.ID, ed25519.NewKeyFromSeed(seed), nil
}

func readPolicy(path string) (*policy.Verified, error) {
	if path == "" {
		return nil, errors.New("--policy is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := policy.ParseSigned(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v, err := policy.Verify(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

type periodKey struct {
	Period uint32 `json:"period"`
	Key    []byte `json:"key"`
}

func runInit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("init", stderr)
	data := fs.String("data", "", "data directory (created)")
	id := fs.String("id", "", "this trustee's id in the policy")
	periods := fs.String("periods", "", "comma-separated key periods to generate X-Wing keys for")
	asJSON := fs.Bool("json", false, "print the public keys as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *id == "" {
		return errors.New("init: --data and --id are required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writeIdentity(*data, *id, priv); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	st, err := service.OpenFileStore(filepath.Join(*data, "store"))
	if err != nil {
		return err
	}
	out := struct {
		ID         string      `json:"id"`
		SigningKey []byte      `json:"signing_key"`
		PeriodKeys []periodKey `json:"period_keys"`
	}{ID: *id, SigningKey: pub, PeriodKeys: []periodKey{}}
	if *periods != "" {
		for _, p := range strings.Split(*periods, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 32)
			if err != nil {
				return fmt.Errorf("init: --periods: %q: %w", p, err)
			}
			k, err := trustee.RotateKey(ctx, st, uint32(n), rand.Reader)
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			out.PeriodKeys = append(out.PeriodKeys, periodKey{uint32(n), k})
		}
	}
	if *asJSON {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "trustee %s\nsigning key %s\n", out.ID, base64.StdEncoding.EncodeToString(pub))
	for _, pk := range out.PeriodKeys {
		fmt.Fprintf(stdout, "period %d key %s\n", pk.Period, base64.StdEncoding.EncodeToString(pk.Key))
	}
	return nil
}

func runKeygen(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	data := fs.String("data", "", "data directory")
	period := fs.Uint("period", 0, "the key period")
	polPath := fs.String("policy", "", "the current policy: also print the signed TrusteeKey log entry")
	asJSON := fs.Bool("json", false, "print as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("keygen: --data is required")
	}
	id, sk, err := readIdentity(*data)
	if err != nil {
		return err
	}
	st, err := service.OpenFileStore(filepath.Join(*data, "store"))
	if err != nil {
		return err
	}
	pub, err := trustee.RotateKey(ctx, st, uint32(*period), rand.Reader)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	out := map[string]any{"trustee": id, "period": *period, "key": pub}
	if *polPath != "" {
		pol, err := readPolicy(*polPath)
		if err != nil {
			return err
		}
		tr, err := trustee.New(trustee.Config{ID: id, SigningKey: sk, Policy: pol, Store: st, Epochs: trustee.CommitChain{},
			Consistency: func(context.Context, uint64, uint64) ([][]byte, error) { return nil, errors.New("unused") }})
		if err != nil {
			return err
		}
		e, err := tr.KeyEntry(uint32(*period), pub, uint64(time.Now().Unix()))
		if err != nil {
			return err
		}
		enc, err := accesslog.Marshal(e)
		if err != nil {
			return err
		}
		out["log_entry"] = enc
	}
	if *asJSON {
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "period %d key %s\n", *period, base64.StdEncoding.EncodeToString(pub))
	return nil
}

// directoryEntry is one account of the --directory file: its signature
// key (for member-signed commit statements) and its X-Wing opening key (for
// the opening notice at the embargo end), as the key directory proved them.
// The file is the stand-in for keydir lookups until the trustee reads the
// key-transparency directory itself.
type directoryEntry struct {
	SignatureKey []byte `json:"signature_key"`
	OpeningKey   []byte `json:"opening_key"`
}

func readDirectory(path string) (map[string]directoryEntry, error) {
	if path == "" {
		return nil, errors.New(`--directory is required (hint: {"alice": {"signature_key": b64, "opening_key": b64}})`)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var m map[string]directoryEntry
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for a, e := range m {
		if len(e.SignatureKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s: %s.signature_key: not an Ed25519 key", path, a)
		}
	}
	return m, nil
}

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	addr := fs.String("addr", "127.0.0.1:8801", "listen address (port 0 picks a free port)")
	addrFile := fs.String("addr-file", "", "write the address actually listened on (host:port) to this file")
	data := fs.String("data", "", "data directory (daylight-trustee init)")
	polPath := fs.String("policy", "", "the signed access policy")
	logSrc := fs.String("log", "", "the access log: tlog-tiles URL prefix or local directory")
	appendURL := fs.String("append", "", "the provider's log append endpoint (POST entry -> {\"index\":N})")
	tokenFile := fs.String("append-token-file", "", "file holding the bearer token for --append")
	dirPath := fs.String("directory", "", "accounts file: account -> signature and opening keys (stand-in for key-directory lookups)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); requests carry warrants, which name targets")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	insecure := fs.Bool("insecure-http", false, "serve plain HTTP on a non-loopback address (never in production)")
	maintain := fs.Duration("maintain", time.Hour, "how often to destroy expired period keys and open warrants past their embargo")
	var witnesses stringsFlag
	fs.Var(&witnesses, "witness", "pin a witness verifier key (repeatable): refuse to start unless the policy's witnesses are exactly these")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *logSrc == "" || *appendURL == "" {
		return errors.New("serve: --data, --policy, --log and --append are required")
	}
	pol, err := readPolicy(*polPath)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if len(witnesses) > 0 {
		var have []string
		for _, w := range pol.Witnesses {
			have = append(have, w.VerifierKey)
		}
		slices.Sort(have)
		want := slices.Clone([]string(witnesses))
		slices.Sort(want)
		if !slices.Equal(have, want) {
			return errors.New("serve: the policy's witnesses are not the pinned --witness keys")
		}
	}
	id, sk, err := readIdentity(*data)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	dir, err := readDirectory(*dirPath)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	sigKeys := func(a string) (ed25519.PublicKey, bool) { e, ok := dir[a]; return e.SignatureKey, ok }
	openKeys := func(_ context.Context, a string) ([]byte, error) {
		e, ok := dir[a]
		if !ok || len(e.OpeningKey) == 0 {
			return nil, fmt.Errorf("no opening key for %q in %s", a, *dirPath)
		}
		return e.OpeningKey, nil
	}
	st, err := service.OpenFileStore(filepath.Join(*data, "store"))
	if err != nil {
		return err
	}
	cpol, err := pol.CheckpointPolicy()
	if err != nil {
		return err
	}
	reader, err := tlog.NewClient(*logSrc, cpol, nil)
	if err != nil {
		return fmt.Errorf("serve: --log: %w", err)
	}
	app := service.HTTPAppender{URL: *appendURL}
	if *tokenFile != "" {
		tok, err := os.ReadFile(*tokenFile)
		if err != nil {
			return err
		}
		app.Token = strings.TrimSpace(string(tok))
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	svc, err := service.New(service.Config{ID: id, SigningKey: sk, Policy: pol, Store: st, Epochs: trustee.CommitChain{Keys: sigKeys},
		Appender: app, Reader: reader, Logger: logger})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	missing, err := svc.CheckKeys(ctx)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if len(missing) > 0 {
		logger.Warn("no key for some of the policy's periods", "periods", missing)
	}
	// Maintenance: destroy keys past the lookback (A6) and open warrants
	// whose embargo ended (A7).
	destroy := func() {
		ds, err := svc.DestroyExpired(ctx)
		if err != nil {
			logger.Error("destroy expired keys", "err", err)
		}
		for _, d := range ds {
			logger.Info("destroyed period key", "period", d.Period)
		}
		if n, err := svc.OpenDue(ctx, openKeys); err != nil || n > 0 {
			logger.Info("openings", "appended", n, "err", err)
		}
	}
	destroy()
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("serve: --tls-cert and --tls-key go together")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *tlsCert == "" && !*insecure && !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		ln.Close()
		return errors.New("serve: plain HTTP on a non-loopback address (hint: --tls-cert/--tls-key; release requests carry warrants naming targets)")
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "daylight-trustee %s listening on %s://%s\n", id, scheme, ln.Addr())
	if *addrFile != "" {
		if err := writeAddrFile(*addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			return fmt.Errorf("serve: --addr-file: %w", err)
		}
	}
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	tick := time.NewTicker(*maintain)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-tick.C:
			destroy()
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		}
	}
}

// runSignPolicy signs a proposed policy body (A10: a policy is signed by
// every trustee and the provider). It refuses a body that does not name
// this trustee with its signing key, or whose period keys for this trustee
// are not the keys in its store (signing those would publish keys nobody
// holds), and prints what is being signed.
func runSignPolicy(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("sign-policy", stderr)
	data := fs.String("data", "", "data directory")
	bodyPath := fs.String("body", "", "the proposed policy body (policy.Policy encoding)")
	asJSON := fs.Bool("json", false, "print the signature as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *bodyPath == "" {
		return errors.New("sign-policy: --data and --body are required")
	}
	id, sk, err := readIdentity(*data)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		return err
	}
	p, err := policy.Parse(body)
	if err != nil {
		return fmt.Errorf("sign-policy: %s: %w", *bodyPath, err)
	}
	idx, ok := p.TrusteeIndex(id)
	if !ok {
		return fmt.Errorf("sign-policy: the policy does not name trustee %q", id)
	}
	me := p.Trustees[idx]
	if !me.SigningKey.Equal(sk.Public()) {
		return fmt.Errorf("sign-policy: the policy gives trustee %q another signing key", id)
	}
	st, err := service.OpenFileStore(filepath.Join(*data, "store"))
	if err != nil {
		return err
	}
	for _, pk := range me.PeriodKeys {
		priv, err := st.PeriodKey(ctx, pk.Period)
		if errors.Is(err, trustee.ErrKeyDestroyed) {
			continue // an old period kept in the policy; destroyed here
		}
		if err != nil {
			return fmt.Errorf("sign-policy: period %d: %w", pk.Period, err)
		}
		_, pub := xwing.DeriveKeyPairPacked(priv)
		clear(priv)
		if !bytes.Equal(pub, pk.Key) {
			return fmt.Errorf("sign-policy: the policy's key for period %d is not this trustee's", pk.Period)
		}
	}
	sig := policy.Sign(body, id, sk)
	fmt.Fprintf(stderr, "signing policy %x: %q, k=%d of %d trustees, %d courts, w=%d of %d witnesses, lookback %ds\n",
		policy.IDOf(body), p.Name, p.K, len(p.Trustees), len(p.Courts), p.W, len(p.Witnesses), p.Budgets.Lookback)
	if *asJSON {
		return writeJSON(stdout, map[string]any{"signer": sig.Signer, "signature": sig.Sig})
	}
	fmt.Fprintf(stdout, "%s %s\n", sig.Signer, base64.StdEncoding.EncodeToString(sig.Sig))
	return nil
}

func runDestroy(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("destroy-expired", stderr)
	data := fs.String("data", "", "data directory")
	polPath := fs.String("policy", "", "the signed access policy")
	nowFlag := fs.Int64("now", 0, "unix time to act at (default: now)")
	asJSON := fs.Bool("json", false, "print the signed destruction statements as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pol, err := readPolicy(*polPath)
	if err != nil {
		return err
	}
	id, sk, err := readIdentity(*data)
	if err != nil {
		return err
	}
	st, err := service.OpenFileStore(filepath.Join(*data, "store"))
	if err != nil {
		return err
	}
	tr, err := trustee.New(trustee.Config{ID: id, SigningKey: sk, Policy: pol, Store: st, Epochs: trustee.CommitChain{},
		Consistency: func(context.Context, uint64, uint64) ([][]byte, error) { return nil, errors.New("unused") }})
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	if *nowFlag != 0 {
		now = *nowFlag
	}
	ds, err := tr.DestroyExpired(ctx, uint64(now))
	if err != nil {
		return err
	}
	if *asJSON {
		if ds == nil {
			ds = []trustee.Destruction{}
		}
		return writeJSON(stdout, ds)
	}
	for _, d := range ds {
		fmt.Fprintf(stdout, "destroyed the key of period %d (signed statement %s)\n", d.Period, base64.StdEncoding.EncodeToString(d.Signature))
	}
	if len(ds) == 0 {
		fmt.Fprintln(stdout, "no period key past the lookback")
	}
	return nil
}

// writeAddrFile writes addr atomically (temp file, rename), so a script
// polling for the file never reads it half written.
func writeAddrFile(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
