// Package mlspb holds the Go gRPC stubs for the MLS interop harness service
// (mls_client.MLSClient, from mlswg/mls-implementations interop/proto/mls_client.proto,
// copied unchanged beside this file).
//
// The generated files are committed. To regenerate, install the pinned plugins
// (the same versions the harness build script uses) and run go generate:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.10
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
//	go generate ./internal/interop/mlspb
package mlspb

//go:generate protoc --go_out=. --go_opt=paths=source_relative "--go_opt=Mmls_client.proto=github.com/daylight-im/daylight/internal/interop/mlspb;mlspb" --go-grpc_out=. --go-grpc_opt=paths=source_relative "--go-grpc_opt=Mmls_client.proto=github.com/daylight-im/daylight/internal/interop/mlspb;mlspb" -I . mls_client.proto
