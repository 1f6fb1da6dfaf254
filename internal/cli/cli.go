// Package cli is the shared shell of Daylight's command-line tools: a
// subcommand table with its usage text, and a main that cancels on SIGINT or
// SIGTERM and exits non-zero with the tool's name on error. Each tool keeps
// its own run(ctx, args, stdin, stdout, stderr) so tests call it directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// RunFunc is a tool's or subcommand's body.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Main runs run with the process's arguments and standard streams under a
// context cancelled by SIGINT or SIGTERM; on error it prints "name: err" to
// standard error and exits with status 1.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Command is one subcommand.
type Command struct {
	Summary string
	Run     RunFunc
}

// Commands is a tool with subcommands.
type Commands struct {
	Tool string             // the binary's name, e.g. "daylight-court"
	Hint string             // shown when no command is given, e.g. "daylight-court keygen --out court.key"
	List map[string]Command // by name
}

// Usage writes the sorted command list to w.
func (c Commands) Usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", c.Tool)
	names := make([]string, 0, len(c.List))
	width := 0
	for n := range c.List {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, c.List[n].Summary)
	}
	fmt.Fprintf(w, "\nrun '%s <command> -h' for a command's flags\n", c.Tool)
}

// Run dispatches args[0] to its command. No command is an error (with the
// hint); -h, --help and help print the usage and succeed; an unknown command
// is an error naming it.
func (c Commands) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.Usage(stderr)
		if len(args) == 0 {
			if c.Hint != "" {
				return fmt.Errorf("no command (hint: %s)", c.Hint)
			}
			return errors.New("no command")
		}
		return nil
	}
	cmd, ok := c.List[args[0]]
	if !ok {
		c.Usage(stderr)
		return fmt.Errorf("unknown command %q (hint: %s -h lists the commands)", args[0], c.Tool)
	}
	return cmd.Run(ctx, args[1:], stdin, stdout, stderr)
}
