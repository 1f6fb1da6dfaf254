package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/escrow"
	"github.com/daylight-im/daylight/franking"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/trustee/trusteetest"
	"github.com/daylight-im/daylight/warrant"
)

const day = 86400

var now = uint64(policytest.Genesis + 40*day)

// tbs encodes a FramedContentTBS of an application message from a member
// (RFC 9420, Section 6.1) with a minimal GroupContext.
func tbs(group []byte, epoch uint64, leaf uint32, authData, app []byte) []byte {
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
	b = vec(b, authData)
	b = append(b, 1) // application
	b = vec(b, app)
	b = u(b, 1, 2)     // context.version
	b = u(b, 0x4D, 2)  // cipher suite
	b = vec(b, group)  // context.group_id
	b = u(b, epoch, 8) // context.epoch
	b = vec(b, []byte("tree hash .............32 bytes."))
	b = vec(b, []byte("confirmed transcript hash ......"))
	return vec(b, nil) // extensions
}

type testCase struct {
	a         *Authorization
	msgs      []Message
	authority ed25519.PrivateKey
	users     map[string]ed25519.PrivateKey
	records   []*escrow.Record
	recParams escrow.Params
	fx        *policytest.Fixture
	secrets   []escrow.Secrets
	shares    [][]*escrow.ReleasedShare
}

// newCase makes a case: a policy, a logged warrant for alice, epochs records
// of group g-ab (all in the window), released by trustees 0, 1 and 3 (k=3),
// and perEpoch signed messages per epoch.
func newCase(t testing.TB, epochs, perEpoch int) *testCase {
	c := &testCase{users: map[string]ed25519.PrivateKey{}}
	fx := policytest.New(t, 3, 5, []uint32{1}, nil)
	c.fx = fx
	pol := fx.Verified
	log := trusteetest.NewLog(t, fx)
	_, c.authority, _ = ed25519.GenerateKey(rand.Reader)
	_, authKEM, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	w := &warrant.Warrant{
		Authority: "federal-police", AuthorityKEMKey: authKEM, AuthoritySigningKey: c.authority.Public().(ed25519.PublicKey),
		PolicyID: pol.ID, Court: "court-a", Jurisdiction: "A", CaseNumber: "2026-CR-0042",
		LegalBasis: "s. 100a <StPO>", Targets: []string{"alice"},
		WindowStart: now - 10*day, WindowEnd: now + 20*day, EmbargoEnd: now + 100*day,
		Issued: now - day, Expiry: now + 30*day,
	}
	sw, err := warrant.Sign(w, fx.Courts["court-a"])
	if err != nil {
		t.Fatal(err)
	}
	vw, _ := warrant.Verify(sw, pol, now)
	a := &Authorization{Policy: fx.Signed, Warrant: sw}
	rand.Read(a.Salt[:])
	meta := vw.PublicMetadata(a.Salt, now)
	wentry, _ := accesslog.Marshal((*accesslog.WarrantCommitment)(&meta))
	log.Append(wentry)

	params, _ := pol.EscrowParams(1)
	c.recParams = params
	var ids [][32]byte
	var idHex []string
	for e := 0; e < epochs; e++ {
		p := escrow.Secrets{EncryptionSecret: make([]byte, 32), SenderDataSecret: make([]byte, 32)}
		rand.Read(p.EncryptionSecret)
		rand.Read(p.SenderDataSecret)
		rec, err := escrow.Build(escrow.Context{PolicyID: pol.ID, KeyPeriod: 1, GroupID: []byte("g-ab"), Epoch: uint64(e + 1)}, p, params)
		if err != nil {
			t.Fatal(err)
		}
		c.records = append(c.records, rec)
		c.secrets = append(c.secrets, p)
		a.Records = append(a.Records, rec.Bytes())
		ids = append(ids, rec.ID())
		idHex = append(idHex, hex.EncodeToString(func() []byte { id := rec.ID(); return id[:] }()))
	}
	var relIdx []uint64
	for _, ti := range []int{0, 1, 3} {
		rel := &accesslog.Release{WarrantCommitment: meta.Commitment, Trustee: pol.Trustees[ti].ID, Count: uint32(len(ids)), RecordsHash: escrow.RecordsHash(ids), Time: now}
		msg, _ := rel.SignedMessage()
		rel.Signature = ed25519.Sign(fx.Trustees[ti], msg)
		b, _ := accesslog.Marshal(rel)
		relIdx = append(relIdx, log.Append(b))
		var sh []*escrow.ReleasedShare
		for _, rec := range c.records {
			s, err := escrow.DecryptShare(rec, ti, fx.PeriodKeys[ti][1])
			if err != nil {
				t.Fatal(err)
			}
			sh = append(sh, s)
		}
		c.shares = append(c.shares, sh)
	}
	incl := log.Include(0, 1)
	a.Checkpoint = incl.Checkpoint
	a.Entries = append(a.Entries, LogEntry{Index: 0, Entry: incl.Entry, Proof: incl.Proof})
	for _, i := range relIdx {
		in := log.Include(i, 1)
		a.Entries = append(a.Entries, LogEntry{Index: i, Entry: in.Entry, Proof: in.Proof, Records: idHex})
	}
	c.a = a

	for _, u := range []string{"alice", "bob"} {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		c.users[u] = priv
	}
	base := (now - 5*day) * 1000
	for e := 0; e < epochs; e++ {
		for i := 0; i < perEpoch; i++ {
			from := []string{"alice", "bob"}[i%2]
			text := fmt.Sprintf("message %d of epoch %d from %s <b>&", i, e+1, from)
			c.msgs = append(c.msgs, c.message(from, uint32(i%2), uint64(e+1), base+uint64(e*perEpoch+i), text, i%3 == 0))
		}
	}
	return c
}

func (c *testCase) message(from string, leaf uint32, epoch, timeMs uint64, text string, franked bool) Message {
	app := []byte(text)
	var auth []byte
	if franked {
		content, com, err := franking.Protect(rand.Reader, []byte("g-ab"), franking.Sender{Account: from, Device: "d1"}, app)
		if err != nil {
			panic(err)
		}
		app, auth = content, com[:]
	}
	content := tbs([]byte("g-ab"), epoch, leaf, auth, app)
	return Message{
		GroupID: []byte("g-ab"), Epoch: epoch, Sender: from, Device: "d1", LeafIndex: leaf, Time: timeMs,
		Text: text, Franked: franked, Suite: 0x4D, ContentTBS: content,
		Signature: ed25519.Sign(c.users[from], signContent("FramedContentTBS", content)),
		SignerKey: c.users[from].Public().(ed25519.PublicKey),
	}
}

func (c *testCase) build(t testing.TB) Bundle {
	t.Helper()
	b, err := Build(c.a, c.msgs, c.authority, now+day)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *testCase) opts() Options {
	return Options{AuthorityKey: c.authority.Public().(ed25519.PublicKey)}
}

func toFS(b Bundle) fstest.MapFS {
	m := fstest.MapFS{}
	for p, d := range b {
		m[p] = &fstest.MapFile{Data: bytes.Clone(d)}
	}
	return m
}

func TestBuildAndVerifyDirAndZip(t *testing.T) {
	c := newCase(t, 3, 20)
	b := c.build(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(os.DirFS(dir), c.opts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 60 || rep.Groups != 1 || len(rep.Warnings) == 0 {
		t.Fatalf("report %+v", rep)
	}
	var zbuf bytes.Buffer
	if err := b.WriteZip(&zbuf); err != nil {
		t.Fatal(err)
	}
	zpath := filepath.Join(t.TempDir(), "bundle.zip")
	if err := os.WriteFile(zpath, zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyPath(zpath, c.opts()); err != nil {
		t.Fatalf("VerifyPath(zip): %v", err)
	}
	if _, err := VerifyPath(dir, c.opts()); err != nil {
		t.Fatalf("VerifyPath(dir): %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(zr, c.opts()); err != nil {
		t.Fatal(err)
	}
	html := string(b[TranscriptFile])
	if !strings.Contains(html, "message 0 of epoch 1 from alice &lt;b&gt;&amp;") || strings.Contains(html, "<b>&") {
		t.Fatal("transcript does not show escaped message text")
	}
	// Without an out-of-band key the warrant's (court-signed) key is used;
	// a different out-of-band key is reported.
	if _, err := Verify(toFS(b), Options{}); err != nil {
		t.Fatalf("verify with the warrant's authority key: %v", err)
	}
	otherPub, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	expectProblem(t, "other expected key", toFS(b), Options{AuthorityKey: otherPub}, "with another signing key than the one given")
	// Only the authority the court named can build the bundle.
	if _, err := Build(c.a, c.msgs, otherPriv, now); !errors.Is(err, ErrBuild) {
		t.Fatalf("bundle built by another authority: %v", err)
	}
	// A key-directory check, when given, is applied to every message.
	opts := c.opts()
	opts.KeyDirectory = func(m *Message) error {
		if m.Sender == "bob" {
			return errors.New("key not in the directory")
		}
		return nil
	}
	if _, err := Verify(toFS(b), opts); err == nil || !strings.Contains(err.Error(), "key not in the directory") {
		t.Fatalf("key directory failure not reported: %v", err)
	}
}

// resign recomputes the manifest's hashes and signs it with key, as a
// dishonest authority (or anyone holding its key) would.
func resign(t *testing.T, fsys fstest.MapFS, key ed25519.PrivateKey) {
	var m Manifest
	if err := json.Unmarshal(fsys[ManifestFile].Data, &m); err != nil {
		t.Fatal(err)
	}
	m.Files = nil
	for p, f := range fsys {
		if p == ManifestFile || p == ManifestSigFile {
			continue
		}
		h := sha256Hex(f.Data)
		m.Files = append(m.Files, FileHash{Path: p, SHA256: h, Size: int64(len(f.Data))})
	}
	mb, _ := json.MarshalIndent(&m, "", " ")
	fsys[ManifestFile] = &fstest.MapFile{Data: mb}
	fsys[ManifestSigFile] = &fstest.MapFile{Data: []byte(hex.EncodeToString(ed25519.Sign(key, manifestSigMessage(mb))))}
}

func expectProblem(t *testing.T, name string, fsys fstest.MapFS, opts Options, want string) {
	t.Helper()
	_, err := Verify(fsys, opts)
	var ve *VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%s: Verify = %v, want a VerifyError", name, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: problems do not mention %q:\n%v", name, want, err)
	}
}

// TestAttackEvidenceBundleTampered: any alteration of a bundle is detected
// offline and the report says exactly which file or message fails.
func TestAttackEvidenceBundleTampered(t *testing.T) {
	c := newCase(t, 2, 10)
	b := c.build(t)
	opts := c.opts()

	f := toFS(b)
	f[MessagesFile].Data = bytes.Replace(f[MessagesFile].Data, []byte("message 3 of epoch 1"), []byte("message 3 of epoch 9"), 1)
	expectProblem(t, "edited message", f, opts, "messages.jsonl: altered")

	f = toFS(b)
	f[TranscriptFile].Data = bytes.Replace(f[TranscriptFile].Data, []byte("from bob"), []byte("from eve"), 1)
	expectProblem(t, "edited transcript", f, opts, "transcript.html: altered")

	f = toFS(b)
	f["extra.txt"] = &fstest.MapFile{Data: []byte("planted")}
	expectProblem(t, "added file", f, opts, "extra.txt: not in the manifest")

	f = toFS(b)
	delete(f, TranscriptFile)
	expectProblem(t, "removed file", f, opts, "transcript.html: missing")

	_, other, _ := ed25519.GenerateKey(rand.Reader)
	f = toFS(b)
	resign(t, f, other)
	expectProblem(t, "other signer", f, opts, "manifest.sig: not a valid signature")

	f = toFS(b)
	f[WarrantFile].Data[len(f[WarrantFile].Data)-1] ^= 1
	resign(t, f, c.authority)
	expectProblem(t, "warrant signature", f, opts, "bad court signature")

	// The authority itself edits a message's text and re-signs everything:
	// the sender's MLS signature does not cover the new text.
	f = toFS(b)
	f[MessagesFile].Data = bytes.Replace(f[MessagesFile].Data, []byte("message 4 of epoch 2 from alice"), []byte("message 4 of epoch 2 from ALICE"), 1)
	resign(t, f, c.authority)
	expectProblem(t, "re-signed edited text", f, opts, "text differs from the signed application data")

	// ... or edits the transcript alone.
	f = toFS(b)
	f[TranscriptFile].Data = bytes.Replace(f[TranscriptFile].Data, []byte("from bob"), []byte("from eve"), 1)
	resign(t, f, c.authority)
	expectProblem(t, "re-signed transcript", f, opts, "transcript.html: does not match messages.jsonl")

	// ... or drops a release entry, so a record lacks k releases.
	f = toFS(b)
	var af authorizationFile
	json.Unmarshal(f[AuthorizationFile].Data, &af)
	af.Entries = af.Entries[:len(af.Entries)-1]
	f[AuthorizationFile].Data, _ = json.Marshal(af)
	resign(t, f, c.authority)
	expectProblem(t, "missing release", f, opts, "released by 2 trustees, need 3")

	// ... or tampers with a log entry (inclusion proof fails).
	f = toFS(b)
	json.Unmarshal(f[AuthorizationFile].Data, &af)
	af.Entries[0].Entry[len(af.Entries[0].Entry)-1] ^= 1
	f[AuthorizationFile].Data, _ = json.Marshal(af)
	resign(t, f, c.authority)
	expectProblem(t, "altered log entry", f, opts, "inclusion proof does not verify")
}

// TestAttackEvidenceOutOfScope: an authority cannot put messages outside the
// warrant's window or of an epoch whose record was not released into a
// bundle: Build refuses, and a hand-made bundle fails Verify.
func TestAttackEvidenceOutOfScope(t *testing.T) {
	c := newCase(t, 2, 4)
	late := c.message("bob", 1, 2, (now+25*day)*1000, "after the window", false)
	other := c.message("bob", 1, 7, (now-day)*1000, "epoch never released", false)
	for name, m := range map[string]Message{"window": late, "epoch": other} {
		if _, err := Build(c.a, append(c.msgs, m), c.authority, now); !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "out of scope") {
			t.Fatalf("%s: Build = %v", name, err)
		}
	}
	b := c.build(t)
	f := toFS(b)
	line, _ := json.Marshal(&late)
	f[MessagesFile].Data = append(f[MessagesFile].Data, append(line, '\n')...)
	var m Manifest
	json.Unmarshal(f[ManifestFile].Data, &m)
	m.Messages++
	f[ManifestFile].Data, _ = json.Marshal(&m)
	ctx, _ := checkAuthorization(c.a)
	msgs, _ := parseMessages(f[MessagesFile].Data)
	f[TranscriptFile].Data, _ = renderTranscript(ctx, msgs)
	resign(t, f, c.authority)
	expectProblem(t, "hand-made", f, c.opts(), "outside the warrant window")
}

func TestTBSParserStrict(t *testing.T) {
	good := tbs([]byte("g"), 3, 1, nil, []byte("hi"))
	if _, err := parseApplicationTBS(good); err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(good); cut++ {
		if _, err := parseApplicationTBS(good[:cut]); err == nil {
			t.Fatalf("prefix %d parsed", cut)
		}
	}
	if _, err := parseApplicationTBS(append(bytes.Clone(good), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	// Non-minimal varint for the group id length (0x40 0x01 instead of 0x01).
	bad := append(bytes.Clone(good[:4]), 0x40, 0x01)
	bad = append(bad, good[5:]...)
	if _, err := parseApplicationTBS(bad); err == nil || !strings.Contains(err.Error(), "non-minimal") {
		t.Fatalf("non-minimal varint: %v", err)
	}
}

func FuzzParseApplicationTBS(f *testing.F) {
	f.Add(tbs([]byte("g"), 3, 1, []byte("ad"), []byte("hello")))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseApplicationTBS(data)
		if err != nil {
			return
		}
		vec := func(b, v []byte) []byte { return append(appendVarint(b, len(v)), v...) }
		re := []byte{0, 1, byte(c.WireFormat >> 8), byte(c.WireFormat)}
		re = vec(re, c.GroupID)
		for i := 7; i >= 0; i-- {
			re = append(re, byte(c.Epoch>>(8*i)))
		}
		re = append(re, 1, byte(c.LeafIndex>>24), byte(c.LeafIndex>>16), byte(c.LeafIndex>>8), byte(c.LeafIndex))
		re = vec(re, c.AuthData)
		re = append(re, 1)
		re = vec(re, c.ApplicationData)
		re = append(re, c.Context...)
		if !bytes.Equal(re, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", re, data)
		}
	})
}

func FuzzVerifyManifest(f *testing.F) {
	c := newCase(f, 1, 2)
	b := c.build(f)
	f.Add(b[ManifestFile])
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := toFS(b)
		fsys[ManifestFile] = &fstest.MapFile{Data: data}
		rep, err := Verify(fsys, c.opts())
		if err == nil && !bytes.Equal(data, b[ManifestFile]) {
			t.Fatalf("altered manifest verified: %+v", rep)
		}
	})
}

func sha256Hex(b []byte) string {
	h := sha256Sum(b)
	return hex.EncodeToString(h[:])
}

// BenchmarkRecoverAndBundle100k: the authority's work for a case of 100,000
// messages over 100 epochs: recover the 100 escrow records from 3 of 5
// trustees' shares, then check every message and build the bundle. (The MLS
// decryption of the messages themselves is measured by mls/framing.)
func BenchmarkRecoverAndBundle100k(b *testing.B) {
	c := newCase(b, 100, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, rec := range c.records {
			r, err := escrow.Recover(rec, c.recParams, []*escrow.ReleasedShare{c.shares[0][i], c.shares[1][i], c.shares[2][i]})
			if err != nil || !bytes.Equal(r.Secrets.EncryptionSecret, c.secrets[i].EncryptionSecret) {
				b.Fatal(err)
			}
		}
		if _, err := Build(c.a, c.msgs, c.authority, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify100k(b *testing.B) {
	c := newCase(b, 100, 1000)
	fsys := toFS(c.build(b))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(fsys, c.opts()); err != nil {
			b.Fatal(err)
		}
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func TestBundleLogEntry(t *testing.T) {
	c := newCase(t, 1, 2)
	b := c.build(t)
	e := b.LogEntry("A", "2026-CR-0042", now)
	enc, err := accesslog.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := accesslog.ParseAs[*accesslog.Evidence](enc)
	if err != nil || got.Digest != sha256.Sum256(b[ManifestFile]) || got.Kind != accesslog.EvidenceBundle {
		t.Fatalf("evidence entry %+v %v", got, err)
	}
}

func FuzzVerifyMessages(f *testing.F) {
	c := newCase(f, 1, 3)
	b := c.build(f)
	f.Add(b[MessagesFile])
	f.Add(b[AuthorizationFile])
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{MessagesFile, AuthorizationFile} {
			fsys := toFS(b)
			fsys[name] = &fstest.MapFile{Data: data}
			if _, err := Verify(fsys, c.opts()); err == nil && !bytes.Equal(data, b[name]) {
				t.Fatalf("altered %s verified", name)
			}
		}
	})
}
