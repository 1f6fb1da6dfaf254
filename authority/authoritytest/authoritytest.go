// Package authoritytest runs a whole lawful-access case in one process for
// tests: a witnessed access log, five trustee services over HTTP (k = 3), a
// court-signed warrant, escrow records of synthetic epochs, signed messages
// "retained" as ciphertext, and an Authority that files, collects, recovers,
// decrypts and bundles. Nothing here is for production use: in particular
// Decrypter is a stand-in for MLS PrivateMessage decryption (see Decrypter).
package authoritytest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"

	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
)

// Decrypter stands in for the MLS layer's PrivateMessage decryption: a
// retained "ciphertext" is ChaCha20-Poly1305 under a key derived from the
// epoch's encryption_secret, of the JSON of the message fields. It exercises
// the same seam (recovered secrets in, signed content out) without MLS; the
// signatures inside are real Ed25519 SignWithLabel over a FramedContentTBS,
// which evidence.Build and Verify check.
type Decrypter struct{}

type sealedMessage struct {
	Sender     string `json:"sender"`
	Device     string `json:"device"`
	LeafIndex  uint32 `json:"leaf_index"`
	Text       string `json:"text"`
	ContentTBS []byte `json:"content_tbs"`
	Signature  []byte `json:"signature"`
	SignerKey  []byte `json:"signer_key"`
}

func messageKey(c escrow.Context, p escrow.Secrets) []byte {
	key := make([]byte, chacha20poly1305.KeySize)
	io.ReadFull(hkdf.New(sha256.New, p.EncryptionSecret, nil, fmt.Appendf(nil, "authoritytest message key %x %d", c.GroupID, c.Epoch)), key)
	return key
}

// Decrypt implements authority.Decrypter.
func (Decrypter) Decrypt(c escrow.Context, p escrow.Secrets, m authority.Retained) (*evidence.Message, error) {
	aead, _ := chacha20poly1305.NewX(messageKey(c, p))
	if len(m.Ciphertext) < aead.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	pt, err := aead.Open(nil, m.Ciphertext[:aead.NonceSize()], m.Ciphertext[aead.NonceSize():], nil)
	if err != nil {
		return nil, err
	}
	var s sealedMessage
	if err := json.Unmarshal(pt, &s); err != nil {
		return nil, err
	}
	return &evidence.Message{GroupID: c.GroupID, Epoch: c.Epoch, Sender: s.Sender, Device: s.Device, LeafIndex: s.LeafIndex,
		Text: s.Text, Suite: 0x0001, ContentTBS: s.ContentTBS, Signature: s.Signature, SignerKey: s.SignerKey}, nil
}

func appendVarint(b []byte, n int) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	default:
		return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
}

// tbs encodes the FramedContentTBS of an application message from a member
// (RFC 9420, Section 6.1) with a minimal GroupContext.
func tbs(group []byte, epoch uint64, leaf uint32, app []byte) []byte {
	vec := func(b, v []byte) []byte { return append(appendVarint(b, len(v)), v...) }
	u := func(b []byte, v uint64, n int) []byte {
		for i := n - 1; i >= 0; i-- {
			b = append(b, byte(v>>(8*i)))
		}
		return b
	}
	b := u(nil, 1, 2)  // mls10
	b = u(b, 2, 2)     // mls_private_message
	b = vec(b, group)  // group_id
	b = u(b, epoch, 8) // epoch
	b = append(b, 1)   // sender_type member
	b = u(b, uint64(leaf), 4)
	b = vec(b, nil)  // authenticated_data
	b = append(b, 1) // application
	b = vec(b, app)
	b = u(b, 1, 2)      // context.version
	b = u(b, 0x0001, 2) // cipher suite
	b = vec(b, group)   // context.group_id
	b = u(b, epoch, 8)  // context.epoch
	b = vec(b, []byte("tree hash .............32 bytes."))
	b = vec(b, []byte("confirmed transcript hash ......"))
	return vec(b, nil) // extensions
}

// signContent is SignContent of SignWithLabel (RFC 9420, Section 5.1.2).
func signContent(label string, content []byte) []byte {
	full := "MLS 1.0 " + label
	b := appendVarint(nil, len(full))
	b = append(b, full...)
	b = appendVarint(b, len(content))
	return append(b, content...)
}

// Seal makes a retained ciphertext of a message signed by from.
func (s *Scenario) Seal(e *servicetest.Epoch, from string, leaf uint32, timeMs uint64, text string) authority.Retained {
	c := e.Record.Context
	content := tbs(c.GroupID, c.Epoch, leaf, []byte(text))
	priv := s.W.Users[from]
	sm := sealedMessage{Sender: from, Device: "d1", LeafIndex: leaf, Text: text, ContentTBS: content,
		Signature: ed25519.Sign(priv, signContent("FramedContentTBS", content)), SignerKey: priv.Public().(ed25519.PublicKey)}
	pt, _ := json.Marshal(sm)
	aead, _ := chacha20poly1305.NewX(messageKey(c, e.Secrets))
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return authority.Retained{GroupID: c.GroupID, Epoch: c.Epoch, TimeMs: timeMs, Ciphertext: aead.Seal(nonce, nonce, pt, nil)}
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
}

// New starts a world and files a warrant for alice with two in-window
// records of hers; nothing is collected yet.
func New(t testing.TB) *Scenario {
	t.Helper()
	w := servicetest.New(t, servicetest.Options{K: 3, N: 5})
	s := &Scenario{W: w, Keys: &authority.Keys{Name: "federal-police", KEMPriv: w.AuthKEMPriv, KEMPub: w.AuthKEMPub, Sign: w.AuthSign}}
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
	for i, m := range []struct {
		e    *servicetest.Epoch
		from string
		leaf uint32
		at   uint64
		text string
	}{
		{e1, "alice", 0, ms(now-5*day) + 1000, "hi bob <script>"},
		{e1, "bob", 1, ms(now-5*day) + 2000, "hi alice"},
		{e2, "carol", 1, ms(now - day), "meeting at 5?"},
		{e2, "alice", 0, ms(now-day) + 500, "yes & see you"},
		{s.Outside, "alice", 0, ms(now-30*day) + 10, "old news"},
	} {
		s.Retained = append(s.Retained, s.Seal(m.e, m.from, m.leaf, m.at, m.text))
		if m.e != s.Outside {
			s.Expected = append(s.Expected, m.text)
		}
		_ = i
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
	msgs, err := authority.Decrypt(recs, s.Retained, Decrypter{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Authority.Bundle(ctx, s.Case, recs, msgs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
