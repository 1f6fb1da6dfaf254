package accesslog

import (
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	f_log "github.com/transparency-dev/formats/log"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "daylight.test/log"

type keys struct {
	logSigner note.Signer
	logVKey   string
	wSigners  []note.Signer
	wVKeys    []string
}

func newKeys(t testing.TB, witnesses int) *keys {
	k := &keys{}
	sk, vk, _ := note.GenerateKey(rand.Reader, testOrigin)
	k.logSigner, _ = note.NewSigner(sk)
	k.logVKey = vk
	for i := range witnesses {
		sk, vk, _ := note.GenerateKey(rand.Reader, fmt.Sprintf("witness.test/w%d", i))
		s, err := f_note.NewSignerForCosignatureV1(sk)
		if err != nil {
			t.Fatal(err)
		}
		k.wSigners = append(k.wSigners, s)
		k.wVKeys = append(k.wVKeys, vk) // type 0x01 vkeys are read as cosignature/v1
	}
	return k
}

func (k *keys) sign(t testing.TB, size uint64, root []byte, witnesses ...int) []byte {
	signers := []note.Signer{k.logSigner}
	for _, w := range witnesses {
		signers = append(signers, k.wSigners[w])
	}
	b, err := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: testOrigin, Size: size, Hash: root}.Marshal())}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckpointPolicyThreshold(t *testing.T) {
	k := newKeys(t, 3)
	p, err := NewCheckpointPolicy("", k.logVKey, k.wVKeys, 2)
	if err != nil {
		t.Fatal(err)
	}
	root := rfc6962.DefaultHasher.HashLeaf([]byte("x"))
	if cp, err := p.Verify(k.sign(t, 1, root, 0, 2)); err != nil || cp.Size != 1 || len(cp.Cosigners) != 2 {
		t.Fatalf("2 of 3: %v %+v", err, cp)
	}
	for _, ws := range [][]int{{}, {1}, {1, 1}} {
		if _, err := p.Verify(k.sign(t, 1, root, ws...)); !errors.Is(err, ErrNotEnoughCosignatures) {
			t.Errorf("cosigned by %v: %v", ws, err)
		}
	}
	// Witness signatures without the log's are refused.
	only, _ := note.Sign(&note.Note{Text: string(f_log.Checkpoint{Origin: testOrigin, Size: 1, Hash: root}.Marshal())}, k.wSigners[0], k.wSigners[1])
	if _, err := p.Verify(only); !errors.Is(err, ErrNoLogSignature) {
		t.Errorf("no log signature: %v", err)
	}
	// Wrong origin.
	other, _ := NewCheckpointPolicy("daylight.test/other", k.logVKey, k.wVKeys, 0)
	if _, err := other.Verify(k.sign(t, 1, root)); !errors.Is(err, ErrWrongOrigin) {
		t.Errorf("origin: %v", err)
	}
	if _, err := NewCheckpointPolicy("", k.logVKey, k.wVKeys, 4); err == nil {
		t.Error("threshold above m accepted")
	}
	if _, err := NewCheckpointPolicy("", k.logVKey, []string{k.wVKeys[0], k.wVKeys[0]}, 2); err == nil {
		t.Error("a witness listed twice would count twice")
	}
}

func TestProofs(t *testing.T) {
	tree := testonly.New(rfc6962.DefaultHasher)
	var entries [][]byte
	for i := range 1000 {
		e := fmt.Appendf(nil, "entry %d", i)
		entries = append(entries, e)
		tree.AppendData(e)
	}
	cp := func(size uint64) *Checkpoint {
		c := &Checkpoint{Origin: testOrigin, Size: size}
		copy(c.Hash[:], tree.HashAt(size))
		return c
	}
	big, small := cp(1000), cp(377)
	p, _ := tree.InclusionProof(500, 1000)
	if err := VerifyInclusion(big, 500, entries[500], p); err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(big, 501, entries[500], p); !errors.Is(err, ErrNotIncluded) {
		t.Fatalf("wrong index: %v", err)
	}
	cproof, _ := tree.ConsistencyProof(377, 1000)
	if err := VerifyConsistency(small, big, cproof); err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(big, small, cproof); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("rollback: %v", err)
	}
	forked := cp(377)
	forked.Hash[0] ^= 1
	if err := VerifyConsistency(forked, big, cproof); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("fork: %v", err)
	}
	if err := VerifyConsistency(cp(0), big, nil); err != nil {
		t.Fatalf("from empty: %v", err)
	}
}

// BenchmarkVerifyInclusionAndConsistency measures what a client does per
// lookup: one inclusion proof and one consistency proof in a 1,000,000-entry
// tree (20 hashes each).
func BenchmarkVerifyInclusionAndConsistency(b *testing.B) {
	const n = 1_000_000
	tree := testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		tree.AppendData(fmt.Appendf(nil, "entry %d", i))
	}
	entry := fmt.Appendf(nil, "entry %d", 123456)
	newCP := &Checkpoint{Origin: testOrigin, Size: n}
	copy(newCP.Hash[:], tree.HashAt(n))
	oldCP := &Checkpoint{Origin: testOrigin, Size: n - 4321}
	copy(oldCP.Hash[:], tree.HashAt(n-4321))
	ip, _ := tree.InclusionProof(123456, n)
	cp, _ := tree.ConsistencyProof(n-4321, n)
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyInclusion(newCP, 123456, entry, ip); err != nil {
			b.Fatal(err)
		}
		if err := VerifyConsistency(oldCP, newCP, cp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckpointVerify: a checkpoint with the log signature and 2 of 3
// witness cosignatures (Ed25519).
func BenchmarkCheckpointVerify(b *testing.B) {
	k := newKeys(b, 3)
	p, _ := NewCheckpointPolicy("", k.logVKey, k.wVKeys, 2)
	raw := k.sign(b, 1, rfc6962.DefaultHasher.HashLeaf([]byte("x")), 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRelease(b *testing.B) {
	raw, _ := Marshal(examples()[2])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
