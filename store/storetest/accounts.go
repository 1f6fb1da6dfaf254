package storetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/daylight-im/daylight/ds"
)

func (e *env) login(t *testing.T, s ed25519.PrivateKey, dev ds.DeviceID) ds.Token {
	t.Helper()
	c, err := e.svc.Challenge(e.ctx, dev)
	must(t, "Challenge", err)
	tok, err := e.svc.Authenticate(e.ctx, dev, c.Nonce, ed25519.Sign(s, ds.AuthStatement(dev, c.Nonce)))
	must(t, "Authenticate", err)
	return tok
}

func testRegisterAuthenticate(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	tok := e.login(t, alice.Key, alice.Device)
	p, err := e.svc.Authorize(e.ctx, tok.Value)
	must(t, "Authorize", err)
	if p != ap {
		t.Fatalf("Authorize = %+v, want %+v", p, ap)
	}
	// Only the hash of the token is stored.
	raw, _ := base64.RawURLEncoding.DecodeString(tok.Value)
	rec, err := e.st.Token(e.ctx, sha256.Sum256(raw), e.clock.Now())
	must(t, "Token", err)
	if rec.Hash != sha256.Sum256(raw) || rec.Device != alice.Device {
		t.Fatalf("token record %+v", rec)
	}
	var asHash [32]byte
	copy(asHash[:], raw)
	_, err = e.st.Token(e.ctx, asHash, e.clock.Now())
	wantErr(t, "token looked up by its clear value", err, ds.ErrUnauthenticated)
	// Tokens expire.
	e.clock.Advance(2 * time.Hour)
	_, err = e.svc.Authorize(e.ctx, tok.Value)
	wantErr(t, "expired token", err, ds.ErrUnauthenticated)
	_, err = e.svc.Authorize(e.ctx, "not-a-token")
	wantErr(t, "malformed token", err, ds.ErrUnauthenticated)
}

func testRegisterBadInput(t *testing.T, e *env) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for _, bad := range []string{"", "Alice", "al/ice", "_alice", "a234567890123456789012345678901234"} {
		_, err := e.svc.Register(e.ctx, ds.RegisterRequest{Username: bad, SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement(bad, "", pub))})
		wantErr(t, "username "+bad, err, ds.ErrInvalidInput)
	}
	_, err := e.svc.Register(e.ctx, ds.RegisterRequest{Username: "carol", SigningKey: pub[:31], Signature: nil})
	wantErr(t, "short key", err, ds.ErrInvalidInput)
	// A forged proof of possession registers nothing.
	_, err = e.svc.Register(e.ctx, ds.RegisterRequest{Username: "carol", SigningKey: pub, Signature: ed25519.Sign(other, ds.RegisterStatement("carol", "", pub))})
	wantErr(t, "forged registration", err, ds.ErrBadSignature)
	_, err = e.svc.Devices(e.ctx, "carol")
	wantErr(t, "devices after forged registration", err, ds.ErrNotFound)
	_, err = e.svc.Register(e.ctx, ds.RegisterRequest{Username: "carol", SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement("carol", "", pub))})
	must(t, "Register", err)
	_, err = e.svc.Register(e.ctx, ds.RegisterRequest{Username: "carol", SigningKey: pub, Signature: ed25519.Sign(priv, ds.RegisterStatement("carol", "", pub))})
	wantErr(t, "duplicate username", err, ds.ErrUsernameTaken)
}

func testAuthForgedSignature(t *testing.T, e *env) {
	alice, _ := e.user(t, "alice")
	_, mallory, _ := ed25519.GenerateKey(rand.Reader)
	c, err := e.svc.Challenge(e.ctx, alice.Device)
	must(t, "Challenge", err)
	_, err = e.svc.Authenticate(e.ctx, alice.Device, c.Nonce, ed25519.Sign(mallory, ds.AuthStatement(alice.Device, c.Nonce)))
	wantErr(t, "forged challenge signature", err, ds.ErrBadSignature)
	// The forgery changed nothing: the challenge still works, once.
	sig := ed25519.Sign(alice.Key, ds.AuthStatement(alice.Device, c.Nonce))
	_, err = e.svc.Authenticate(e.ctx, alice.Device, c.Nonce, sig)
	must(t, "Authenticate after forgery", err)
	_, err = e.svc.Authenticate(e.ctx, alice.Device, c.Nonce, sig)
	wantErr(t, "replayed challenge", err, ds.ErrUnauthenticated)
	// A signature over another device's statement does not transfer.
	bob, _ := e.user(t, "bob")
	c2, err := e.svc.Challenge(e.ctx, bob.Device)
	must(t, "Challenge", err)
	_, err = e.svc.Authenticate(e.ctx, bob.Device, c2.Nonce, ed25519.Sign(alice.Key, ds.AuthStatement(bob.Device, c2.Nonce)))
	wantErr(t, "another device's key", err, ds.ErrBadSignature)
	// Challenges expire.
	c3, err := e.svc.Challenge(e.ctx, alice.Device)
	must(t, "Challenge", err)
	e.clock.Advance(time.Hour)
	_, err = e.svc.Authenticate(e.ctx, alice.Device, c3.Nonce, ed25519.Sign(alice.Key, ds.AuthStatement(alice.Device, c3.Nonce)))
	wantErr(t, "expired challenge", err, ds.ErrUnauthenticated)
	_, err = e.svc.Challenge(e.ctx, 999999)
	wantErr(t, "challenge for unknown device", err, ds.ErrNotFound)
}

func testLinkListRevoke(t *testing.T, e *env) {
	alice, ap := e.user(t, "alice")
	bob, bp := e.user(t, "bob")
	laptop, lp := e.link(t, alice, "laptop")
	devs, err := e.svc.Devices(e.ctx, "alice")
	must(t, "Devices", err)
	if len(devs) != 2 || devs[0].ID != alice.Device || devs[1].ID != laptop.Device || devs[1].Name != "laptop" {
		t.Fatalf("Devices = %+v", devs)
	}
	// Forged approval (signed by bob for alice's account) adds nothing.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	req := ds.LinkRequest{Username: "alice", Approver: alice.Device, DeviceName: "evil", SigningKey: pub,
		Approval:  ed25519.Sign(bob.Key, ds.LinkStatement("alice", alice.Device, "evil", pub)),
		Signature: ed25519.Sign(priv, ds.RegisterStatement("alice", "evil", pub))}
	_, err = e.svc.LinkDevice(e.ctx, req)
	wantErr(t, "forged link approval", err, ds.ErrBadSignature)
	req.Approver = bob.Device
	req.Approval = ed25519.Sign(bob.Key, ds.LinkStatement("alice", bob.Device, "evil", pub))
	_, err = e.svc.LinkDevice(e.ctx, req)
	wantErr(t, "approver of another account", err, ds.ErrForbidden)
	devs, _ = e.svc.Devices(e.ctx, "alice")
	if len(devs) != 2 {
		t.Fatalf("forged links added devices: %+v", devs)
	}
	// Revoke: only one's own account.
	wantErr(t, "revoke another's device", e.svc.RevokeDevice(e.ctx, bp, laptop.Device), ds.ErrForbidden)
	tok := e.login(t, laptop.Key, laptop.Device)
	must(t, "RevokeDevice", e.svc.RevokeDevice(e.ctx, ap, lp.Device))
	must(t, "RevokeDevice twice", e.svc.RevokeDevice(e.ctx, ap, lp.Device))
	_, err = e.svc.Authorize(e.ctx, tok.Value)
	wantErr(t, "token of revoked device", err, ds.ErrUnauthenticated)
	_, err = e.svc.Challenge(e.ctx, laptop.Device)
	wantErr(t, "challenge for revoked device", err, ds.ErrRevoked)
	devs, _ = e.svc.Devices(e.ctx, "alice")
	if devs[1].Active() || !devs[0].Active() {
		t.Fatalf("after revoke: %+v", devs)
	}
	// A revoked device cannot approve links.
	_, priv2, _ := ed25519.GenerateKey(rand.Reader)
	pub2 := priv2.Public().(ed25519.PublicKey)
	_, err = e.svc.LinkDevice(e.ctx, ds.LinkRequest{Username: "alice", Approver: laptop.Device, DeviceName: "x", SigningKey: pub2,
		Approval:  ed25519.Sign(laptop.Key, ds.LinkStatement("alice", laptop.Device, "x", pub2)),
		Signature: ed25519.Sign(priv2, ds.RegisterStatement("alice", "x", pub2))})
	wantErr(t, "link approved by revoked device", err, ds.ErrRevoked)
}
