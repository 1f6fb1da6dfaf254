// Command daylight-verify checks Daylight's public artefacts using only
// public formats. Subcommands:
//
//	daylight-verify log     verify the access log (C2SP tlog-tiles) and count its entries
//	daylight-verify bundle  verify an evidence bundle offline
//	daylight-verify report  recompute a transparency report from the log tiles
//
// Each subcommand lives in its own file; run lists them.
package main

import (
	"context"
	"io"

	"github.com/daylight-im/daylight/internal/cli"
)

func main() { cli.Main("daylight-verify", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Commands{Tool: "daylight-verify", Hint: "daylight-verify log --log <url-or-dir> --log-key <vkey>", List: map[string]cli.Command{
		"log":    {Summary: "verify the access log's checkpoint, cosignatures, consistency and entries; count entries", Run: runLog},
		"bundle": {Summary: "verify an evidence bundle offline (signatures, hashes, log inclusion, scope)", Run: runBundle},
		"report": {Summary: "recompute a transparency report (report.json) from the log tiles; fails naming each figure that differs", Run: runReport},
	}}.Run(ctx, args, stdin, stdout, stderr)
}
