package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/daylight-im/daylight/internal/interop/mlspb"
)

// TestServeNameAndSuites starts the server in-process on a free port, calls Name and
// SupportedCiphersuites over gRPC, then stops it through the context.
func TestServeNameAndSuites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-port", "0", "-name", "T"}, nil, pw, io.Discard) }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewMLSClientClient(conn)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	nr, err := c.Name(rctx, &pb.NameRequest{})
	if err != nil || nr.Name != "T" {
		t.Fatalf("Name = %v, %v; want T", nr, err)
	}
	sr, err := c.SupportedCiphersuites(rctx, &pb.SupportedCiphersuitesRequest{})
	if err != nil || len(sr.Ciphersuites) == 0 {
		t.Fatalf("SupportedCiphersuites = %v, %v", sr, err)
	}
	// An unknown state id is an error, never a silent success.
	if _, err := c.StateAuth(rctx, &pb.StateAuthRequest{StateId: 999}); status.Code(err) == codes.OK {
		t.Fatalf("StateAuth(unknown) succeeded")
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestRejectsArguments(t *testing.T) {
	if err := run(context.Background(), []string{"extra"}, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("run accepted a positional argument")
	}
}
