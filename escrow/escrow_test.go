package escrow

import (
	"bytes"
	"crypto/rand"
	"crypto/sha3"
	"errors"
	"testing"

	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

type fixture struct {
	ctx    Context
	p      Secrets
	params Params
	privs  [][]byte
}

func newFixture(t testing.TB, k, n int) *fixture {
	t.Helper()
	f := &fixture{
		ctx: Context{KeyPeriod: 7, GroupID: []byte("group-alice-bob"), Epoch: 42},
		p:   Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)},
	}
	rand.Read(f.ctx.PolicyID[:])
	rand.Read(f.p.EncryptionSecret)
	rand.Read(f.p.SenderDataSecret)
	f.params.K = k
	for i := 0; i < n; i++ {
		sk, pk, err := xwing.GenerateKeyPairPacked(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		f.privs = append(f.privs, sk)
		f.params.TrusteeKeys = append(f.params.TrusteeKeys, pk)
	}
	return f
}

func (f *fixture) build(t testing.TB) *Record {
	t.Helper()
	rec, err := Build(f.ctx, f.p, f.params)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (f *fixture) release(t testing.TB, rec *Record, idx ...int) []*ReleasedShare {
	t.Helper()
	var out []*ReleasedShare
	for _, i := range idx {
		s, err := DecryptShare(rec, i, f.privs[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestBuildIsDeterministicAndParses(t *testing.T) {
	f := newFixture(t, 3, 5)
	a, b := f.build(t), f.build(t)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two builds from the same inputs differ")
	}
	if err := Verify(a, f.ctx, f.p, f.params); err != nil {
		t.Fatalf("Verify of an honest record: %v", err)
	}
	got, err := Parse(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.marshal(), a.Bytes()) || got.ID() != a.ID() || got.Context.Epoch != 42 || !bytes.Equal(got.Context.GroupID, f.ctx.GroupID) {
		t.Fatal("parse/marshal round trip differs")
	}
	t.Logf("record size for n=5: %d bytes", len(a.Bytes()))
	// A different epoch or policy gives a different record.
	f2 := *f
	f2.ctx.Epoch++
	if bytes.Equal(f2.build(t).Bytes(), a.Bytes()) {
		t.Fatal("record does not depend on the epoch")
	}
}

func TestRecoverFromAnyK(t *testing.T) {
	f := newFixture(t, 3, 5)
	rec := f.build(t)
	for _, set := range [][]int{{0, 1, 2}, {2, 3, 4}, {0, 2, 4}, {1, 3, 4}, {0, 1, 2, 3, 4}} {
		r, err := Recover(rec, f.params, f.release(t, rec, set...))
		if err != nil {
			t.Fatalf("shares %v: %v", set, err)
		}
		if !bytes.Equal(r.Secrets.EncryptionSecret, f.p.EncryptionSecret) || !bytes.Equal(r.Secrets.SenderDataSecret, f.p.SenderDataSecret) {
			t.Fatalf("shares %v: wrong secrets", set)
		}
		if len(r.Liars) != 0 {
			t.Fatalf("shares %v: honest trustees named liars %v", set, r.Liars)
		}
	}
	if _, err := Recover(rec, f.params, f.release(t, rec, 0, 4)); !errors.Is(err, ErrRecovery) {
		t.Fatalf("k-1 shares: %v", err)
	}
}

func TestVerifyNamesTheDifferingPart(t *testing.T) {
	f := newFixture(t, 2, 3)
	rec := f.build(t)
	cases := []struct {
		name    string
		off     func(r *Record) int
		part    string
		trustee int
	}{
		{"share 1 kem", func(r *Record) int { return len(r.header) + (KEMCiphertextSize+ShareCTSize)*1 + 5 }, "share", 1},
		{"share 2 ct", func(r *Record) int { return len(r.header) + (KEMCiphertextSize+ShareCTSize)*2 + KEMCiphertextSize + 3 }, "share", 2},
		{"payload", func(r *Record) int { return len(r.raw) - 1 }, "payload", -1},
		{"epoch", func(r *Record) int { return len(r.header) - 3 }, "context", -1},
	}
	for _, c := range cases {
		b := bytes.Clone(rec.Bytes())
		b[c.off(rec)] ^= 0x40
		bad, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = Verify(bad, f.ctx, f.p, f.params)
		var me *MismatchError
		if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) {
			t.Fatalf("%s: Verify = %v, want a MismatchError", c.name, err)
		}
		if me.Part != c.part || me.Trustee != c.trustee {
			t.Fatalf("%s: mismatch in %s/%d, want %s/%d", c.name, me.Part, me.Trustee, c.part, c.trustee)
		}
	}
	// Wrong secrets: a member that knows the real P rejects the record.
	other := f.p
	other.EncryptionSecret = bytes.Repeat([]byte{1}, 32)
	if err := Verify(rec, f.ctx, other, f.params); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong P accepted: %v", err)
	}
}

// TestAttackT1_ProviderCannotDecrypt: the provider holds the record, the
// policy (so every public key) and its own keys, but no trustee private key:
// it can neither open any share nor the payload.
func TestAttackT1_ProviderCannotDecrypt(t *testing.T) {
	f := newFixture(t, 3, 5)
	rec := f.build(t)
	if bytes.Contains(rec.Bytes(), f.p.EncryptionSecret) || bytes.Contains(rec.Bytes(), f.p.SenderDataSecret) {
		t.Fatal("record contains the secrets in clear")
	}
	providerKey, _, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	for i := 0; i < rec.N; i++ {
		if _, err := DecryptShare(rec, i, providerKey); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("share %d opened with the provider's key: %v", i, err)
		}
	}
	// Guessing K directly: the all-zero key, or a key made from public data.
	for _, guess := range [][]byte{make([]byte, 32), rec.Context.PolicyID[:]} {
		aead, _ := chacha20poly1305.New(guess)
		if _, err := aead.Open(nil, zeroNonce[:], rec.Payload, rec.header); err == nil {
			t.Fatal("payload opened without shares")
		}
	}
	if _, err := Recover(rec, f.params, nil); !errors.Is(err, ErrRecovery) {
		t.Fatalf("recovery with no shares: %v", err)
	}
}

// TestAttackT8_GarbageRecordDetected: a member uploads a garbage record for the
// epoch; an honest member's Verify rejects it and its own build is the correct
// one, from which recovery works.
func TestAttackT8_GarbageRecordDetected(t *testing.T) {
	f := newFixture(t, 3, 5)
	garbageP := Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
	garbage, err := Build(f.ctx, garbageP, f.params) // well-formed, wrong secrets
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(garbage, f.ctx, f.p, f.params); !errors.Is(err, ErrMismatch) {
		t.Fatalf("garbage record accepted: %v", err)
	}
	honest := f.build(t)
	r, err := Recover(honest, f.params, f.release(t, honest, 1, 2, 4))
	if err != nil || !bytes.Equal(r.Secrets.EncryptionSecret, f.p.EncryptionSecret) {
		t.Fatalf("recovery from the replacement record: %v", err)
	}
}

// TestAttackT10_WrongShareIdentified: one trustee releases a wrong share;
// recovery succeeds from the others and names the liar.
func TestAttackT10_WrongShareIdentified(t *testing.T) {
	f := newFixture(t, 3, 5)
	rec := f.build(t)
	shares := f.release(t, rec, 0, 1, 2, 3)
	shares[1].Value[7] ^= 0x5a // trustee 1 lies
	r, err := Recover(rec, f.params, shares)
	if err != nil {
		t.Fatalf("recovery with one liar among 4: %v", err)
	}
	if !bytes.Equal(r.Secrets.SenderDataSecret, f.p.SenderDataSecret) {
		t.Fatal("wrong secrets recovered")
	}
	if len(r.Liars) != 1 || r.Liars[0] != 1 {
		t.Fatalf("liars = %v, want [1]", r.Liars)
	}
	// With only k shares of which one is wrong, recovery fails rather than
	// returning wrong plaintext.
	if _, err := Recover(rec, f.params, shares[:3]); !errors.Is(err, ErrRecovery) {
		t.Fatalf("k shares with a liar: %v", err)
	}
}

// TestAttackT14_ShareForAnotherRecordUseless: shares released for the record
// of epoch 42 are refused on the record of epoch 43 of the same group, and
// even with the binding stripped they do not open it.
func TestAttackT14_ShareForAnotherRecordUseless(t *testing.T) {
	f := newFixture(t, 2, 3)
	recA := f.build(t)
	g := *f
	g.ctx.Epoch = 43
	g.p = Secrets{EncryptionSecret: bytes.Repeat([]byte{9}, 32), SenderDataSecret: bytes.Repeat([]byte{8}, 32)}
	recB := g.build(t)
	sharesA := f.release(t, recA, 0, 1)
	if _, err := Recover(recB, g.params, sharesA); !errors.Is(err, ErrWrongRecord) {
		t.Fatalf("shares of record A accepted for record B: %v", err)
	}
	// Relabel them as B's shares: the payload still does not open.
	for _, s := range sharesA {
		s.RecordID = recB.ID()
	}
	if _, err := Recover(recB, g.params, sharesA); !errors.Is(err, ErrRecovery) {
		t.Fatalf("relabelled shares opened record B: %v", err)
	}
	// Mixed: one genuine share of B plus one relabelled share of A.
	mixed := append(g.release(t, recB, 0), sharesA[1])
	if _, err := Recover(recB, g.params, mixed); !errors.Is(err, ErrRecovery) {
		t.Fatalf("mixed shares opened record B: %v", err)
	}
}

// TestAttackT17_NeedsMLKEMBrokenToo models a future quantum attacker who
// recovers a trustee's X25519 secret (and so the X25519 shared secret of a
// share): without the ML-KEM-768 shared secret the share does not open. The
// test first checks its model of X-Wing (draft-connolly-cfrg-xwing-kem,
// Section 5) against circl by reproducing the shared secret when both
// components are known.
func TestAttackT17_NeedsMLKEMBrokenToo(t *testing.T) {
	f := newFixture(t, 1, 1)
	rec := f.build(t)
	seed := f.privs[0]
	exp := sha3.SumSHAKE256(seed, 96)
	skX := exp[64:96]
	pkX, _ := curve25519.X25519(skX, curve25519.Basepoint)
	ct := rec.Shares[0].KEMCiphertext
	ctM, ctX := ct[:1088], ct[1088:]
	ssX, err := curve25519.X25519(skX, ctX) // what the quantum attacker learns
	if err != nil {
		t.Fatal(err)
	}
	combine := func(ssM []byte) []byte {
		label := []byte{0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c}
		h := sha3.New256()
		for _, p := range [][]byte{ssM, ssX, ctX, pkX, label} {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	// Model check: with the ML-KEM secret too, we get circl's shared secret.
	_, skM := mlkem768.NewKeyFromSeed(exp[:64])
	ssM := make([]byte, 32)
	skM.DecapsulateTo(ssM, ctM)
	if !bytes.Equal(combine(ssM), xwing.Decapsulate(ct, seed)) {
		t.Fatal("test model of the X-Wing combiner does not match circl")
	}
	// Attack: X25519 broken, ML-KEM not. Try candidate ML-KEM secrets.
	open := func(ss []byte) bool {
		aead, _ := chacha20poly1305.New(shareKey(ss, rec.header, 0))
		_, err := aead.Open(nil, zeroNonce[:], rec.Shares[0].Ciphertext, shareAAD(rec.header, 0))
		return err == nil
	}
	if !open(combine(ssM)) {
		t.Fatal("both components broken should open the share (model check)")
	}
	for _, guess := range [][]byte{make([]byte, 32), ssX, ctM[:32], sha3.SumSHAKE256(ctM, 32)} {
		if open(combine(guess)) {
			t.Fatal("share opened with only the X25519 component broken")
		}
	}
}

func TestParseRejects(t *testing.T) {
	f := newFixture(t, 2, 2)
	good := f.build(t).Bytes()
	for cut := 0; cut < len(good); cut += 97 {
		if _, err := Parse(good[:cut]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes parsed", cut)
		}
	}
	if _, err := Parse(append(bytes.Clone(good), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	bad := bytes.Clone(good)
	bad[1] = 2
	if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
		t.Fatal("unknown version accepted")
	}
	hdr := len(encodeHeader(f.ctx, 2, 2))
	bad = bytes.Clone(good)
	bad[hdr-2] = 3 // k > n
	if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
		t.Fatal("k > n accepted")
	}
	if _, err := ParseReleasedShare(make([]byte, 64)); !errors.Is(err, ErrMalformed) {
		t.Fatal("short released share accepted")
	}
}

func TestBadParams(t *testing.T) {
	f := newFixture(t, 2, 2)
	for name, mod := range map[string]func(*fixture){
		"k=0":       func(f *fixture) { f.params.K = 0 },
		"k>n":       func(f *fixture) { f.params.K = 3 },
		"short key": func(f *fixture) { f.params.TrusteeKeys = [][]byte{make([]byte, 5), f.params.TrusteeKeys[1]} },
		"no group":  func(f *fixture) { f.ctx.GroupID = nil },
		"no secret": func(f *fixture) { f.p.EncryptionSecret = nil },
	} {
		g := *f
		g.params.TrusteeKeys = append([][]byte(nil), f.params.TrusteeKeys...)
		mod(&g)
		if _, err := Build(g.ctx, g.p, g.params); !errors.Is(err, ErrParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	fx := newFixture(f, 2, 3)
	f.Add(fx.build(f).Bytes())
	fx1 := newFixture(f, 1, 1)
	f.Add(fx1.build(f).Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(r.marshal(), data) {
			t.Fatal("re-marshal differs")
		}
	})
}

func FuzzParseReleasedShare(f *testing.F) {
	f.Add(make([]byte, releasedShareSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseReleasedShare(data)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), data) {
			t.Fatal("re-marshal differs")
		}
	})
}

func BenchmarkBuild5(b *testing.B) {
	f := newFixture(b, 3, 5)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		r, _ := Build(f.ctx, f.p, f.params)
		size = len(r.Bytes())
	}
	b.ReportMetric(float64(size), "record-bytes")
}

func BenchmarkVerify5(b *testing.B) {
	f := newFixture(b, 3, 5)
	rec := f.build(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(rec, f.ctx, f.p, f.params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecover3of5(b *testing.B) {
	f := newFixture(b, 3, 5)
	rec := f.build(b)
	sh := f.release(b, rec, 0, 2, 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Recover(rec, f.params, sh); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAttackT9_ReceiverRebuildsOmittedRecord (pure level): the sender's
// client omits the record of its epoch. A receiver, which knows the same
// epoch secrets, builds the record itself: it is byte-identical to the one
// the sender should have uploaded (same record id, so the DS deduplicates
// uploads from several receivers) and recovery from it works. The upload
// itself is the client's (client/ and ds/ tests).
func TestAttackT9_ReceiverRebuildsOmittedRecord(t *testing.T) {
	f := newFixture(t, 3, 5)
	// Sender's and receiver's views of the epoch: the same C and P (MLS
	// gives every member the same epoch secrets), built separately.
	senderWould := f.build(t)
	receiverCopy := Secrets{EncryptionSecret: bytes.Clone(f.p.EncryptionSecret), SenderDataSecret: bytes.Clone(f.p.SenderDataSecret)}
	ctx := f.ctx
	ctx.GroupID = bytes.Clone(f.ctx.GroupID)
	uploaded, err := Build(ctx, receiverCopy, f.params)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(uploaded.Bytes(), senderWould.Bytes()) || uploaded.ID() != senderWould.ID() {
		t.Fatal("receiver's record differs from the sender's")
	}
	r, err := Recover(uploaded, f.params, f.release(t, uploaded, 0, 1, 3))
	if err != nil || !bytes.Equal(r.Secrets.EncryptionSecret, f.p.EncryptionSecret) {
		t.Fatalf("recovery from the receiver's record: %v", err)
	}
}
