// Command daylightd is the Daylight server: delivery service, KeyPackage
// directory and attachment store behind one HTTPS + WebSocket listener.
//
//	daylightd                 serve on 127.0.0.1:8443 with SQLite in ./daylight-data
//	daylightd serve [flags]   the same, explicitly
//	daylightd check [flags]   verify the database's invariants and exit
//
// Every flag can also be set by the environment (DAYLIGHT_<FLAG>, dashes as
// underscores, e.g. DAYLIGHT_ADDR) or by a JSON config file (--config), with
// flags taking precedence over the environment over the file. docs/operations.md
// describes defaults, TLS and shutdown.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "daylightd:", err)
		os.Exit(1)
	}
}
