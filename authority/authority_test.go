package authority_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"k8s.io/klog/v2"

	"github.com/daylight-im/daylight/authority"
	"github.com/daylight-im/daylight/authority/authoritytest"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/evidence"
	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
	"github.com/daylight-im/daylight/trustee/service/servicetest"
	"github.com/daylight-im/daylight/warrant"
)

func TestMain(m *testing.M) {
	klog.LogToStderr(false) // tessera logs through klog's global logger
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// TestCaseEndToEnd: a logged warrant, three of five trustees release over
// HTTP, the authority recovers both in-window records, decrypts exactly the
// in-window messages, and the bundle verifies offline; a tampered copy does
// not.
func TestCaseEndToEnd(t *testing.T) {
	s := authoritytest.New(t)
	b := s.Bundle(t)
	if len(s.Case.Releases) != 3 || len(s.Case.Refusals) != 0 {
		t.Fatalf("releases %d refusals %v", len(s.Case.Releases), s.Case.Refusals)
	}
	recs, err := s.Authority.Recover(s.Case)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Secrets.EncryptionSecret, s.InWindow[i].Secrets.EncryptionSecret) || len(r.Liars) != 0 {
			t.Fatalf("record %d: wrong secrets or liars %v", i, r.Liars)
		}
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	rep, err := evidence.VerifyPath(dir, evidence.Options{AuthorityKey: s.Keys.Sign.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != len(s.Expected) || rep.Groups != 2 {
		t.Fatalf("report %+v, want %d messages in 2 groups", rep, len(s.Expected))
	}
	jsonl := string(b[evidence.MessagesFile])
	for _, text := range s.Expected {
		if !strings.Contains(jsonl, strings.ReplaceAll(text, "<", `\u003c`)) && !strings.Contains(jsonl, text) {
			t.Errorf("bundle lacks in-window message %q", text)
		}
	}
	if strings.Contains(jsonl, "old news") {
		t.Error("bundle holds a message from before the window")
	}
	// The bundle's digest goes into the log.
	if _, err := s.Authority.LogBundle(context.Background(), b, "A", "2026-CR-7"); err != nil {
		t.Fatal(err)
	}
	// Tampered: one message text changed.
	bad := filepath.Join(t.TempDir(), "bad")
	b.WriteDir(bad)
	p := filepath.Join(bad, evidence.MessagesFile)
	raw, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(raw, []byte("meeting at 5?"), []byte("meeting at 6?"), 1), 0o644)
	if _, err := evidence.VerifyPath(bad, evidence.Options{}); !errors.Is(err, evidence.ErrInvalid) {
		t.Fatalf("tampered bundle: %v", err)
	}
}

// liar is a trustee that releases (and logs) like an honest one but sends
// a wrong share, correctly sealed to the authority and signed with its own
// key: only recovery can tell.
type liar struct {
	honest  authority.TrusteeClient
	id      string
	index   int
	sign    ed25519.PrivateKey
	period  map[uint32][]byte
	authKEM []byte
}

func (l *liar) Release(ctx context.Context, req *trustee.Request) (*service.Released, error) {
	out, err := l.honest.Release(ctx, req)
	if err != nil {
		return nil, err
	}
	kem, kdf, aead := hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
	pk, err := kem.NewPublicKey(l.authKEM)
	if err != nil {
		return nil, err
	}
	for i, rr := range req.Records {
		rec, _ := escrow.Parse(rr.Record)
		rs, err := escrow.DecryptShare(rec, l.index, l.period[rec.Context.KeyPeriod])
		if err != nil {
			return nil, err
		}
		rs.Value[3] ^= 0x41 // the lie
		sealed, err := hpke.Seal(pk, kdf, aead, []byte("daylight released share v1"), rs.Marshal())
		if err != nil {
			return nil, err
		}
		var b cryptobyte.Builder // the trustee's share signature (trustee.shareTBS)
		b.AddBytes([]byte("daylight released share v1\x00"))
		b.AddBytes(rs.RecordID[:])
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(l.id)) })
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sealed) })
		out.Shares[i] = trustee.SealedShare{RecordID: rs.RecordID, Trustee: l.id, Sealed: sealed, Signature: ed25519.Sign(l.sign, b.BytesOrPanic())}
	}
	return out, nil
}

// TestAttackT10_AuthorityIdentifiesLyingTrustee: trustee-1 releases a wrong
// (but validly signed) share. With k = 3 shares recovery fails rather than
// return wrong plaintext; the authority asks one more trustee, recovers,
// and names trustee-1 from its own signed share.
func TestAttackT10_AuthorityIdentifiesLyingTrustee(t *testing.T) {
	s := authoritytest.New(t)
	w := s.W
	s.Trustees[1].Client = &liar{honest: s.Trustees[1].Client, id: "trustee-1", index: 1, sign: w.F.Trustees[1], period: w.F.PeriodKeys[1], authKEM: w.AuthKEMPub}
	ctx := context.Background()
	if err := s.Authority.Collect(ctx, s.Case, s.Trustees, 3); err != nil {
		t.Fatal(err) // the lie passes every check a single answer allows
	}
	if _, err := s.Authority.Recover(s.Case); !errors.Is(err, authority.ErrRecovery) {
		t.Fatalf("recovery from k shares with a liar: %v", err)
	}
	if err := s.Authority.Collect(ctx, s.Case, s.Trustees, 4); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Authority.Recover(s.Case)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Secrets.SenderDataSecret, s.InWindow[i].Secrets.SenderDataSecret) {
			t.Fatal("recovered wrong secrets")
		}
	}
	if got := authority.Liars(recs); !slices.Equal(got, []string{"trustee-1"}) {
		t.Fatalf("liars %v, want [trustee-1]", got)
	}
	// The liar's share is signed by it: the accusation is checkable by anyone.
	for _, r := range s.Case.Releases {
		if r.Trustee == "trustee-1" {
			if _, err := trustee.OpenShare(w.Pol, s.Keys.KEMPriv, &r.Shares[0]); err != nil {
				t.Fatalf("liar's share does not carry its signature: %v", err)
			}
		}
	}
}

// TestCollectRejectsForeignAnswers: an answer whose share is sealed to
// someone else, or whose release entry is not in the log, does not count.
func TestCollectRejectsForeignAnswers(t *testing.T) {
	s := authoritytest.New(t)
	s.Trustees[0].Client = tamper{s.Trustees[0].Client, func(r *service.Released) { r.Shares[0].Sealed[10] ^= 1 }}
	s.Trustees[1].Client = tamper{s.Trustees[1].Client, func(r *service.Released) { r.Release.Proof = nil }}
	if err := s.Authority.Collect(context.Background(), s.Case, s.Trustees, 3); err != nil {
		t.Fatal(err)
	}
	if len(s.Case.Refusals) != 2 || s.Case.Refusals[0].Trustee != "trustee-0" || s.Case.Refusals[1].Trustee != "trustee-1" {
		t.Fatalf("refusals %+v", s.Case.Refusals)
	}
	for _, r := range s.Case.Releases {
		if r.Trustee == "trustee-0" || r.Trustee == "trustee-1" {
			t.Fatal("a bad answer counted")
		}
	}
}

type tamper struct {
	c authority.TrusteeClient
	f func(*service.Released)
}

func (t tamper) Release(ctx context.Context, req *trustee.Request) (*service.Released, error) {
	out, err := t.c.Release(ctx, req)
	if err == nil {
		t.f(out)
	}
	return out, err
}

// TestFileRefusesOtherAuthoritysWarrant: an authority cannot file a warrant
// that names another authority's keys (its shares would be sealed to them).
func TestFileRefusesOtherAuthoritysWarrant(t *testing.T) {
	s := authoritytest.New(t)
	other, _ := authority.GenerateKeys("other", rand.Reader)
	sw := s.W.SignWarrant(func(x *warrant.Warrant) { x.AuthorityKEMKey = other.KEMPub }, nil)
	if _, err := s.Authority.File(context.Background(), s.W.F.Signed, sw, s.Case.Records); err == nil {
		t.Fatal("filed a warrant naming another authority")
	}
}

func TestKeysRoundTrip(t *testing.T) {
	k, err := authority.GenerateKeys("federal-police", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Marshal()
	k2, err := authority.ParseKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.KEMPub, k.KEMPub) || !k2.Sign.Equal(k.Sign) || k2.Name != k.Name {
		t.Fatal("keys changed in a round trip")
	}
	if _, err := authority.ParseKeys(bytes.Replace(b, []byte(`"name"`), []byte(`"nom":"x","name"`), 1)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

func TestCaseFileRoundTrip(t *testing.T) {
	s := authoritytest.New(t)
	if err := s.Authority.Collect(context.Background(), s.Case, s.Trustees, 3); err != nil {
		t.Fatal(err)
	}
	b, err := authority.MarshalCase(s.Case)
	if err != nil {
		t.Fatal(err)
	}
	c, err := authority.ParseCase(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := authority.MarshalCase(c)
	if !bytes.Equal(b, b2) {
		t.Fatal("case changed in a round trip")
	}
	if _, err := s.Authority.Recover(c); err != nil {
		t.Fatalf("recover from the stored case: %v", err)
	}
	if _, err := authority.ParseCase(bytes.Replace(b, []byte(`"format"`), []byte(`"x":1,"format"`), 1)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// TestAttackForgedSenderNotInBundle: a group member (bob) encrypts a message
// under the epoch's keys claiming alice's leaf, signed with his own key;
// another is replayed byte for byte. Neither reaches the bundle: both are
// listed as rejected, the genuine messages are kept.
func TestAttackForgedSenderNotInBundle(t *testing.T) {
	s := authoritytest.New(t)
	ctx := context.Background()
	if err := s.Authority.Collect(ctx, s.Case, s.Trustees, 3); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Authority.Recover(s.Case)
	if err != nil {
		t.Fatal(err)
	}
	forged := s.SealAs(s.InWindow[0], "bob", "alice", servicetest.Now*1000-1000, "alice says: I confess")
	retained := append(slices.Clone(s.Retained), forged, s.Retained[0])
	msgs, rej := authority.Decrypt(recs, retained, authority.NewMLSDecrypter(s.States))
	if len(msgs) != len(s.Expected) {
		t.Fatalf("%d messages, want %d", len(msgs), len(s.Expected))
	}
	if len(rej) != 2 || rej[0].Index != len(s.Retained) || rej[1].Index != len(s.Retained)+1 {
		t.Fatalf("rejected %+v, want the forgery and the replay", rej)
	}
	for _, m := range msgs {
		if strings.Contains(m.Text, "confess") {
			t.Fatal("forged message decrypted as alice's")
		}
	}
	if _, err := s.Authority.Bundle(ctx, s.Case, recs, msgs); err != nil {
		t.Fatal(err)
	}
}

// lossy drops the first answer of a trustee (a cut connection after the
// trustee released and logged).
type lossy struct {
	*service.Client
	dropped bool
}

func (l *lossy) Release(ctx context.Context, req *trustee.Request) (*service.Released, error) {
	out, err := l.Client.Release(ctx, req)
	if err == nil && !l.dropped {
		l.dropped = true
		return nil, errors.New("connection reset")
	}
	return out, err
}

// TestCollectResumesLostAnswer: trustee-0's answer is lost; collecting again
// gets the replay refusal, resumes, and counts trustee-0 without a second
// release entry.
func TestCollectResumesLostAnswer(t *testing.T) {
	s := authoritytest.New(t)
	s.Trustees[0].Client = &lossy{Client: s.Trustees[0].Client.(*service.Client)}
	ctx := context.Background()
	if err := s.Authority.Collect(ctx, s.Case, s.Trustees[:3], 3); !errors.Is(err, authority.ErrNotEnoughReleases) {
		t.Fatalf("first round: %v", err)
	}
	if err := s.Authority.Collect(ctx, s.Case, s.Trustees[:3], 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authority.Recover(s.Case); err != nil {
		t.Fatal(err)
	}
}
