package storetest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/dstest"
	"github.com/daylight-im/daylight/trustee"
)

// testEpochStatements checks member-signed epoch statements through
// ds.Service (A4, T11): only the uploader's own signature, the group's
// current epoch, its exact accounts and a time near the DS's clock are
// accepted; the first statement of an epoch is final; the evidence of an
// epoch carries its statement and the next one, and trustee.CommitChain
// verifies it with the members' keys, taking times from the statements.
func testEpochStatements(t *testing.T, e *env) {
	if _, ok := e.st.(ds.EpochStatementStore); !ok {
		t.Fatalf("store %T does not implement ds.EpochStatementStore", e.st)
	}
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	_, cp := e.user(t, "carol")
	gid, epoch := e.group(t, alice, bob)
	now := uint64(e.clock.Now().Unix())
	stmt := func(by string, ep, at uint64, members ...string) *trustee.CommitStatement {
		return &trustee.CommitStatement{GroupID: gid, Epoch: ep, Time: at, Members: members, Committer: by}
	}
	signed := func(s *trustee.CommitStatement, key []byte) []byte {
		s.Sign(key)
		return s.Marshal()
	}
	good := stmt("alice", epoch, now, "alice", "bob")
	goodRaw := signed(good, alice.Key)

	refuse := []struct {
		name string
		p    ds.Principal
		raw  []byte
		want error
	}{
		{"signed by another key", ap, signed(stmt("alice", epoch, now, "alice", "bob"), bob.Key), ds.ErrBadSignature},
		{"committer not the uploader", bp, signed(stmt("alice", epoch, now, "alice", "bob"), bob.Key), ds.ErrForbidden},
		{"wrong members", ap, signed(stmt("alice", epoch, now, "alice"), alice.Key), ds.ErrInvalidInput},
		{"ghost member", ap, signed(stmt("alice", epoch, now, "alice", "bob", "carol"), alice.Key), ds.ErrInvalidInput},
		{"old epoch", ap, signed(stmt("alice", epoch-1, now, "alice", "bob"), alice.Key), ds.ErrStaleEpoch},
		{"time far off", ap, signed(stmt("alice", epoch, now-3600, "alice", "bob"), alice.Key), ds.ErrInvalidInput},
		{"non-member", cp, signed(stmt("carol", epoch, now, "alice", "bob"), alice.Key), ds.ErrForbidden},
		{"trailing byte", ap, append(bytes.Clone(goodRaw), 0), ds.ErrInvalidInput},
	}
	for _, tc := range refuse {
		if err := e.svc.PutEpochStatement(e.ctx, tc.p, tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := e.svc.EpochEvidence(e.ctx, ap, gid, epoch); !errors.Is(err, ds.ErrNotFound) {
		t.Fatalf("evidence before any statement: %v, want ErrNotFound", err)
	}
	must(t, "PutEpochStatement", e.svc.PutEpochStatement(e.ctx, ap, goodRaw))
	must(t, "PutEpochStatement(again)", e.svc.PutEpochStatement(e.ctx, ap, goodRaw))
	// A second, different statement for the epoch (bob, a later time) is refused.
	if err := e.svc.PutEpochStatement(e.ctx, bp, signed(stmt("bob", epoch, now+60, "alice", "bob"), bob.Key)); !errors.Is(err, ds.ErrConflict) {
		t.Fatalf("second statement: %v, want ErrConflict", err)
	}
	if _, err := e.svc.EpochEvidence(e.ctx, cp, gid, epoch); !errors.Is(err, ds.ErrForbidden) {
		t.Fatalf("evidence to a non-member: %v, want ErrForbidden", err)
	}

	chain := trustee.CommitChain{Keys: func(a string) (ed25519.PublicKey, bool) {
		switch a {
		case "alice":
			return alice.Key.Public().(ed25519.PublicKey), true
		case "bob":
			return bob.Key.Public().(ed25519.PublicKey), true
		}
		return nil, false
	}}
	ev, err := e.svc.EpochEvidence(e.ctx, bp, gid, epoch)
	must(t, "EpochEvidence", err)
	span, err := chain.VerifyEpoch(gid, epoch, ev)
	must(t, "VerifyEpoch(open epoch)", err)
	if span.Start != now || span.End != 0 {
		t.Fatalf("open epoch span %+v", span)
	}

	// Bob commits the next epoch; his statement ends alice's epoch.
	if _, err := e.svc.Send(e.ctx, bp, dstest.Commit(gid, epoch, bob, nil), nil); err != nil {
		t.Fatalf("bob's commit: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	later := uint64(e.clock.Now().Unix())
	must(t, "PutEpochStatement(next)", e.svc.PutEpochStatement(e.ctx, bp, signed(stmt("bob", epoch+1, later, "alice", "bob"), bob.Key)))
	ev, err = e.svc.EpochEvidence(e.ctx, ap, gid, epoch)
	must(t, "EpochEvidence", err)
	span, err = chain.VerifyEpoch(gid, epoch, ev)
	must(t, "VerifyEpoch(closed epoch)", err)
	if span.Start != now || span.End != later || len(span.Members) != 2 {
		t.Fatalf("closed epoch span %+v, want [%d, %d)", span, now, later)
	}

	// Warrant scoping: the records of epochs whose statement names a target
	// and whose span overlaps the window.
	r1, r2 := escrowRecord(t, gid, epoch), escrowRecord(t, gid, epoch+1)
	if _, err := e.svc.PutEscrowRecord(e.ctx, ap, r1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PutEscrowRecord(e.ctx, bp, r2); err != nil {
		t.Fatal(err)
	}
	scoped := func(targets []string, from, to uint64) [][]byte {
		t.Helper()
		rs, err := e.svc.ScopedRecords(e.ctx, targets, from, to)
		must(t, "ScopedRecords", err)
		var out [][]byte
		for _, r := range rs {
			if _, err := chain.VerifyEpoch(r.GroupID, r.Epoch, r.EpochEvidence); err != nil {
				t.Fatalf("scoped record's evidence: %v", err)
			}
			out = append(out, r.Record)
		}
		return out
	}
	if got := scoped([]string{"alice"}, now, now+1); len(got) != 1 || !bytes.Equal(got[0], r1) {
		t.Fatalf("window at the first epoch: %d records", len(got))
	}
	if got := scoped([]string{"bob", "alice"}, later, later+10); len(got) != 1 || !bytes.Equal(got[0], r2) {
		t.Fatalf("window at the second epoch: %d records", len(got))
	}
	if got := scoped([]string{"alice"}, now-100, later+10); len(got) != 2 {
		t.Fatalf("window over both epochs: %d records", len(got))
	}
	if got := scoped([]string{"carol"}, now-100, later+10); len(got) != 0 {
		t.Fatalf("non-member target: %d records", len(got))
	}
	if got := scoped([]string{"alice"}, now-100, now); len(got) != 0 {
		t.Fatalf("window before the group: %d records", len(got))
	}
}
