// Package mlsclient implements the MLS interop harness service (mls_client.MLSClient,
// mlswg/mls-implementations interop/proto/mls_client.proto) on top of Daylight's MLS
// engine, so the official test-runner can drive Daylight against itself and other stacks.
//
// The service keeps per-run state in memory: pending joins (transaction ids), group
// states (state ids), reinit and external-signer handles. Operations the engine does not
// support yet return a gRPC Unimplemented status naming the operation, never a silent
// success.
package mlsclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/daylight-im/daylight/internal/interop/mlspb"
	"github.com/daylight-im/daylight/mls/group"
)

// Config configures a Server.
type Config struct {
	// Name is reported by the Name RPC; empty means "Daylight".
	Name string
	// Logger receives one line per RPC failure; nil discards.
	Logger *slog.Logger
	// Rand and Now are passed to the engine; nil means crypto/rand and time.Now.
	Rand io.Reader
	Now  func() time.Time
}

// Server is the MLSClient gRPC service. It is safe for concurrent use; RPCs are
// serialised by one mutex (the runner drives one step at a time).
type Server struct {
	pb.UnimplementedMLSClientServer

	name string
	log  *slog.Logger

	rand io.Reader
	now  func() time.Time

	mu      sync.Mutex
	nextID  uint32
	joins   map[uint32]*join
	states  map[uint32]*member
	signers map[uint32]*group.ExternalSigner
	reinits map[uint32]*reinit
}

var errNoDescription = errors.New("missing proposal description")

// New returns a Server.
func New(cfg Config) *Server {
	s := &Server{name: cfg.Name, log: cfg.Logger, rand: cfg.Rand, now: cfg.Now,
		joins: map[uint32]*join{}, states: map[uint32]*member{}, signers: map[uint32]*group.ExternalSigner{}, reinits: map[uint32]*reinit{}}
	if s.name == "" {
		s.name = "Daylight"
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// unimplemented is the error returned for harness operations the engine cannot do yet.
func unimplemented(op string) error {
	return status.Errorf(codes.Unimplemented, "daylight: %s is not implemented by the Daylight MLS engine yet", op)
}

func invalid(op string, err error) error {
	return status.Errorf(codes.InvalidArgument, "daylight: %s: %v", op, err)
}

func notFound(op, what string, id uint32) error {
	return status.Errorf(codes.NotFound, "daylight: %s: unknown %s %d", op, what, id)
}

// Name implements the Name RPC.
func (s *Server) Name(context.Context, *pb.NameRequest) (*pb.NameResponse, error) {
	return &pb.NameResponse{Name: s.name}, nil
}

// servedSuites lists the cipher suites served: the RFC 9420 suites 1 and 3 and the X-Wing
// suite 0x004D, the ones Daylight deploys.
func servedSuites() []uint32 { return []uint32{0x0001, 0x0003, 0x004D} }

// SupportedCiphersuites implements the SupportedCiphersuites RPC.
func (s *Server) SupportedCiphersuites(context.Context, *pb.SupportedCiphersuitesRequest) (*pb.SupportedCiphersuitesResponse, error) {
	return &pb.SupportedCiphersuitesResponse{Ciphersuites: servedSuites()}, nil
}

// RecoverPanics is a gRPC unary interceptor that turns a panic in a handler into an
// Internal status, so one bad request does not kill the server under the runner.
func RecoverPanics(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = status.Errorf(codes.Internal, "daylight: %s panicked: %v", info.FullMethod, r)
		}
	}()
	return handler(ctx, req)
}
