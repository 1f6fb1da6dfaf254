package suite

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/internal/testkit"
)

type cryptoBasicsVector struct {
	CipherSuite  uint16 `json:"cipher_suite"`
	DeriveSecret struct {
		Label  string           `json:"label"`
		Out    testkit.HexBytes `json:"out"`
		Secret testkit.HexBytes `json:"secret"`
	} `json:"derive_secret"`
	DeriveTreeSecret struct {
		Generation uint32           `json:"generation"`
		Label      string           `json:"label"`
		Length     int              `json:"length"`
		Out        testkit.HexBytes `json:"out"`
		Secret     testkit.HexBytes `json:"secret"`
	} `json:"derive_tree_secret"`
	EncryptWithLabel struct {
		Ciphertext testkit.HexBytes `json:"ciphertext"`
		Context    testkit.HexBytes `json:"context"`
		KEMOutput  testkit.HexBytes `json:"kem_output"`
		Label      string           `json:"label"`
		Plaintext  testkit.HexBytes `json:"plaintext"`
		Priv       testkit.HexBytes `json:"priv"`
		Pub        testkit.HexBytes `json:"pub"`
	} `json:"encrypt_with_label"`
	ExpandWithLabel struct {
		Context testkit.HexBytes `json:"context"`
		Label   string           `json:"label"`
		Length  int              `json:"length"`
		Out     testkit.HexBytes `json:"out"`
		Secret  testkit.HexBytes `json:"secret"`
	} `json:"expand_with_label"`
	RefHash struct {
		Label string           `json:"label"`
		Out   testkit.HexBytes `json:"out"`
		Value testkit.HexBytes `json:"value"`
	} `json:"ref_hash"`
	SignWithLabel struct {
		Content   testkit.HexBytes `json:"content"`
		Label     string           `json:"label"`
		Priv      testkit.HexBytes `json:"priv"`
		Pub       testkit.HexBytes `json:"pub"`
		Signature testkit.HexBytes `json:"signature"`
	} `json:"sign_with_label"`
}

// rfcSuites are the suites that appear in the official vectors.
var rfcSuites = []ID{1, 2, 3, 4, 5, 6, 7}

func TestCryptoBasicsVectors(t *testing.T) {
	var vs []cryptoBasicsVector
	testkit.LoadVectors(t, "crypto-basics.json", &vs)
	count := map[ID]int{}
	for _, v := range vs {
		s, err := Lookup(ID(v.CipherSuite))
		if err != nil {
			t.Errorf("suite %d: %v", v.CipherSuite, err)
			continue
		}
		t.Run(s.ID().String(), func(t *testing.T) {
			if got := s.RefHash(v.RefHash.Label, v.RefHash.Value); !bytes.Equal(got, v.RefHash.Out) {
				t.Errorf("RefHash = %x, want %x", got, v.RefHash.Out)
			}
			e := v.ExpandWithLabel
			if got := s.ExpandWithLabel(e.Secret, e.Label, e.Context, e.Length); !bytes.Equal(got, e.Out) {
				t.Errorf("ExpandWithLabel = %x, want %x", got, e.Out)
			}
			if got := s.DeriveSecret(v.DeriveSecret.Secret, v.DeriveSecret.Label); !bytes.Equal(got, v.DeriveSecret.Out) {
				t.Errorf("DeriveSecret = %x, want %x", got, v.DeriveSecret.Out)
			}
			d := v.DeriveTreeSecret
			if got := s.DeriveTreeSecret(d.Secret, d.Label, d.Generation, d.Length); !bytes.Equal(got, d.Out) {
				t.Errorf("DeriveTreeSecret = %x, want %x", got, d.Out)
			}

			sg := v.SignWithLabel
			if pub, err := s.SignaturePublicKey(sg.Priv); err != nil || !bytes.Equal(pub, sg.Pub) {
				t.Errorf("SignaturePublicKey = %x, %v; want %x", pub, err, sg.Pub)
			}
			if err := s.VerifyWithLabel(sg.Pub, sg.Label, sg.Content, sg.Signature); err != nil {
				t.Errorf("VerifyWithLabel(vector signature): %v", err)
			}
			sig, err := s.SignWithLabel(sg.Priv, sg.Label, sg.Content)
			if err != nil {
				t.Fatalf("SignWithLabel: %v", err)
			}
			if err := s.VerifyWithLabel(sg.Pub, sg.Label, sg.Content, sig); err != nil {
				t.Errorf("VerifyWithLabel(own signature): %v", err)
			}

			en := v.EncryptWithLabel
			if pub, err := s.HPKEPublicKey(en.Priv); err != nil || !bytes.Equal(pub, en.Pub) {
				t.Errorf("HPKEPublicKey = %x, %v; want %x", pub, err, en.Pub)
			}
			pt, err := s.DecryptWithLabel(en.Priv, en.Label, en.Context, en.KEMOutput, en.Ciphertext)
			if err != nil || !bytes.Equal(pt, en.Plaintext) {
				t.Errorf("DecryptWithLabel(vector) = %x, %v; want %x", pt, err, en.Plaintext)
			}
			kem, ct, err := s.EncryptWithLabel(en.Pub, en.Label, en.Context, en.Plaintext)
			if err != nil {
				t.Fatalf("EncryptWithLabel: %v", err)
			}
			pt, err = s.DecryptWithLabel(en.Priv, en.Label, en.Context, kem, ct)
			if err != nil || !bytes.Equal(pt, en.Plaintext) {
				t.Errorf("DecryptWithLabel(own) = %x, %v; want %x", pt, err, en.Plaintext)
			}
			count[s.ID()]++
		})
	}
	for _, id := range rfcSuites {
		if count[id] == 0 {
			t.Errorf("suite %v: no crypto-basics vector passed", id)
		}
		t.Logf("crypto-basics: suite %v: %d case(s)", id, count[id])
	}
}

// allSuites returns every suite of the default table.
func allSuites(t testing.TB) []*Suite {
	var out []*Suite
	for _, id := range append(append([]ID{}, rfcSuites...), XWingChaCha20Poly1305SHA256Ed25519) {
		s, err := Lookup(id)
		if err != nil {
			t.Fatalf("Lookup(%v): %v", id, err)
		}
		out = append(out, s)
	}
	return out
}

// TestSuiteRoundTrips exercises every suite, including X-Wing (which has no
// official vectors): HPKE, export, signatures, and the rejection of tampered
// ciphertexts, wrong labels and wrong keys.
func TestSuiteRoundTrips(t *testing.T) {
	for _, s := range allSuites(t) {
		t.Run(s.ID().String(), func(t *testing.T) {
			priv, pub, err := s.GenerateKeyPair(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ValidateHPKEPublicKey(pub); err != nil {
				t.Fatal(err)
			}
			pt := []byte("path secret")
			kem, ct, err := s.EncryptWithLabel(pub, "UpdatePathNode", []byte("ctx"), pt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.DecryptWithLabel(priv, "UpdatePathNode", []byte("ctx"), kem, ct)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("round trip = %q, %v", got, err)
			}
			if _, err := s.DecryptWithLabel(priv, "Welcome", []byte("ctx"), kem, ct); !errors.Is(err, ErrDecrypt) {
				t.Errorf("wrong label: err = %v, want ErrDecrypt", err)
			}
			if _, err := s.DecryptWithLabel(priv, "UpdatePathNode", []byte("ctY"), kem, ct); !errors.Is(err, ErrDecrypt) {
				t.Errorf("wrong context: err = %v, want ErrDecrypt", err)
			}
			bad := bytes.Clone(ct)
			bad[0] ^= 1
			if _, err := s.DecryptWithLabel(priv, "UpdatePathNode", []byte("ctx"), kem, bad); !errors.Is(err, ErrDecrypt) {
				t.Errorf("tampered ciphertext: err = %v, want ErrDecrypt", err)
			}
			priv2, _, _ := s.GenerateKeyPair(rand.Reader)
			if _, err := s.DecryptWithLabel(priv2, "UpdatePathNode", []byte("ctx"), kem, ct); err == nil {
				t.Errorf("wrong private key decrypted")
			}

			enc, sec, err := s.ExportSender(pub, nil, []byte("MLS 1.0 external init secret"), s.Nh())
			if err != nil {
				t.Fatal(err)
			}
			sec2, err := s.ExportReceiver(priv, enc, nil, []byte("MLS 1.0 external init secret"), s.Nh())
			if err != nil || !bytes.Equal(sec, sec2) || len(sec) != s.Nh() {
				t.Fatalf("export mismatch: %x vs %x, %v", sec, sec2, err)
			}

			// Derived keys are deterministic and consistent.
			p1, q1, err := s.DeriveKeyPair([]byte("ikm"))
			if err != nil {
				t.Fatal(err)
			}
			p2, q2, _ := s.DeriveKeyPair([]byte("ikm"))
			if !bytes.Equal(p1, p2) || !bytes.Equal(q1, q2) {
				t.Error("DeriveKeyPair is not deterministic")
			}
			if q, _ := s.HPKEPublicKey(p1); !bytes.Equal(q, q1) {
				t.Error("HPKEPublicKey(DeriveKeyPair priv) != pub")
			}

			spriv, spub, err := s.GenerateSignatureKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := s.SignaturePublicKey(spriv); !bytes.Equal(p, spub) {
				t.Error("SignaturePublicKey mismatch")
			}
			sig, err := s.SignWithLabel(spriv, "LeafNodeTBS", []byte("content"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(spub, "LeafNodeTBS", []byte("content"), sig); err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(spub, "KeyPackageTBS", []byte("content"), sig); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("wrong label verified: %v", err)
			}
			if err := s.VerifyWithLabel(spub, "LeafNodeTBS", []byte("contenT"), sig); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("wrong content verified: %v", err)
			}
			_, other, _ := s.GenerateSignatureKey(rand.Reader)
			if err := s.VerifyWithLabel(other, "LeafNodeTBS", []byte("content"), sig); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("wrong key verified: %v", err)
			}
		})
	}
}

// TestDeterministicKeyGeneration: GenerateKeyPair and GenerateSignatureKey
// read their randomness from the given reader only.
func TestDeterministicKeyGeneration(t *testing.T) {
	for _, s := range allSuites(t) {
		seed := bytes.Repeat([]byte{7}, 1024)
		a, _, err := s.GenerateKeyPair(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		b, _, _ := s.GenerateKeyPair(bytes.NewReader(seed))
		if !bytes.Equal(a, b) {
			t.Errorf("%v: GenerateKeyPair ignores its reader", s.ID())
		}
		a, _, _ = s.GenerateSignatureKey(bytes.NewReader(seed))
		b, _, _ = s.GenerateSignatureKey(bytes.NewReader(seed))
		if !bytes.Equal(a, b) {
			t.Errorf("%v: GenerateSignatureKey ignores its reader", s.ID())
		}
	}
}

// stdlibKEM returns crypto/hpke's KEM for the suites it implements.
func stdlibKEM(id ID) hpke.KEM {
	switch id {
	case 1, 3:
		return hpke.DHKEM(ecdh.X25519())
	case 2:
		return hpke.DHKEM(ecdh.P256())
	case 5:
		return hpke.DHKEM(ecdh.P521())
	case 7:
		return hpke.DHKEM(ecdh.P384())
	case XWingChaCha20Poly1305SHA256Ed25519:
		return hpke.MLKEM768X25519()
	}
	return nil
}

// TestHPKEMatchesCryptoHPKE cross-checks the direct RFC 9180 implementation
// against crypto/hpke in both directions, for DeriveKeyPair, Seal/Open and
// Export.
func TestHPKEMatchesCryptoHPKE(t *testing.T) {
	for _, s := range allSuites(t) {
		k := stdlibKEM(s.ID())
		if k == nil {
			continue // X448: not in crypto/hpke; covered by the vectors
		}
		t.Run(s.ID().String(), func(t *testing.T) {
			kemID, kdfID, aeadID := s.HPKEIDs()
			if kemID != k.ID() {
				t.Fatalf("KEM id %#x, crypto/hpke %#x", kemID, k.ID())
			}
			kd, _ := hpke.NewKDF(kdfID)
			ae, _ := hpke.NewAEAD(aeadID)
			ikm := bytes.Repeat([]byte{0x42}, 64)
			priv, pub, err := s.DeriveKeyPair(ikm)
			if err != nil {
				t.Fatal(err)
			}
			sk, err := k.DeriveKeyPair(ikm)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sk.PublicKey().Bytes(), pub) {
				t.Fatalf("DeriveKeyPair public key differs from crypto/hpke")
			}
			gpriv, gpub, err := s.GenerateKeyPair(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			gsk, err := k.NewPrivateKey(gpriv)
			if err != nil || !bytes.Equal(gsk.PublicKey().Bytes(), gpub) {
				t.Fatalf("GenerateKeyPair key pair differs from crypto/hpke: %v", err)
			}
			info, _ := labeledContent("Welcome", []byte("context"))
			pt := []byte("group secrets")

			// ours -> crypto/hpke
			kem, ct, err := s.EncryptWithLabel(pub, "Welcome", []byte("context"), pt)
			if err != nil {
				t.Fatal(err)
			}
			r, err := hpke.NewRecipient(kem, sk, kd, ae, info)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := r.Open(nil, ct); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("crypto/hpke cannot open ours: %v", err)
			}
			// crypto/hpke -> ours
			enc, snd, err := hpke.NewSender(sk.PublicKey(), kd, ae, info)
			if err != nil {
				t.Fatal(err)
			}
			ct2, _ := snd.Seal(nil, pt)
			if got, err := s.DecryptWithLabel(priv, "Welcome", []byte("context"), enc, ct2); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("ours cannot open crypto/hpke's: %v", err)
			}
			want, _ := snd.Export("exp ctx", 48)
			got, err := s.ExportReceiver(priv, enc, info, []byte("exp ctx"), 48)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ExportReceiver = %x, %v; crypto/hpke %x", got, err, want)
			}
		})
	}
}

// TestX25519MatchesCryptoECDH checks circl's X25519 (used for speed) against
// crypto/ecdh for random keys.
func TestX25519MatchesCryptoECDH(t *testing.T) {
	g := x25519Group{}
	for range 50 {
		a, _ := ecdh.X25519().GenerateKey(rand.Reader)
		b, _ := ecdh.X25519().GenerateKey(rand.Reader)
		pub, err := g.public(a.Bytes())
		if err != nil || !bytes.Equal(pub, a.PublicKey().Bytes()) {
			t.Fatalf("public key differs from crypto/ecdh")
		}
		want, _ := a.ECDH(b.PublicKey())
		got, err := g.dh(a.Bytes(), b.PublicKey().Bytes())
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("DH differs from crypto/ecdh")
		}
	}
}

// TestHPKERejectsLowOrderPoint attempts an encapsulation to the all-zero
// X25519/X448 public key, whose DH output is the identity (RFC 9180,
// Section 7.1.4: the all-zero value MUST be rejected).
func TestHPKERejectsLowOrderPoint(t *testing.T) {
	for _, id := range []ID{1, 4} {
		s, _ := Lookup(id)
		_, pub, _ := s.GenerateKeyPair(rand.Reader)
		zero := make([]byte, len(pub))
		if _, _, err := s.EncryptWithLabel(zero, "x", nil, nil); err == nil {
			t.Errorf("%v: encryption to a low-order point succeeded", id)
		}
		priv, _, _ := s.GenerateKeyPair(rand.Reader)
		if _, err := s.DecryptWithLabel(priv, "x", nil, zero, make([]byte, 16)); err == nil {
			t.Errorf("%v: decapsulation of a low-order point succeeded", id)
		}
	}
}

// TestRejectsMalformedKeys attempts to use public keys that are not points on
// the curve or have the wrong length.
func TestRejectsMalformedKeys(t *testing.T) {
	for _, s := range allSuites(t) {
		_, pub, _ := s.GenerateKeyPair(rand.Reader)
		for _, bad := range [][]byte{nil, pub[:len(pub)-1], append(bytes.Clone(pub), 0)} {
			if s.ValidateHPKEPublicKey(bad) == nil {
				t.Errorf("%v: HPKE public key of %d bytes accepted", s.ID(), len(bad))
			}
			if _, _, err := s.EncryptWithLabel(bad, "x", nil, nil); err == nil {
				t.Errorf("%v: encryption to a %d-byte key succeeded", s.ID(), len(bad))
			}
		}
		_, spub, _ := s.GenerateSignatureKey(rand.Reader)
		for _, bad := range [][]byte{nil, spub[:len(spub)-1]} {
			if s.ValidateSignaturePublicKey(bad) == nil {
				t.Errorf("%v: signature key of %d bytes accepted", s.ID(), len(bad))
			}
		}
	}
	// An X-Wing key whose ML-KEM part has an unreduced coefficient (FIPS 203
	// encapsulation key check).
	xw, _ := Lookup(XWingChaCha20Poly1305SHA256Ed25519)
	_, xpub, _ := xw.GenerateKeyPair(rand.Reader)
	xpub[0], xpub[1] = 0xff, 0xff
	if xw.ValidateHPKEPublicKey(xpub) == nil {
		t.Error("X-Wing key with unreduced ML-KEM coefficient accepted")
	}
	if _, _, err := xw.EncryptWithLabel(xpub, "x", nil, nil); err == nil {
		t.Error("encryption to an invalid X-Wing key succeeded")
	}
	// A P-256 point off the curve.
	s, _ := Lookup(P256AES128GCMSHA256P256)
	_, pub, _ := s.GenerateKeyPair(rand.Reader)
	pub[len(pub)-1] ^= 1
	if s.ValidateHPKEPublicKey(pub) == nil {
		t.Error("P-256 point off the curve accepted as HPKE key")
	}
	if s.ValidateSignaturePublicKey(pub) == nil {
		t.Error("P-256 point off the curve accepted as signature key")
	}
}

func TestLookupAndRegistry(t *testing.T) {
	if _, err := Lookup(0x0008); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Lookup(8) err = %v", err)
	}
	if _, err := Lookup(0x0053); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Lookup(alias) without registry err = %v", err)
	}
	r, err := NewRegistry(0x0053)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Lookup(0x0053)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != 0x0053 {
		t.Errorf("alias suite ID = %v", a.ID())
	}
	x, _ := Lookup(XWingChaCha20Poly1305SHA256Ed25519)
	if k1, _, _ := a.HPKEIDs(); k1 != 0x647a {
		t.Errorf("alias KEM = %#x", k1)
	}
	// Keys from one code point work under the other.
	priv, pub, _ := x.DeriveKeyPair([]byte("seed"))
	kem, ct, err := a.EncryptWithLabel(pub, "l", nil, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := x.DecryptWithLabel(priv, "l", nil, kem, ct); err != nil || string(pt) != "m" {
		t.Errorf("alias/default interop: %q %v", pt, err)
	}
	if _, err := NewRegistry(0x0001); err == nil {
		t.Error("aliasing a standard code point succeeded")
	}
	var zero Registry
	if s, err := zero.Lookup(1); err != nil || s.ID() != 1 {
		t.Errorf("zero Registry Lookup(1) = %v, %v", s, err)
	}
	var nilReg *Registry
	if _, err := nilReg.Lookup(3); err != nil {
		t.Errorf("nil Registry Lookup(3): %v", err)
	}
}

func TestAEADRejectsBadInputs(t *testing.T) {
	for _, s := range allSuites(t) {
		key := make([]byte, s.Nk())
		nonce := make([]byte, s.Nn())
		ct, err := s.Seal(key, nonce, []byte("aad"), []byte("pt"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(key, nonce, []byte("aaD"), ct); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%v: wrong aad: %v", s.ID(), err)
		}
		if _, err := s.Seal(key[1:], nonce, nil, nil); err == nil {
			t.Errorf("%v: short key accepted", s.ID())
		}
		if _, err := s.Open(key, nonce[1:], nil, ct); err == nil {
			t.Errorf("%v: short nonce accepted", s.ID())
		}
		if !s.VerifyMAC(key, []byte("d"), s.MAC(key, []byte("d"))) || s.VerifyMAC(key, []byte("e"), s.MAC(key, []byte("d"))) {
			t.Errorf("%v: VerifyMAC", s.ID())
		}
	}
}

func TestAppendVarint(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []byte
	}{{0, []byte{0}}, {63, []byte{63}}, {64, []byte{0x40, 0x40}}, {16383, []byte{0x7f, 0xff}}, {16384, []byte{0x80, 0, 0x40, 0}}, {maxVarint, []byte{0xbf, 0xff, 0xff, 0xff}}} {
		if got := appendVarint(nil, c.n); !bytes.Equal(got, c.want) {
			t.Errorf("appendVarint(%d) = %x, want %x", c.n, got, c.want)
		}
	}
}

// TestShortScalarsAccepted: P-curve private keys with leading zero bytes
// dropped (as in the P-521 message-protection vector) are left-padded;
// X25519 keys of the wrong length are rejected.
func TestShortScalarsAccepted(t *testing.T) {
	s, _ := Lookup(P521AES256GCMSHA512P521)
	priv := make([]byte, 66)
	priv[65] = 5
	pub, err := s.SignaturePublicKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.SignWithLabel(priv[1:], "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyWithLabel(pub, "x", nil, sig); err != nil {
		t.Fatal(err)
	}
	hpub, _ := s.HPKEPublicKey(priv)
	kem, ct, _ := s.EncryptWithLabel(hpub, "x", nil, []byte("m"))
	if pt, err := s.DecryptWithLabel(priv[1:], "x", nil, kem, ct); err != nil || string(pt) != "m" {
		t.Errorf("short P-521 HPKE key: %q %v", pt, err)
	}
	x, _ := Lookup(X25519AES128GCMSHA256Ed25519)
	xpriv, xpub, _ := x.GenerateKeyPair(rand.Reader)
	kem, ct, _ = x.EncryptWithLabel(xpub, "x", nil, []byte("m"))
	if _, err := x.DecryptWithLabel(xpriv[1:], "x", nil, kem, ct); err == nil {
		t.Error("31-byte X25519 private key accepted")
	}
}

// TestSignerMatchesSignWithLabel: a parsed Signer produces signatures that
// verify, with the same public key as SignaturePublicKey.
func TestSignerMatchesSignWithLabel(t *testing.T) {
	for _, s := range allSuites(t) {
		priv, pub, _ := s.GenerateSignatureKey(rand.Reader)
		g, err := s.NewSigner(priv)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.PublicKey(), pub) || g.Suite() != s {
			t.Errorf("%v: Signer public key mismatch", s.ID())
		}
		sig, err := g.SignWithLabel("LeafNodeTBS", []byte("c"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.VerifyWithLabel(pub, "LeafNodeTBS", []byte("c"), sig); err != nil {
			t.Errorf("%v: %v", s.ID(), err)
		}
		if _, err := s.NewSigner(priv[:len(priv)-2]); err == nil && s.ID() != P521AES256GCMSHA512P521 && s.ID() != P256AES128GCMSHA256P256 && s.ID() != P384AES256GCMSHA384P384 {
			t.Errorf("%v: short key accepted", s.ID())
		}
	}
}

// TestPreparedEncryptionMatches checks that a SealContext encrypts exactly as
// EncryptWithLabel does: what it seals opens with DecryptWithLabel under the
// same label and context, and not under another context.
func TestPreparedEncryptionMatches(t *testing.T) {
	for _, id := range []ID{X25519AES128GCMSHA256Ed25519, P256AES128GCMSHA256P256, X25519ChaCha20Poly1305SHA256Ed25519, X448AES256GCMSHA512Ed448, P521AES256GCMSHA512P521, X448ChaCha20Poly1305SHA512Ed448, P384AES256GCMSHA384P384, XWingChaCha20Poly1305SHA256Ed25519} {
		s, err := Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub, err := s.GenerateKeyPair(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ctx := []byte("a large encrypted GroupInfo")
		prep, err := s.PrepareEncryption("Welcome", ctx)
		if err != nil {
			t.Fatal(err)
		}
		kem, ct, err := prep.EncryptWithLabel(pub, []byte("group secrets"))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := s.DecryptWithLabel(priv, "Welcome", ctx, kem, ct)
		if err != nil || string(pt) != "group secrets" {
			t.Fatalf("suite %v: prepared ciphertext does not open: %v", id, err)
		}
		if _, err := s.DecryptWithLabel(priv, "Welcome", []byte("another context"), kem, ct); err == nil {
			t.Fatalf("suite %v: prepared ciphertext opened under another context", id)
		}
	}
}
