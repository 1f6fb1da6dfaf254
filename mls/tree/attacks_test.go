package tree

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/wire"
)

type detReader struct {
	state [32]byte
	buf   []byte
}

func newDetReader(label string, i int) *detReader {
	return &detReader{state: sha256.Sum256(binary.BigEndian.AppendUint64([]byte(label), uint64(i)))}
}

func (r *detReader) Read(p []byte) (int, error) {
	for n := 0; n < len(p); {
		if len(r.buf) == 0 {
			r.state = sha256.Sum256(r.state[:])
			r.buf = r.state[:]
		}
		c := copy(p[n:], r.buf)
		r.buf, n = r.buf[c:], n+c
	}
	return len(p), nil
}

type member struct {
	signer *suite.Signer
	leaf   *wire.LeafNode
	kp     *wire.KeyPackage
}

var testNow = time.Unix(1_800_000_000, 0)

// newMember builds a signed KeyPackage for member i (suite 1).
func newMember(t testing.TB, s *suite.Suite, i int, edit func(*wire.LeafNode, *wire.KeyPackage)) *member {
	t.Helper()
	r := newDetReader("member", i)
	_, epub, err := s.GenerateKeyPair(r)
	if err != nil {
		t.Fatal(err)
	}
	_, ipub, err := s.GenerateKeyPair(r)
	if err != nil {
		t.Fatal(err)
	}
	sp, spub, err := s.GenerateSignatureKey(r)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := s.NewSigner(sp)
	if err != nil {
		t.Fatal(err)
	}
	ln := &wire.LeafNode{EncryptionKey: epub, SignatureKey: spub,
		Credential: wire.Credential{Type: wire.CredentialTypeBasic, Identity: fmt.Appendf(nil, "member-%d", i)},
		Capabilities: wire.Capabilities{Versions: []wire.ProtocolVersion{wire.MLS10}, CipherSuites: []wire.CipherSuite{1},
			Credentials: []wire.CredentialType{wire.CredentialTypeBasic}},
		Source:   wire.LeafNodeSourceKeyPackage,
		Lifetime: wire.Lifetime{NotBefore: uint64(testNow.Unix()) - 3600, NotAfter: uint64(testNow.Unix()) + 3600},
	}
	kp := &wire.KeyPackage{Version: wire.MLS10, CipherSuite: 1, InitKey: ipub}
	if edit != nil {
		edit(ln, kp)
	}
	if err := SignLeafNode(signer, ln, nil, 0); err != nil {
		t.Fatal(err)
	}
	kp.LeafNode = *ln
	sig, err := signer.SignWithLabel("KeyPackageTBS", kp.AppendTBS(nil))
	if err != nil {
		t.Fatal(err)
	}
	kp.Signature = sig
	return &member{signer: signer, leaf: ln, kp: kp}
}

func suite1(t testing.TB) *suite.Suite {
	s, err := suite.Lookup(1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// groupOf returns a tree with n members added through verified KeyPackages.
func groupOf(t testing.TB, s *suite.Suite, n int) (*Tree, []*member) {
	tr := New(s)
	var ms []*member
	for i := 0; i < n; i++ {
		m := newMember(t, s, i, nil)
		vkp, err := VerifyKeyPackage(s, m.kp, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.ValidateLeafNode(&vkp.KeyPackage().LeafNode, LeafCheck{Source: wire.LeafNodeSourceKeyPackage, Now: testNow}); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.AddKeyPackage(vkp); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return tr, ms
}

// TestVerifyKeyPackageRejects attempts each KeyPackage forgery of RFC 9420,
// Section 10.1 and the leaf checks of Section 7.3 that apply to it.
func TestVerifyKeyPackageRejects(t *testing.T) {
	s := suite1(t)
	good := newMember(t, s, 1, nil)
	if _, err := VerifyKeyPackage(s, good.kp, testNow); err != nil {
		t.Fatalf("valid KeyPackage rejected: %v", err)
	}
	cases := []struct {
		name string
		edit func(*wire.LeafNode, *wire.KeyPackage)
		post func(*wire.KeyPackage)
		now  time.Time
	}{
		{name: "cipher suite mismatch", edit: func(_ *wire.LeafNode, kp *wire.KeyPackage) { kp.CipherSuite = 2 }},
		{name: "version", edit: func(_ *wire.LeafNode, kp *wire.KeyPackage) { kp.Version = 2 }},
		{name: "init_key equals encryption_key", edit: func(ln *wire.LeafNode, kp *wire.KeyPackage) { kp.InitKey = ln.EncryptionKey }},
		{name: "leaf source update", edit: func(ln *wire.LeafNode, _ *wire.KeyPackage) { ln.Source = wire.LeafNodeSourceUpdate }},
		{name: "credential type not in capabilities", edit: func(ln *wire.LeafNode, _ *wire.KeyPackage) {
			ln.Capabilities.Credentials = []wire.CredentialType{wire.CredentialTypeX509}
		}},
		{name: "extension not in capabilities", edit: func(ln *wire.LeafNode, _ *wire.KeyPackage) {
			ln.Extensions = wire.Extensions{{Type: 0xff01, Data: []byte{1}}}
		}},
		{name: "expired", now: testNow.Add(2 * time.Hour)},
		{name: "not yet valid", now: testNow.Add(-2 * time.Hour)},
		{name: "KeyPackage signature", post: func(kp *wire.KeyPackage) { kp.Signature[0] ^= 1 }},
		{name: "leaf signature", post: func(kp *wire.KeyPackage) { kp.LeafNode.Signature[0] ^= 1 }},
		{name: "bad init key", edit: func(_ *wire.LeafNode, kp *wire.KeyPackage) { kp.InitKey = kp.InitKey[:31] }},
	}
	for i, c := range cases {
		m := newMember(t, s, 100+i, c.edit)
		if c.post != nil {
			c.post(m.kp)
		}
		now := testNow
		if !c.now.IsZero() {
			now = c.now
		}
		if _, err := VerifyKeyPackage(s, m.kp, now); !errors.Is(err, ErrInvalidKeyPackage) {
			t.Errorf("%s: got %v, want ErrInvalidKeyPackage", c.name, err)
		}
	}
}

// TestValidateLeafNodeRejects attempts the group-dependent leaf checks of
// RFC 9420, Section 7.3: reused signature or encryption keys, an Update that
// keeps its encryption key, unsupported required capabilities, a credential
// type other members do not support, a wrong source, and a bad signature.
func TestValidateLeafNodeRejects(t *testing.T) {
	s := suite1(t)
	tr, ms := groupOf(t, s, 4)
	gid := []byte("group")
	check := func(name string, ln *wire.LeafNode, c LeafCheck) {
		t.Helper()
		if err := tr.ValidateLeafNode(ln, c); !errors.Is(err, ErrInvalidLeafNode) {
			t.Errorf("%s: got %v, want ErrInvalidLeafNode", name, err)
		}
	}
	// Duplicate signature key (a new member reusing member 0's key).
	dupSig := newMember(t, s, 50, nil)
	dupSig.leaf.SignatureKey = ms[0].leaf.SignatureKey
	_ = SignLeafNode(ms[0].signer, dupSig.leaf, nil, 0)
	check("duplicate signature_key", dupSig.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage})
	// Duplicate encryption key.
	dupEnc := newMember(t, s, 51, func(ln *wire.LeafNode, _ *wire.KeyPackage) { ln.EncryptionKey = ms[1].leaf.EncryptionKey })
	check("duplicate encryption_key", dupEnc.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage})
	// Update keeping the same encryption key.
	upd := *ms[2].leaf
	upd.Source = wire.LeafNodeSourceUpdate
	upd.Lifetime = wire.Lifetime{}
	_ = SignLeafNode(ms[2].signer, &upd, gid, 2)
	check("update reuses encryption_key", &upd, LeafCheck{Source: wire.LeafNodeSourceUpdate, GroupID: gid, Leaf: 2})
	// UpdatePath leaf keeping the same encryption key (Section 7.5: same
	// rules as an Update).
	cl := *ms[1].leaf
	cl.Raw = nil
	cl.Source = wire.LeafNodeSourceCommit
	cl.Lifetime = wire.Lifetime{}
	cl.ParentHash = []byte{}
	_ = SignLeafNode(ms[1].signer, &cl, gid, 1)
	check("commit leaf reuses encryption_key", &cl, LeafCheck{Source: wire.LeafNodeSourceCommit, GroupID: gid, Leaf: 1})
	// Update signed for another leaf index.
	upd2 := newMember(t, s, 52, nil).leaf
	upd2.Source = wire.LeafNodeSourceUpdate
	upd2.SignatureKey = ms[3].leaf.SignatureKey
	_ = SignLeafNode(ms[3].signer, upd2, gid, 2)
	check("update signed for another leaf", upd2, LeafCheck{Source: wire.LeafNodeSourceUpdate, GroupID: gid, Leaf: 3})
	// Wrong source for the context.
	fresh := newMember(t, s, 53, nil)
	check("key_package leaf in update", fresh.leaf, LeafCheck{Source: wire.LeafNodeSourceUpdate, GroupID: gid, Leaf: 1})
	// Required capabilities not met.
	check("required extension", fresh.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage,
		Required: &wire.RequiredCapabilities{Extensions: []wire.ExtensionType{0xff02}}})
	check("required credential", fresh.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage,
		Required: &wire.RequiredCapabilities{Credentials: []wire.CredentialType{wire.CredentialTypeX509}}})
	// Credential type the other members do not support.
	x509 := newMember(t, s, 54, func(ln *wire.LeafNode, _ *wire.KeyPackage) {
		ln.Credential = wire.Credential{Type: wire.CredentialTypeX509, Certificates: [][]byte{{0x30, 0x00}}}
		ln.Capabilities.Credentials = []wire.CredentialType{wire.CredentialTypeBasic, wire.CredentialTypeX509}
	})
	check("credential type unsupported by members", x509.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage})
	// Credential validator refusal.
	check("credential validator", fresh.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage,
		CredentialValidator: func(*wire.Credential, []byte) error { return errors.New("unknown identity") }})
	// Tampered signature.
	bad := *fresh.leaf
	bad.Raw = nil
	bad.Signature = append([]byte(nil), bad.Signature...)
	bad.Signature[3] ^= 0x10
	check("leaf signature", &bad, LeafCheck{Source: wire.LeafNodeSourceKeyPackage})
	// The valid fresh leaf is accepted.
	if err := tr.ValidateLeafNode(fresh.leaf, LeafCheck{Source: wire.LeafNodeSourceKeyPackage, Now: testNow}); err != nil {
		t.Fatalf("valid leaf rejected: %v", err)
	}
}

// TestTreeOpsAndUnmergedLeaves checks Add fills the leftmost blank and
// records unmerged leaves at non-blank ancestors, Remove blanks the path and
// truncates (RFC 9420, Sections 12.1.1, 12.1.3), and the tree hash cache
// agrees with a fresh computation after every step.
func TestTreeOpsAndUnmergedLeaves(t *testing.T) {
	s := suite1(t)
	tr, ms := groupOf(t, s, 5)
	if tr.NumLeaves() != 8 || tr.MemberCount() != 5 {
		t.Fatalf("leaves %d members %d", tr.NumLeaves(), tr.MemberCount())
	}
	fresh := func() []byte {
		c, err := Parse(s, tr.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		return c.TreeHash()
	}
	// Give node 3 (root of leaves 0-3) a key so an Add records it as unmerged.
	tr.parents[3>>1] = parentSlot{key: append([]byte{}, ms[4].kp.InitKey...)}
	tr.invalidate(3)
	if err := tr.RemoveLeaf(2); err != nil {
		t.Fatal(err)
	}
	if !tr.IsBlank(3) {
		t.Fatal("remove did not blank the direct path")
	}
	tr.parents[3>>1] = parentSlot{key: append([]byte{}, ms[4].kp.InitKey...)}
	tr.invalidate(3)
	m := newMember(t, s, 9, nil)
	l, err := tr.AddLeaf(m.leaf)
	if err != nil || l != 2 {
		t.Fatalf("add went to leaf %d (%v), want the leftmost blank 2", l, err)
	}
	if got := tr.UnmergedLeaves(3); len(got) != 1 || got[0] != 2 {
		t.Fatalf("unmerged leaves at 3: %v", got)
	}
	if res := tr.Resolution(nil, 3); len(res) != 2 || res[0] != 3 || res[1] != 4 {
		t.Fatalf("resolution of 3: %v", res)
	}
	if string(tr.TreeHash()) != string(fresh()) {
		t.Fatal("cached tree hash differs after add")
	}
	if err := tr.RemoveLeaf(4); err != nil {
		t.Fatal(err)
	}
	if tr.NumLeaves() != 4 {
		t.Fatalf("not truncated: %d leaves", tr.NumLeaves())
	}
	if string(tr.TreeHash()) != string(fresh()) {
		t.Fatal("cached tree hash differs after truncation")
	}
	if err := tr.RemoveLeaf(4); !errors.Is(err, ErrBlankLeaf) {
		t.Fatalf("removing a blank leaf: %v", err)
	}
}

// TestValidateRejectsBadUnmergedLeaves checks the joiner's unmerged-leaf
// rules (RFC 9420, Section 12.4.3.1): an unmerged leaf must be a non-blank
// descendant, and parent encryption keys must be unique.
func TestValidateRejectsBadUnmergedLeaves(t *testing.T) {
	s := suite1(t)
	tr, ms := groupOf(t, s, 4)
	if err := tr.Validate(TreeCheck{Now: testNow}); err != nil {
		t.Fatalf("valid tree rejected: %v", err)
	}
	c := tr.Clone()
	c.parents[5>>1] = parentSlot{key: append([]byte{}, ms[0].kp.InitKey...), unmerged: []uint32{0}} // leaf 0 is not under node 5
	if err := c.VerifyUnmergedLeaves(); !errors.Is(err, ErrInvalidTree) {
		t.Fatalf("unmerged leaf outside the subtree: %v", err)
	}
	c = tr.Clone()
	c.parents[1>>1] = parentSlot{key: append([]byte{}, ms[0].leaf.EncryptionKey...)}
	if err := c.VerifyUnmergedLeaves(); !errors.Is(err, ErrInvalidTree) {
		t.Fatalf("parent key equal to a leaf key: %v", err)
	}
}

// TestHashCacheAcrossTruncateAndExtend removes members until the tree
// truncates, then adds members until it extends again, comparing the cached
// tree hash with a fresh computation at every step (RFC 9420, Section 7.8).
func TestHashCacheAcrossTruncateAndExtend(t *testing.T) {
	s := suite1(t)
	tr, _ := groupOf(t, s, 9)
	check := func(step string) {
		t.Helper()
		fresh, err := Parse(s, tr.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if string(fresh.TreeHash()) != string(tr.TreeHash()) {
			t.Fatalf("%s: cached tree hash is stale", step)
		}
	}
	check("initial")
	for l := LeafIndex(8); l >= 2; l-- {
		if err := tr.RemoveLeaf(l); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("remove %d", l))
	}
	if tr.NumLeaves() != 2 {
		t.Fatalf("%d leaves after removals", tr.NumLeaves())
	}
	for i := 0; i < 9; i++ {
		if _, err := tr.AddLeaf(newMember(t, s, 200+i, nil).leaf); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("add %d", i))
	}
}
