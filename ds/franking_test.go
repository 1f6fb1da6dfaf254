package ds_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
	"github.com/daylight-im/daylight/ds/mlsvalidator"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/group"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/store/sqlite"
)

type suspendSet map[string]error // nil value: suspended; non-nil: lookup fails

func (s suspendSet) Suspended(_ context.Context, u string) (bool, error) {
	err, ok := s[u]
	return ok && err == nil, err
}

// TestFrankingStampAndSuspension: with Config.Franking set, an accepted
// application message is delivered with a stamp binding its commitment to the
// sending account, device, group and acceptance time; a message without a
// commitment is delivered unstamped; a suspended account's sends are refused
// (ErrSuspended), and a failing suspension lookup refuses too (fail closed).
func TestFrankingStampAndSuspension(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := make([]byte, 32)
	rand.Read(key)
	stamper, _ := franking.NewStamper(key)
	susp := suspendSet{}
	now := time.Date(2026, 11, 23, 21, 0, 0, 123e6, time.UTC)
	svc, err := ds.New(ds.Config{Store: st, Validator: mlsvalidator.New(mlsvalidator.NewEngine(0)), Now: func() time.Time { return now },
		Franking: ds.Franking{Stamper: stamper, Suspensions: susp}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	reg := func(name string) (ds.Principal, *group.KeyPackageBundle, []byte) {
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		k := ed25519.NewKeyFromSeed(seed)
		pub := k.Public().(ed25519.PublicKey)
		d, err := svc.Register(ctx, ds.RegisterRequest{Username: name, DeviceName: "p", SigningKey: pub, Signature: ed25519.Sign(k, ds.RegisterStatement(name, "p", pub))})
		if err != nil {
			t.Fatal(err)
		}
		p := ds.Principal{Username: name, Device: d.ID}
		kp, err := group.NewKeyPackage(group.Config{Rand: seededReader(seed)}, suite.X25519AES128GCMSHA256Ed25519, ds.Identity(name, d.ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.UploadKeyPackages(ctx, p, [][]byte{kp.Message}); err != nil {
			t.Fatal(err)
		}
		return p, kp, seed
	}
	alice, _, aseed := reg("alice")
	bob, _, _ := reg("bob")
	ag, _ := group.Create(group.Config{Rand: seededReader(aseed)}, suite.X25519AES128GCMSHA256Ed25519, []byte("g"), ds.Identity("alice", alice.Device))
	gi, _, _ := ag.GroupInfo(false)
	if _, err := svc.CreateGroup(ctx, alice, gi); err != nil {
		t.Fatal(err)
	}
	kps, _ := svc.ClaimKeyPackages(ctx, alice, "bob")
	add, err := ag.Commit(group.CommitOptions{ByValue: []group.ProposalSpec{{Type: group.ProposalAdd, KeyPackage: kps[0].Data}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, alice, add.Commit, add.Welcome); err != nil {
		t.Fatal(err)
	}
	ag.MergePendingCommit()

	sender := ds.StampSender(alice)
	content, c, _ := franking.Protect(rand.Reader, []byte("g"), sender, []byte("hi bob"))
	msg, _ := ag.Protect(c[:], content)
	if _, err := svc.Send(ctx, alice, msg, nil); err != nil {
		t.Fatal(err)
	}
	plain, _ := ag.Protect(nil, []byte("unfranked"))
	if _, err := svc.Send(ctx, alice, plain, nil); err != nil {
		t.Fatal(err)
	}
	page, err := svc.Fetch(ctx, bob, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var stamps [][]byte
	for _, d := range page.Deliveries {
		if d.Kind == ds.KindApplication {
			stamps = append(stamps, d.Stamp)
		}
	}
	if len(stamps) != 2 || len(stamps[1]) != 0 {
		t.Fatalf("stamps %x: want one stamp, then none", stamps)
	}
	s, err := franking.ParseStamp(stamps[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Matches(c, []byte("g"), sender); err != nil || s.Time != uint64(now.UnixMilli()) {
		t.Fatalf("stamp %+v: %v", s, err)
	}
	pt, kf, err := franking.ParseContent(content)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stamper.VerifyReport(&franking.Report{Plaintext: pt, Key: kf, Stamp: *s}); err != nil {
		t.Fatalf("the stamp does not verify: %v", err)
	}

	susp["alice"] = nil
	m2, _ := ag.Protect(c[:], content)
	if _, err := svc.Send(ctx, alice, m2, nil); !errors.Is(err, ds.ErrSuspended) || !errors.Is(err, ds.ErrForbidden) {
		t.Fatalf("suspended: %v", err)
	}
	susp["alice"] = errors.New("database down")
	if _, err := svc.Send(ctx, alice, m2, nil); err == nil {
		t.Fatal("a failed suspension lookup let the message through")
	}
	delete(susp, "alice")
	if _, err := svc.Send(ctx, alice, m2, nil); err != nil {
		t.Fatalf("after lifting: %v", err)
	}
}

// seededReader yields seed first (mls/group draws the leaf signature seed
// first, so the leaf key is the registered device key), then randomness.
func seededReader(seed []byte) io.Reader { return io.MultiReader(bytes.NewReader(seed), rand.Reader) }
