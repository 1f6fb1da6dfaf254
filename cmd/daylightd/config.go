package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// options are daylightd's settings after flags, environment and file.
type options struct {
	addr         string
	addrFile     string
	data         string
	postgres     string
	pgSchema     string
	config       string
	tlsCert      string
	tlsKey       string
	insecureHTTP bool
	logLevel     string
	logFormat    string
	rateIP       float64
	rateAccount  float64
	maxMessage   int
	maxBlob      int64
	retention    time.Duration
	tokenTTL     time.Duration
	shutdown     time.Duration
	fakeMLS      bool
	accessLog    bool
	keyDir       bool
	wsOrigins    string
	frankingKey  string
	noFranking   bool // --franking=false (frankingflag.go)
	pushDelay    time.Duration
	keyDirEpoch  time.Duration
	logOrigin    string
	cpuProfile   string

	logWitnesses        witnessList // --log-witness (witnesses.go)
	logWitnessThreshold int
	publicURL           string // lawful access (public.go, logappend.go)
	agreements          string
	adminAddr           string
	providerKey         string
	logWriters          string
}

func newFlagSet(name string, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8443", "listen address host:port (port 0 picks a free port)")
	fs.StringVar(&o.addrFile, "addr-file", "", "once serving, write the address listened on (host:port) to this file (for scripts with --addr 127.0.0.1:0)")
	fs.StringVar(&o.data, "data", "daylight-data", "data directory (SQLite database, TLS dev certificate)")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL; when set, the database is PostgreSQL instead of SQLite")
	fs.StringVar(&o.pgSchema, "postgres-schema", "", "PostgreSQL schema to use (created if missing); default: the URL's search_path")
	fs.StringVar(&o.config, "config", "", "JSON config file: an object whose keys are flag names")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM); default: a self-signed dev certificate in the data directory")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM), with --tls-cert")
	fs.BoolVar(&o.insecureHTTP, "insecure-http", false, "serve plain HTTP (local tests only; refused on a non-loopback address)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.Float64Var(&o.rateIP, "rate-ip", 200, "requests per second per client IP (burst 2x); 0 disables")
	fs.Float64Var(&o.rateAccount, "rate-account", 100, "requests and sends per second per account (burst 2x); 0 disables")
	fs.IntVar(&o.maxMessage, "max-message-bytes", 1<<20, "largest MLS message accepted")
	fs.Int64Var(&o.maxBlob, "max-blob-bytes", 100<<20, "largest attachment accepted")
	fs.DurationVar(&o.retention, "retention", 30*24*time.Hour, "published retention: nothing is kept longer, acked or not")
	fs.DurationVar(&o.tokenTTL, "token-ttl", time.Hour, "lifetime of bearer tokens")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 20*time.Second, "graceful shutdown budget")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the whole run to this file (debugging)")
	fs.BoolVar(&o.accessLog, "access-log", true, "run the access log (C2SP tlog-tiles) in <data>/log and serve it at /log/")
	fs.DurationVar(&o.pushDelay, "push-delay", 5*time.Millisecond, "how long a woken WebSocket waits to coalesce wake-ups before reading the queue (latency vs CPU); negative disables")
	addFrankingFlag(fs, o)
	fs.StringVar(&o.frankingKey, "franking-key", "", "file holding the 32-byte franking stamp key (created if missing; replicas must share it); default <data>/franking.key")
	fs.StringVar(&o.wsOrigins, "ws-origins", "", "comma-separated Origin host patterns allowed for browser WebSockets besides same-origin (e.g. chat.example.org)")
	fs.BoolVar(&o.keyDir, "keydir", true, "run the key-transparency directory at /keydir/ (needs --access-log)")
	fs.DurationVar(&o.keyDirEpoch, "keydir-epoch", 5*time.Second, "key directory epoch interval")
	fs.StringVar(&o.logOrigin, "log-origin", "localhost/daylight-log", "access log checkpoint origin (set it to your public name before the first start; it is signed into every checkpoint)")
	fs.Var(&o.logWitnesses, "log-witness", "a witness of the access log, as URL=vkey (repeatable; comma-separated in the environment); checkpoints are published only with --log-witness-threshold cosignatures")
	fs.IntVar(&o.logWitnessThreshold, "log-witness-threshold", -1, "cosignatures a checkpoint needs before it is published (w of the --log-witness m); default: all of them")
	fs.StringVar(&o.publicURL, "public-url", "", "public base URL of this server (e.g. https://daylight.example), for the transparency report's links; default: the listening URL")
	fs.StringVar(&o.agreements, "agreements", "", "intake agreements file (JSON, docs/intake.md); without it /intake/v1/ answers 503 \"no agreements configured\"")
	fs.StringVar(&o.adminAddr, "admin-addr", "", "loopback host:port of the operator API (POST /admin/v1/policy; intake admin: answer, refuse, send to trustees); default off")
	fs.StringVar(&o.logWriters, "log-writers", "", "roles file of POST /v1/log/append: lines \"<hex SHA-256 of a bearer token> authority|trustee:<id>\" (daylightd log-writer adds one); default: endpoint off")
	fs.StringVar(&o.providerKey, "provider-key", "", "file holding the provider's Ed25519 signing key seed (signs the access policy and intake answers; created if missing); default <data>/provider-signing.key")
	fs.BoolVar(&o.fakeMLS, "testing-only-fake-mls", false, "TESTING ONLY: validate with ds/dstest's toy framing instead of MLS (load and crash tests)")
	return fs
}

// envName is the environment variable of a flag: DAYLIGHT_ + upper snake.
func envName(flagName string) string {
	return "DAYLIGHT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseOptions applies flags, then the environment, then the config file
// (each only for settings not already set by a higher source).
func parseOptions(name string, args []string, getenv func(string) string, stderr io.Writer) (*options, []string, error) {
	o := new(options)
	fs := newFlagSet(name, o, stderr)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
			set[f.Name] = true
		}
	})
	if envErr != nil {
		return nil, nil, envErr
	}
	if o.config != "" {
		raw, err := os.ReadFile(o.config)
		if err != nil {
			return nil, nil, fmt.Errorf("config file: %w", err)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // keep 1048576 an integer
		if err := dec.Decode(&m); err != nil {
			return nil, nil, fmt.Errorf("config file %s: %w (hint: a JSON object whose keys are flag names)", o.config, err)
		}
		for k, v := range m {
			f := fs.Lookup(k)
			if f == nil || k == "config" {
				return nil, nil, fmt.Errorf("config file %s: unknown setting %q", o.config, k)
			}
			if set[k] {
				continue
			}
			if list, ok := v.([]any); ok { // repeatable flags (log-witness): one Set per item
				for _, item := range list {
					if err := fs.Set(k, fmt.Sprint(item)); err != nil {
						return nil, nil, fmt.Errorf("config file %s: %s: %w", o.config, k, err)
					}
				}
				continue
			}
			if err := fs.Set(k, fmt.Sprint(v)); err != nil {
				return nil, nil, fmt.Errorf("config file %s: %s: %w", o.config, k, err)
			}
		}
	}
	return o, fs.Args(), nil
}
