package treekem

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/daylight-im/daylight/mls/suite"
	"github.com/daylight-im/daylight/mls/tree"
	"github.com/daylight-im/daylight/mls/treemath"
	"github.com/daylight-im/daylight/mls/wire"
)

// seedReader is a deterministic byte stream for test keys.
type seedReader struct {
	state [32]byte
	buf   []byte
}

func newSeedReader(label string, i int) *seedReader {
	r := &seedReader{}
	r.state = sha256.Sum256(binary.BigEndian.AppendUint64([]byte(label), uint64(i)))
	return r
}

func (r *seedReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			r.state = sha256.Sum256(r.state[:])
			r.buf = r.state[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

// fixture is a group of n members: the public tree plus the private keys
// of every leaf and (if full) of every parent node.
type fixture struct {
	s        *suite.Suite
	groupID  []byte
	tree     *tree.Tree
	leafPriv [][]byte
	sigPriv  [][]byte
	nodePriv map[NodeIndex][]byte
}

// newFixture builds n members with realistic leaves (basic credential,
// Ed25519, signed update-source leaves). If full, every parent node has a
// key (best case for path updates); otherwise every parent is blank (worst
// case: right after a bulk add).
func newFixture(tb testing.TB, n int, full bool) *fixture {
	tb.Helper()
	s, err := suite.Lookup(suite.X25519AES128GCMSHA256Ed25519)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{s: s, groupID: []byte("benchmark-group-0123456789abcdef"), nodePriv: map[NodeIndex][]byte{}}
	width := treemath.NodeWidth(uint32(n))
	rt := make(wire.RatchetTree, width)
	for i := 0; i < n; i++ {
		r := newSeedReader("leaf", i)
		ep, epub, err := s.GenerateKeyPair(r)
		if err != nil {
			tb.Fatal(err)
		}
		sp, spub, err := s.GenerateSignatureKey(r)
		if err != nil {
			tb.Fatal(err)
		}
		f.leafPriv = append(f.leafPriv, ep)
		f.sigPriv = append(f.sigPriv, sp)
		ln := &wire.LeafNode{
			EncryptionKey: epub, SignatureKey: spub,
			Credential: wire.Credential{Type: wire.CredentialTypeBasic, Identity: fmt.Appendf(nil, "daylight:user%06d/device-%08x", i, i*7919)},
			Capabilities: wire.Capabilities{Versions: []wire.ProtocolVersion{wire.MLS10}, CipherSuites: []wire.CipherSuite{1, 2, 3, 0x4d},
				Credentials: []wire.CredentialType{wire.CredentialTypeBasic}},
			Source: wire.LeafNodeSourceUpdate,
		}
		signer, err := s.NewSigner(sp)
		if err != nil {
			tb.Fatal(err)
		}
		if err := tree.SignLeafNode(signer, ln, f.groupID, LeafIndex(i)); err != nil {
			tb.Fatal(err)
		}
		rt[2*i] = &wire.Node{Leaf: ln}
	}
	if full {
		for x := 1; x < int(width); x += 2 {
			if treemath.LeftmostLeaf(NodeIndex(x)) >= LeafIndex(n) {
				continue
			}
			priv, pub, err := s.GenerateKeyPair(newSeedReader("parent", x))
			if err != nil {
				tb.Fatal(err)
			}
			f.nodePriv[NodeIndex(x)] = priv
			rt[x] = &wire.Node{Parent: &wire.ParentNode{EncryptionKey: pub, ParentHash: []byte{}}}
		}
	}
	for len(rt) > 0 && rt[len(rt)-1] == nil {
		rt = rt[:len(rt)-1]
	}
	f.tree, err = tree.FromWire(s, rt)
	if err != nil {
		tb.Fatal(err)
	}
	f.tree.TreeHash() // warm the cache, as a live group has
	return f
}

// private returns the private state of leaf l (leaf key plus the keys of
// its direct path in a full tree).
func (f *fixture) private(l LeafIndex) *PrivateState {
	ps := NewPrivateState(f.s, l, f.leafPriv[l])
	for _, x := range treemath.DirectPath(nil, l.Node(), f.tree.NumLeaves()) {
		if k, ok := f.nodePriv[x]; ok {
			ps.set(x, append([]byte(nil), k...))
		}
	}
	return ps
}

func (f *fixture) params(l LeafIndex) PathParams {
	ln, _ := f.tree.Leaf(l)
	signer, _ := f.s.NewSigner(f.sigPriv[l])
	tmpl := *ln
	return PathParams{Leaf: l, LeafNode: &tmpl, Signer: signer, GroupID: f.groupID, Rand: newSeedReader("path", int(l))}
}

func provisionalContext(f *fixture, t *tree.Tree) []byte {
	gc := wire.GroupContext{Version: wire.MLS10, CipherSuite: 1, GroupID: f.groupID, Epoch: 8, TreeHash: t.TreeHash(),
		ConfirmedTranscriptHash: make([]byte, 32)}
	return gc.Marshal()
}

var benchSizes = []int{2, 100, 1000, 10000}

// BenchmarkCreatePath measures a committer's UpdatePath: clone the tree,
// derive the path, merge it with parent hashes, sign the leaf, hash the
// tree, encrypt to every copath resolution.
func BenchmarkCreatePath(b *testing.B) {
	for _, kind := range []string{"worst", "best"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
				f := newFixture(b, n, kind == "best")
				p := f.params(0)
				b.ReportAllocs()
				for b.Loop() {
					t := f.tree.Clone()
					pend, err := Create(t, p)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := pend.Encrypt(provisionalContext(f, t)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkApplyPath measures a receiver: clone the tree, validate the new
// leaf (signature, uniqueness), merge the path (parent hash check), hash the
// tree, decrypt and derive the path keys.
func BenchmarkApplyPath(b *testing.B) {
	for _, kind := range []string{"worst", "best"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
				f := newFixture(b, n, kind == "best")
				committer := f.tree.Clone()
				pend, err := Create(committer, f.params(0))
				if err != nil {
					b.Fatal(err)
				}
				gc := provisionalContext(f, committer)
				up, err := pend.Encrypt(gc)
				if err != nil {
					b.Fatal(err)
				}
				recv := LeafIndex(n - 1)
				priv := f.private(recv)
				b.ReportAllocs()
				for b.Loop() {
					t := f.tree.Clone()
					if err := t.ValidateLeafNode(&up.LeafNode, tree.LeafCheck{Source: wire.LeafNodeSourceCommit, GroupID: f.groupID, Leaf: 0}); err != nil {
						b.Fatal(err)
					}
					if err := Merge(t, 0, up, nil); err != nil {
						b.Fatal(err)
					}
					_ = provisionalContext(f, t)
					if _, err := priv.Clone().Decrypt(t, 0, up, gc, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
