package moderation

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// ModeratorCommand runs `daylightd moderator <subcommand>` against the
// moderation store (SRV opens it and passes it; the server need not run):
//
//	moderator add --name ana --role admin   # password: first line of stdin
//	moderator list
//
// The password is read from stdin so it never appears in argv or shell
// history; a terminal caller should turn off echo before piping it.
func ModeratorCommand(ctx context.Context, st Store, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("moderator: want a subcommand: add or list (hint: daylightd moderator add --name ana --role admin < password-file)")
	}
	switch args[0] {
	case "add":
		fs := flag.NewFlagSet("moderator add", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "moderator name (a-z 0-9 . - _ @)")
		role := fs.String("role", "moderator", "viewer, moderator or admin")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("moderator add: %w (hint: --name NAME --role viewer|moderator|admin)", err)
		}
		if fs.NArg() != 0 || *name == "" {
			return errors.New("moderator add: --name is required and no other arguments are accepted")
		}
		r, err := ParseRole(*role)
		if err != nil {
			return fmt.Errorf("moderator add: %w", err)
		}
		line, err := bufio.NewReader(io.LimitReader(stdin, MaxPasswordLen+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("moderator add: reading the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if err := AddModerator(ctx, st, rand.Reader, time.Now(), "bootstrap", *name, pw, r); err != nil {
			if errors.Is(err, ErrInvalidInput) && len(pw) < MinPasswordLen {
				return fmt.Errorf("moderator add: the password (first line of stdin) must be at least %d bytes", MinPasswordLen)
			}
			return fmt.Errorf("moderator add: %w", err)
		}
		fmt.Fprintf(stdout, "moderator %s added with role %s\n", *name, r)
		return nil
	case "list":
		ms, err := st.Moderators(ctx)
		if err != nil {
			return fmt.Errorf("moderator list: %w", err)
		}
		for _, m := range ms {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", m.Name, m.Role, m.Created.UTC().Format(time.RFC3339))
		}
		return nil
	}
	return fmt.Errorf("moderator: unknown subcommand %q (want add or list)", args[0])
}
