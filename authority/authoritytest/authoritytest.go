// Package authoritytest runs a whole lawful-access case in one process for
// tests: a witnessed access log, five trustee services over HTTP (k = 3), a
// court-signed warrant, escrow records of synthetic epochs, signed messages
// "retained" as ciphertext, and an Authority that files, collects, recovers,
// decrypts and bundles. Nothing here is for production use: in particular
// Decrypter is a stand-in for MLS PrivateMessage decryption (see Decrypter).
package authoritytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/mls/framing"
	"github.com/daylight-im/daylight/mls/keyschedule"
	"github.com/daylight-im/daylight/mls/secrettree"
	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
)

// mlsEpoch is the sending side of one epoch: the members' view of its
// secret tree (built from the same secrets the escrow record holds).
type mlsEpoch struct {
	tree       *secrettree.Tree
	senderData *keyschedule.SenderDataSecret
	state      *authority.EpochState
}

var members = map[string]uint32{"alice": 0, "bob": 1, "carol": 1}

func (s *Scenario) suite() *suite.Suite {
	su, err := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	if err != nil {
		panic(err)
	}
	return su
}

// epoch returns (creating it) the sending state of e: a two-leaf group whose
// GroupContext is that of e's group and epoch.
func (s *Scenario) epoch(e *servicetest.Epoch) *mlsEpoch {
	c := e.Record.Context
	k := fmt.Sprintf("%x/%d", c.GroupID, c.Epoch)
	if me, ok := s.epochs[k]; ok {
		return me
	}
	su := s.suite()
	enc, _ := keyschedule.NewEncryptionSecret(su, bytes.Clone(e.Secrets.EncryptionSecret))
	tree, err := secrettree.New(su, enc, 2, secrettree.Config{})
	if err != nil {
		panic(err)
	}
	sd, _ := keyschedule.NewSenderDataSecret(su, bytes.Clone(e.Secrets.SenderDataSecret))
	gc := &wire.GroupContext{Version: 1, CipherSuite: wire.CipherSuite(suite.X25519AES128GCMSHA256Ed25519), GroupID: c.GroupID, Epoch: c.Epoch,
		TreeHash: bytes.Repeat([]byte{7}, 32), ConfirmedTranscriptHash: bytes.Repeat([]byte{9}, 32)}
	st := &authority.EpochState{Suite: uint16(suite.X25519AES128GCMSHA256Ed25519), LeafCount: 2, GroupContext: gc.Marshal(), Members: map[uint32]authority.Member{}}
	for _, who := range e.Members {
		st.Members[members[who]] = authority.Member{Account: who, Device: "d1", SignatureKey: s.sigPub[who]}
	}
	me := &mlsEpoch{tree: tree, senderData: sd, state: st}
	s.epochs[k] = me
	return me
}

// States is the EpochState lookup the MLSDecrypter uses (the DS's
// PublicGroup in production).
func (s *Scenario) States(groupID []byte, epoch uint64) (*authority.EpochState, error) {
	me, ok := s.epochs[fmt.Sprintf("%x/%d", groupID, epoch)]
	if !ok {
		return nil, fmt.Errorf("no state for group %q epoch %d", groupID, epoch)
	}
	return me.state, nil
}

// Seal makes the retained PrivateMessage (as an MLSMessage) of an
// application message from a member of e's group, optionally franked.
func (s *Scenario) Seal(e *servicetest.Epoch, from string, timeMs uint64, text string, franked bool) authority.Retained {
	return s.seal(e, from, from, timeMs, text, franked)
}

// SealAs makes a forgery: a message signed by signer's key that claims the
// leaf of claimed (a member who knows the epoch's keys can encrypt it; only
// the signature gives it away).
func (s *Scenario) SealAs(e *servicetest.Epoch, signer, claimed string, timeMs uint64, text string) authority.Retained {
	return s.seal(e, signer, claimed, timeMs, text, false)
}

func (s *Scenario) seal(e *servicetest.Epoch, signer, from string, timeMs uint64, text string, franked bool) authority.Retained {
	me := s.epoch(e)
	c := e.Record.Context
	su := s.suite()
	body, auth := []byte(text), []byte(nil)
	if franked {
		content, com, err := franking.Protect(rand.Reader, c.GroupID, franking.Sender{Account: from, Device: "d1"}, body)
		if err != nil {
			panic(err)
		}
		body, auth = content, com[:]
	}
	fc := framing.FramedContent{GroupID: c.GroupID, Epoch: c.Epoch, Sender: framing.Sender{Type: framing.SenderMember, Index: members[from]},
		AuthenticatedData: auth, ContentType: framing.ContentApplication, Body: body}
	ac, err := framing.Sign(su, s.sigPriv[signer], framing.WireFormatPrivateMessage, fc, me.state.GroupContext)
	if err != nil {
		panic(err)
	}
	pm, err := framing.ProtectPrivate(su, ac, me.tree, me.senderData, framing.PrivateOptions{PadBlock: 32})
	if err != nil {
		panic(err)
	}
	raw, err := pm.Marshal()
	if err != nil {
		panic(err)
	}
	msg := append([]byte{0x00, 0x01, 0x00, byte(framing.WireFormatPrivateMessage)}, raw...) // MLSMessage
	return authority.Retained{GroupID: c.GroupID, Epoch: c.Epoch, TimeMs: timeMs, Ciphertext: msg}
}

// Scenario is a filed case with its world.
type Scenario struct {
	W         *servicetest.World
	Keys      *authority.Keys
	Authority *authority.Authority
	Trustees  []authority.Trustee
	Case      *authority.Case
	InWindow  []*servicetest.Epoch // requested: alice's epochs overlapping the window
	Outside   *servicetest.Epoch   // an epoch of alice's before the window: never requested
	Retained  []authority.Retained // ciphertexts of all three epochs
	Expected  []string             // texts of the in-window messages

	epochs  map[string]*mlsEpoch
	sigPriv map[string][]byte
	sigPub  map[string][]byte
}

// NewScenario returns an empty scenario over w (for tests that file their
// own case): MLS signature keys for alice, bob and carol.
func NewScenario(w *servicetest.World) *Scenario {
	s := &Scenario{W: w, epochs: map[string]*mlsEpoch{}, sigPriv: map[string][]byte{}, sigPub: map[string][]byte{}}
	for who := range members {
		priv, pub, err := s.suite().GenerateSignatureKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		s.sigPriv[who], s.sigPub[who] = priv, pub
	}
	return s
}

// New starts a world and files a warrant for alice with two in-window
// records of hers; nothing is collected yet.
func New(t testing.TB) *Scenario {
	t.Helper()
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := NewScenario(w)
	s.Keys = &authority.Keys{Name: "federal-police", KEMPriv: w.AuthKEMPriv, KEMPub: w.AuthKEMPub, Sign: w.AuthSign}
	var err error
	s.Authority, err = authority.New(authority.Config{Keys: s.Keys, Policy: w.Pol, Log: service.TlogAppender{Log: w.Log}, Reader: w.Reader,
		Now: func() time.Time { return time.Unix(int64(servicetest.Now), 0) }, AwaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i, srv := range w.Servers {
		s.Trustees = append(s.Trustees, authority.Trustee{ID: w.Pol.Trustees[i].ID, Client: &service.Client{URL: srv.URL}})
	}
	now, day := servicetest.Now, uint64(servicetest.Day)
	e1 := w.Epoch("g-alice-bob", 5, now-5*day, now-4*day, "alice", "bob")
	e2 := w.Epoch("g-alice-carol", 9, now-2*day, 0, "alice", "carol")
	s.Outside = w.Epoch("g-alice-bob", 2, now-30*day, now-29*day, "alice", "bob")
	s.InWindow = []*servicetest.Epoch{e1, e2}
	ms := func(sec uint64) uint64 { return sec * 1000 }
	for _, m := range []struct {
		e       *servicetest.Epoch
		from    string
		at      uint64
		text    string
		franked bool
	}{
		{e1, "alice", ms(now-5*day) + 1000, "hi bob <script>", false},
		{e1, "bob", ms(now-5*day) + 2000, "hi alice", true},
		{e2, "carol", ms(now - day), "meeting at 5?", false},
		{e2, "alice", ms(now-day) + 500, "yes & see you", true},
		{s.Outside, "alice", ms(now-30*day) + 10, "old news", false},
	} {
		s.Retained = append(s.Retained, s.Seal(m.e, m.from, m.at, m.text, m.franked))
		if m.e != s.Outside {
			s.Expected = append(s.Expected, m.text)
		}
	}
	sw := w.SignWarrant(nil, nil)
	s.Case, err = s.Authority.File(context.Background(), w.F.Signed, sw, []trustee.RecordRequest{e1.Request, e2.Request})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Bundle runs collect (k trustees), recover, decrypt and bundle.
func (s *Scenario) Bundle(t testing.TB) evidence.Bundle {
	t.Helper()
	ctx := context.Background()
	if err := s.Authority.Collect(ctx, s.Case, s.Trustees, 3); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Authority.Recover(s.Case)
	if err != nil {
		t.Fatal(err)
	}
	msgs, rej := authority.Decrypt(recs, s.Retained, authority.NewMLSDecrypter(s.States))
	if len(rej) != 0 {
		t.Fatalf("rejected messages: %+v", rej)
	}
	b, err := s.Authority.Bundle(ctx, s.Case, recs, msgs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
