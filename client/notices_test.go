package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/accesslog/tlog"
	"github.com/daylight-im/daylight/client"
	"github.com/daylight-im/daylight/warrant"
	"github.com/daylight-im/daylight/witness"
	"golang.org/x/mod/sumdb/note"
)

// TestAttackT15_NoticeFoundInLog (A7, T15) appends Opening entries to a real
// log: one sealed to alice, one to bob, one sealed to alice's key but naming
// another account, one whose sealed body was moved under another warrant's
// commitment, and an unrelated entry. Alice's client finds exactly hers, with
// window, case and court; bob's finds his.
func TestAttackT15_NoticeFoundInLog(t *testing.T) {
	ctx := context.Background()
	url := client.TestingOnlyStartServer(t)
	home := t.TempDir()
	alice := newClient(t, url, filepath.Join(home, "alice"))
	bob := newClient(t, url, filepath.Join(home, "bob"))
	for name, c := range map[string]*client.Client{"alice": alice, "bob": bob} {
		if _, err := c.Register(ctx, name, "laptop"); err != nil {
			t.Fatal(err)
		}
	}
	logDir := t.TempDir()
	l, err := tlog.Open(ctx, tlog.Config{Dir: logDir, Origin: "daylight.test/log", CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	trust := client.LogTrust{URL: logDir, Policy: l.Policy()}

	if _, err := alice.Notices(ctx, trust); !errors.Is(err, client.ErrNoOpeningKey) {
		t.Fatalf("notices before the opening key: %v, want ErrNoOpeningKey", err)
	}
	aliceKey, err := alice.OpeningKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := alice.OpeningKey()
	if err != nil || string(again) != string(aliceKey) {
		t.Fatal("OpeningKey is not stable across calls")
	}
	bobKey, err := bob.OpeningKey()
	if err != nil {
		t.Fatal(err)
	}
	opening := func(target string, commitment byte) *warrant.Opening {
		return &warrant.Opening{WarrantCommitment: [32]byte{commitment}, Target: target, Court: "court-a",
			Jurisdiction: "A", CaseNumber: "2026-CR-" + target, LegalBasis: "demo",
			WindowStart: 1_800_000_000, WindowEnd: 1_800_003_600, Records: 4, Opened: 1_800_010_000}
	}
	appendOpening := func(key []byte, o *warrant.Opening, commitment byte) uint64 {
		t.Helper()
		sealed, err := warrant.SealOpening(key, o)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := l.Append(ctx, &accesslog.Opening{WarrantCommitment: [32]byte{commitment}, Trustee: "trustee-0", Time: o.Opened, Sealed: sealed})
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	if _, err := l.Append(ctx, &accesslog.WarrantCommitment{Court: "court-a", Jurisdiction: "A", NumTargets: 1, Filed: 1_800_000_000}); err != nil {
		t.Fatal(err)
	}
	aliceIdx := appendOpening(aliceKey, opening("alice", 1), 1)
	bobIdx := appendOpening(bobKey, opening("bob", 2), 2)
	appendOpening(aliceKey, opening("mallory", 3), 3)       // sealed to alice's key, names another account
	last := appendOpening(aliceKey, opening("alice", 4), 5) // body of warrant 4 under warrant 5's entry
	if _, err := l.Await(ctx, last); err != nil {
		t.Fatal(err)
	}

	got, err := alice.Notices(ctx, trust)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Index != aliceIdx || got[0].CaseNumber != "2026-CR-alice" || got[0].Court != "court-a" ||
		!got[0].WindowStart.Equal(time.Unix(1_800_000_000, 0)) || !got[0].WindowEnd.Equal(time.Unix(1_800_003_600, 0)) || got[0].Records != 4 {
		t.Fatalf("alice's notices = %+v, want only the opening at %d", got, aliceIdx)
	}
	got, err = bob.Notices(ctx, trust)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Index != bobIdx {
		t.Fatalf("bob's notices = %+v, want only the opening at %d", got, bobIdx)
	}
}

// TestAttackT15_UnwitnessedViewRefused: a client that requires a witness
// cosignature refuses a log view without it (the provider cannot show alice
// a log without her notice unless the witnesses sign that view for everyone).
func TestAttackT15_UnwitnessedViewRefused(t *testing.T) {
	ctx := context.Background()
	url := client.TestingOnlyStartServer(t)
	alice := newClient(t, url, filepath.Join(t.TempDir(), "alice"))
	if _, err := alice.Register(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.OpeningKey(); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	l, err := tlog.Open(ctx, tlog.Config{Dir: logDir, Origin: "daylight.test/log", CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	idx, err := l.Append(ctx, &accesslog.WarrantCommitment{Court: "court-a", Jurisdiction: "A", NumTargets: 1, Filed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Await(ctx, idx); err != nil {
		t.Fatal(err)
	}
	wkey, err := newWitnessVKey()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := accesslog.NewCheckpointPolicy("daylight.test/log", l.VKey(), []string{wkey}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Notices(ctx, client.LogTrust{URL: logDir, Policy: pol}); !errors.Is(err, accesslog.ErrNotEnoughCosignatures) {
		t.Fatalf("unwitnessed view: %v, want ErrNotEnoughCosignatures", err)
	}
}

// newWitnessVKey returns a cosignature/v1 verifier key of a fresh witness
// that never cosigned anything.
func newWitnessVKey() (string, error) {
	skey, _, err := note.GenerateKey(rand.Reader, "witness.test/w0")
	if err != nil {
		return "", err
	}
	return witness.CosignatureVKey(skey)
}
