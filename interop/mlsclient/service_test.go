package mlsclient

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	pb "github.com/daylight-im/daylight/internal/interop/mlspb"
)

// TestServiceScenario drives two Servers through the harness flow of welcome_join,
// commit and application: create, KeyPackage, Add by reference, Welcome join, an
// empty commit, a remove, and application messages both ways, for each served suite
// and both handshake encodings.
func TestServiceScenario(t *testing.T) {
	for _, cs := range servedSuites() {
		for _, enc := range []bool{false, true} {
			t.Run(suiteName(cs, enc), func(t *testing.T) { scenario(t, cs, enc) })
		}
	}
}

func suiteName(cs uint32, enc bool) string {
	if enc {
		return fmt.Sprintf("suite%d-private", cs)
	}
	return fmt.Sprintf("suite%d-public", cs)
}

// must panics on error; scenario recovers and fails the test with the message.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func scenario(t *testing.T, cs uint32, enc bool) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatal(r)
		}
	}()
	ctx := context.Background()
	a, b := New(Config{}), New(Config{})
	ga := must(a.CreateGroup(ctx, &pb.CreateGroupRequest{GroupId: []byte("group"), CipherSuite: cs, EncryptHandshake: enc, Identity: []byte("alice")}))
	kp := must(b.CreateKeyPackage(ctx, &pb.CreateKeyPackageRequest{CipherSuite: cs, Identity: []byte("bob")}))
	prop := must(a.AddProposal(ctx, &pb.AddProposalRequest{StateId: ga.StateId, KeyPackage: kp.KeyPackage}))
	cr := must(a.Commit(ctx, &pb.CommitRequest{StateId: ga.StateId, ByReference: [][]byte{prop.Proposal}}))
	ha := must(a.HandlePendingCommit(ctx, &pb.HandlePendingCommitRequest{StateId: ga.StateId}))
	jb := must(b.JoinGroup(ctx, &pb.JoinGroupRequest{TransactionId: kp.TransactionId, Welcome: cr.Welcome, EncryptHandshake: enc, Identity: []byte("bob")}))
	if !bytes.Equal(ha.EpochAuthenticator, jb.EpochAuthenticator) {
		t.Fatal("joiner disagrees on epoch authenticator")
	}

	// Application data both ways.
	ct := must(a.Protect(ctx, &pb.ProtectRequest{StateId: ga.StateId, AuthenticatedData: []byte("ad"), Plaintext: []byte("hello")}))
	pt := must(b.Unprotect(ctx, &pb.UnprotectRequest{StateId: jb.StateId, Ciphertext: ct.Ciphertext}))
	if string(pt.Plaintext) != "hello" || string(pt.AuthenticatedData) != "ad" {
		t.Fatalf("unprotect = %q %q", pt.Plaintext, pt.AuthenticatedData)
	}
	ct = must(b.Protect(ctx, &pb.ProtectRequest{StateId: jb.StateId, Plaintext: []byte("hi")}))
	pt = must(a.Unprotect(ctx, &pb.UnprotectRequest{StateId: ga.StateId, Ciphertext: ct.Ciphertext}))
	if string(pt.Plaintext) != "hi" {
		t.Fatalf("unprotect = %q", pt.Plaintext)
	}

	// Bob commits an update of his own (empty commit with path); Alice follows.
	cb := must(b.Commit(ctx, &pb.CommitRequest{StateId: jb.StateId, ForcePath: true}))
	hb := must(b.HandlePendingCommit(ctx, &pb.HandlePendingCommitRequest{StateId: jb.StateId}))
	hc := must(a.HandleCommit(ctx, &pb.HandleCommitRequest{StateId: ga.StateId, Commit: cb.Commit}))
	if !bytes.Equal(hb.EpochAuthenticator, hc.EpochAuthenticator) {
		t.Fatal("epoch authenticators differ after bob's commit")
	}
	// Alice proposes an update, Bob commits it by reference.
	up := must(a.UpdateProposal(ctx, &pb.UpdateProposalRequest{StateId: ga.StateId}))
	cb = must(b.Commit(ctx, &pb.CommitRequest{StateId: jb.StateId, ByReference: [][]byte{up.Proposal}}))
	hb = must(b.HandlePendingCommit(ctx, &pb.HandlePendingCommitRequest{StateId: jb.StateId}))
	hc = must(a.HandleCommit(ctx, &pb.HandleCommitRequest{StateId: ga.StateId, Proposal: [][]byte{up.Proposal}, Commit: cb.Commit}))
	if !bytes.Equal(hb.EpochAuthenticator, hc.EpochAuthenticator) {
		t.Fatal("epoch authenticators differ after update")
	}
	// Exporters agree.
	ea := must(a.Export(ctx, &pb.ExportRequest{StateId: ga.StateId, Label: "l", Context: []byte("c"), KeyLength: 32}))
	eb := must(b.Export(ctx, &pb.ExportRequest{StateId: jb.StateId, Label: "l", Context: []byte("c"), KeyLength: 32}))
	if !bytes.Equal(ea.ExportedSecret, eb.ExportedSecret) {
		t.Fatal("exporters differ")
	}
	// Alice removes Bob.
	rm := must(a.Commit(ctx, &pb.CommitRequest{StateId: ga.StateId, ByValue: []*pb.ProposalDescription{{ProposalType: []byte("remove"), RemovedId: []byte("bob")}}}))
	must(a.HandlePendingCommit(ctx, &pb.HandlePendingCommitRequest{StateId: ga.StateId}))
	must(b.HandleCommit(ctx, &pb.HandleCommitRequest{StateId: jb.StateId, Commit: rm.Commit}))
}
