// Command daylight-verify checks Daylight's public artefacts using only
// public formats. Subcommands:
//
//	daylight-verify log     verify the access log (C2SP tlog-tiles) and count its entries
//
// Other subcommands (bundle, report) are added as files beside this one:
// each registers a command in commands().
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "daylight-verify:", err)
		os.Exit(1)
	}
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands lists the subcommands. To add one, add a file with its run
// function and an entry here.
func commands() map[string]command {
	return map[string]command{
		"log":    {summary: "verify the access log's checkpoint, cosignatures, consistency and entries; count entries", run: runLog},
		"bundle": {summary: "verify an evidence bundle offline (signatures, hashes, log inclusion, scope)", run: runBundle},
		"report": {summary: "recompute a transparency report (report.json) from the log tiles; fails naming each figure that differs", run: runReport},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: daylight-verify <command> [flags]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'daylight-verify <command> -h' for a command's flags")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return fmt.Errorf("no command (hint: daylight-verify log --log <url-or-dir> --log-key <vkey>)")
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
