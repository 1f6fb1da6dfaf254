// Command daylight-witness runs a transparency-log witness (C2SP
// tlog-witness) for a configured set of logs. Its Ed25519 key is generated
// in the data directory on first start; its cosignature verifier key is
// printed and written to <data>/witness.vkey for the logs and clients that
// trust it.
//
//	daylight-witness --addr 127.0.0.1:8701 --data /var/lib/daylight-witness \
//	    --name witness.example/w1 --log daylight.example/log=<log vkey>
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/daylight-im/daylight/internal/cli"
	"github.com/daylight-im/daylight/witness"
	"golang.org/x/mod/sumdb/note"
)

func main() { cli.Main("daylight-witness", run) }

type logFlags []string

func (l *logFlags) String() string     { return strings.Join(*l, ",") }
func (l *logFlags) Set(v string) error { *l = append(*l, v); return nil }

// run parses flags, loads or creates the witness key, and serves
// add-checkpoint until ctx is done.
func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("daylight-witness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8701", "address to listen on")
	addrFile := fs.String("addr-file", "", "write the address actually listened on to this file (useful with port 0)")
	data := fs.String("data", "", "data directory: witness key and the latest cosigned checkpoint of each log (required)")
	name := fs.String("name", "witness.daylight.local/w", "witness key name (a schema-less URL); used when the key is created")
	keyType := fs.String("key-type", "ed25519", "cosignature key type when the key is created: ed25519 (cosignature/v1 type 0x04) or mldsa44 (post-quantum, type 0x06)")
	verbose := fs.Bool("v", false, "log requests and refusals to stderr")
	var logs logFlags
	fs.Var(&logs, "log", "a log to witness, as origin=vkey (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q (hint: only flags are accepted, see -h)", fs.Args())
	}
	if *data == "" {
		return errors.New("--data is required (hint: a directory the witness owns)")
	}
	if len(logs) == 0 {
		return errors.New("no --log given (hint: --log origin=vkey, the log's checkpoint verifier key)")
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	signer, vkey, err := witness.LoadOrCreateKeyOfType(filepath.Join(*data, "witness.key"), *name, witness.KeyType(*keyType), nil)
	if err != nil {
		return err
	}
	if err := witness.WriteFileAtomic(filepath.Join(*data, "witness.vkey"), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	var cfgLogs []witness.Log
	for _, l := range logs {
		origin, vk, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("--log %q: want origin=vkey", l)
		}
		v, err := note.NewVerifier(vk)
		if err != nil {
			return fmt.Errorf("--log %q: verifier key: %w", l, err)
		}
		cfgLogs = append(cfgLogs, witness.Log{Origin: origin, Verifier: v})
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	w, err := witness.New(witness.Config{Signer: signer, Logs: cfgLogs, Store: witness.FileStore{Dir: *data}, Logger: logger})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	if *addrFile != "" {
		if err := witness.WriteFileAtomic(*addrFile, []byte(lis.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "witness %s\nlistening on %s\n", vkey, lis.Addr())
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
