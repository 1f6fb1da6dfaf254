// Command daylight-mls-interop serves the MLS interop harness gRPC service
// (mls_client.MLSClient) backed by Daylight's MLS engine, for the official
// mlswg test-runner. It listens on loopback only.
//
//	daylight-mls-interop -port 50001
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/daylight-im/daylight/internal/cli"

	"google.golang.org/grpc"

	"github.com/daylight-im/daylight/internal/interop/mlspb"
	"github.com/daylight-im/daylight/interop/mlsclient"
)

func main() { cli.Main("daylight-mls-interop", run) }

// run parses flags, listens on 127.0.0.1:port and serves until ctx is done.
func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("daylight-mls-interop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 50051, "TCP port to listen on (127.0.0.1 only; 0 picks a free port)")
	name := fs.String("name", "Daylight", "client name reported to the test-runner")
	verbose := fs.Bool("v", false, "log every failed RPC to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q (hint: only flags are accepted, see -h)", fs.Args())
	}
	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", *port, err)
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(mlsclient.RecoverPanics))
	mlspb.RegisterMLSClientServer(srv, mlsclient.New(mlsclient.Config{Name: *name, Logger: logger}))
	fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case <-ctx.Done():
		srv.GracefulStop()
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return err
	}
}
