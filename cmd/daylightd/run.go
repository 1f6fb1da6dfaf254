package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/server"
	"github.com/daylight-im/daylight/store/sqlite"
)

const usage = `usage: daylightd [serve|check|log-key|log-writer|provider-key|sign-policy|moderator] [flags]   (daylightd -h for flags)`

// run is daylightd without the process: args without the program name.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		o, rest, err := parseOptions("daylightd serve", args, getenv, stderr)
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return fmt.Errorf("unexpected arguments %q\n%s", rest, usage)
		}
		return serve(ctx, o, stdout, stderr)
	case "check":
		o, _, err := parseOptions("daylightd check", args, getenv, stderr)
		if err != nil {
			return err
		}
		return check(ctx, o, stdout)
	case "log-key":
		o, _, err := parseOptions("daylightd log-key", args, getenv, stderr)
		if err != nil {
			return err
		}
		return logKey(o, stdout)
	case "log-writer":
		o, rest, err := parseOptions("daylightd log-writer", args, getenv, stderr)
		if err != nil {
			return err
		}
		return logWriter(o, rest, stdout)
	case "provider-key":
		o, _, err := parseOptions("daylightd provider-key", args, getenv, stderr)
		if err != nil {
			return err
		}
		return providerKeyCommand(o, stdout)
	case "sign-policy":
		return signPolicyCommand(args, getenv, stdout, stderr)
	case "moderator":
		o, rest, err := parseOptions("daylightd moderator", args, getenv, stderr)
		if err != nil {
			return err
		}
		return moderatorCommand(ctx, o, rest, os.Stdin, stdout)
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", o.logLevel, err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
}

// openStore opens the configured database and the matching notifier.
func openStore(ctx context.Context, o *options, log *slog.Logger) (ds.Store, ds.Notifier, string, error) {
	if o.postgres != "" {
		return openPostgres(ctx, o, log)
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return nil, nil, "", fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(o.data, "daylight.db")
	st, err := sqlite.Open(ctx, sqlite.Config{Path: path, BlobDir: filepath.Join(o.data, "blobs")})
	if err != nil {
		return nil, nil, "", err
	}
	return st, ds.NewLocalNotifier(), "sqlite " + path, nil
}

func check(ctx context.Context, o *options, stdout io.Writer) error {
	st, notifier, where, err := openStore(ctx, o, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	val, err := newValidator(o)
	if err != nil {
		return err
	}
	svc, err := ds.New(ds.Config{Store: st, Validator: val, Notifier: notifier})
	if err != nil {
		return err
	}
	defer svc.Close()
	problems, err := svc.Check(ctx)
	if err != nil {
		return fmt.Errorf("check %s: %w", where, err)
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, "violation:", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d invariant violations", where, len(problems))
	}
	fmt.Fprintf(stdout, "ok: %s satisfies every invariant\n", where)
	return nil
}

func serve(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	val, err := newValidator(o)
	if err != nil {
		return err
	}
	if err := needsAccessLog(o); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.fakeMLS {
		log.Warn("TESTING ONLY: --testing-only-fake-mls: messages are validated with a toy framing, not MLS; never run this in production")
	}
	var tlsConf *tls.Config
	var tlsNote string
	if !o.insecureHTTP {
		tlsConf, tlsNote, err = loadTLS(o)
		if err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if o.insecureHTTP && !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		return fmt.Errorf("--insecure-http is refused on the non-loopback address %s (hint: use TLS, or listen on 127.0.0.1)", ln.Addr())
	}

	st, notifier, where, err := openStore(ctx, o, log)
	if err != nil {
		return err
	}
	defer st.Close()
	var fr ds.Franking // the toy framing of --testing-only-fake-mls carries no franking commitment
	if !o.fakeMLS && !o.noFranking {
		if fr, err = newFranking(o); err != nil {
			return err
		}
	}
	modFwd := &suspensionsFwd{} // moderation.go: the DS refuses suspended accounts
	if fr.Stamper != nil {
		fr.Suspensions = modFwd
	}
	var modEvidence moderation.EvidenceLog
	svc, err := ds.New(ds.Config{
		Store: st, Validator: val, Notifier: notifier, Logger: log, Franking: fr,
		TokenTTL: o.tokenTTL, Retention: o.retention, MaxMessageBytes: o.maxMessage, MaxBlobBytes: o.maxBlob,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	mctx, stopMaint := context.WithCancel(context.Background())
	defer stopMaint()
	go svc.RunMaintenance(mctx, 10*time.Second)

	var logHandler http.Handler
	var logNote, kdNote string
	var kdHandler http.Handler
	mounts := map[string]http.Handler{} // server.Config.Mounts: lawful access (public.go), ...
	var laNotes []string
	if o.accessLog {
		// Not the signal context: the log's goroutines must outlive SIGTERM
		// until everything that appends to it has stopped (al.Close).
		witnesses, threshold, err := logWitnesses(o)
		if err != nil {
			return err
		}
		al, err := tlog.Open(context.WithoutCancel(ctx), tlog.Config{Dir: filepath.Join(o.data, "log"), Origin: o.logOrigin, Logger: log,
			Witnesses: witnesses, WitnessThreshold: threshold})
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		if err := writeLogVKey(o, al.VKey()); err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			al.Close(cctx)
		}()
		modEvidence = al
		logHandler = http.StripPrefix("/log", al.Handler())
		logNote = describeLog(al.VKey(), witnesses, threshold)
		if o.keyDir {
			kd, err := openKeyDirectory(context.WithoutCancel(ctx), o, al, log)
			if err != nil {
				return err
			}
			published := make(chan struct{})
			defer func() { stopMaint(); <-published; kd.store.Close() }()
			kdHandler = kd.handler(log)
			kdNote = kd.note
			go func() { kd.publish(mctx, o.keyDirEpoch, log); close(published) }()
		}
		la, err := openLawfulAccess(o, al, svc, witnesses, threshold, ln.Addr(), log)
		if err != nil {
			return err
		}
		defer la.close()
		maps.Copy(mounts, la.mounts)
		laNotes = la.notes
	}
	if fr.Stamper != nil {
		m, err := openModeration(ctx, o, svc, fr, modFwd, modEvidence, tlsConf != nil, log)
		if err != nil {
			return err
		}
		defer m.close()
		maps.Copy(mounts, m.mounts)
	}
	srv, err := server.New(server.Config{
		Service: svc, Logger: log, LogHandler: logHandler, KeyDirHandler: kdHandler, Mounts: mounts,
		WebSocketOrigins: splitList(o.wsOrigins), PushDelay: o.pushDelay,
		PerIP:      &server.Rate{PerSecond: o.rateIP, Burst: int(2 * o.rateIP)},
		PerAccount: &server.Rate{PerSecond: o.rateAccount, Burst: int(2 * o.rateAccount)},
	})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "https"
	if o.insecureHTTP {
		scheme = "http"
	}
	url := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(stdout, "daylightd: listening on %s (database: %s)\n", url, where)
	if tlsNote != "" {
		fmt.Fprintf(stdout, "daylightd: %s\n", tlsNote)
	}
	if logNote != "" {
		fmt.Fprintf(stdout, "daylightd: %s\n", logNote)
	}
	if kdNote != "" {
		fmt.Fprintf(stdout, "daylightd: %s\n", kdNote)
	}
	for _, n := range laNotes {
		fmt.Fprintf(stdout, "daylightd: %s\n", n)
	}
	if o.addrFile != "" {
		if err := writeFileAtomic(o.addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("--addr-file: %w", err)
		}
	}
	log.Info("daylightd started", "url", url, "database", where)

	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("daylightd: shutting down", "budget", o.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }() // ends WebSockets and long-polls
	err = hs.Shutdown(sctx)
	<-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("daylightd: shutdown", "err", err)
	}
	stopMaint()
	svc.Close() // commits what was queued
	fmt.Fprintln(stdout, "daylightd: stopped")
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
