package prefix

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func lbl(i uint64) [Size]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return sha256.Sum256(b[:])
}

func val(i, v uint64) [Size]byte {
	return sha256.Sum256(fmt.Appendf(nil, "value %d %d", i, v))
}

// TestInsertMatchesMapAndProofsVerify inserts in random batches, replacing
// values too, and checks every label's proof against the model map, plus
// absence proofs for labels never inserted.
func TestInsertMatchesMapAndProofsVerify(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[[Size]byte][Size]byte{}
	tr := &Tree{}
	for round := range 40 {
		var batch []Entry
		seen := map[[Size]byte]bool{}
		for range rng.IntN(20) + 1 {
			l := lbl(rng.Uint64N(300))
			if seen[l] {
				continue
			}
			seen[l] = true
			v := val(uint64(round), rng.Uint64())
			batch = append(batch, Entry{l, v})
			model[l] = v
		}
		old := tr
		oldRoot := old.Root()
		var err error
		if tr, err = tr.Insert(batch); err != nil {
			t.Fatal(err)
		}
		if old.Root() != oldRoot {
			t.Fatal("Insert changed the old tree")
		}
		if tr.Len() != len(model) {
			t.Fatalf("round %d: Len %d, want %d", round, tr.Len(), len(model))
		}
	}
	root := tr.Root()
	for l, v := range model {
		got, ok := tr.Get(l)
		if !ok || got != v {
			t.Fatalf("Get(%x) = %x, %v", l[:4], got[:4], ok)
		}
		p := tr.Prove(l)
		if err := Verify(root, l, &v, p); err != nil {
			t.Fatalf("membership proof: %v", err)
		}
		if err := Verify(root, l, nil, p); err == nil {
			t.Fatal("membership proof accepted as absence")
		}
		w := v
		w[0] ^= 1
		if err := Verify(root, l, &w, p); !errors.Is(err, ErrRootMismatch) {
			t.Fatalf("wrong value accepted: %v", err)
		}
	}
	for i := uint64(1000); i < 1100; i++ {
		l := lbl(i)
		p := tr.Prove(l)
		if err := Verify(root, l, nil, p); err != nil {
			t.Fatalf("absence proof: %v", err)
		}
		v := val(0, 0)
		if err := Verify(root, l, &v, p); err == nil {
			t.Fatal("absence proof accepted as membership")
		}
	}
}

// TestRootIsCanonical: the root depends only on the map, not on the order or
// batching of inserts.
func TestRootIsCanonical(t *testing.T) {
	var all []Entry
	for i := range uint64(500) {
		all = append(all, Entry{lbl(i), val(i, 0)})
	}
	one, _ := (&Tree{}).Insert(all)
	inc := &Tree{}
	rng := rand.New(rand.NewPCG(3, 4))
	perm := rng.Perm(len(all))
	for i := 0; i < len(perm); {
		n := min(rng.IntN(7)+1, len(perm)-i)
		var b []Entry
		for _, j := range perm[i : i+n] {
			b = append(b, all[j])
		}
		inc, _ = inc.Insert(b)
		i += n
	}
	if one.Root() != inc.Root() {
		t.Fatal("root depends on insertion order")
	}
}

func TestEmptyTree(t *testing.T) {
	tr := &Tree{}
	p := tr.Prove(lbl(1))
	if err := Verify(EmptyRoot(), lbl(1), nil, p); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Insert([]Entry{{lbl(1), val(1, 1)}, {lbl(1), val(1, 2)}}); !errors.Is(err, ErrDuplicateLabel) {
		t.Fatalf("duplicate batch: %v", err)
	}
}

// TestAttackPrefixEquivocation: a prover cannot make one root show two values
// (or a value and absence) for a label by reordering or inventing steps.
func TestAttackPrefixEquivocation(t *testing.T) {
	var all []Entry
	for i := range uint64(64) {
		all = append(all, Entry{lbl(i), val(i, 0)})
	}
	tr, _ := (&Tree{}).Insert(all)
	root := tr.Root()
	l := lbl(7)
	good := tr.Prove(l)
	// Claim a different depth for the first step: the node hash binds depth.
	bad := *good
	bad.Steps = append([]Step(nil), good.Steps...)
	bad.Steps[0].Depth++
	v := val(7, 0)
	if err := Verify(root, l, &v, &bad); err == nil {
		t.Fatal("altered depth accepted")
	}
	// Drop a step.
	bad.Steps = good.Steps[1:]
	if err := Verify(root, l, &v, &bad); err == nil {
		t.Fatal("shortened proof accepted")
	}
	// Claim absence by ending at another leaf with a sibling's hash.
	other := tr.Prove(lbl(8))
	abs := &Proof{Steps: good.Steps, Terminal: TerminalOther, Other: Entry{lbl(8), val(8, 0)}}
	if err := Verify(root, l, nil, abs); err == nil {
		t.Fatal("forged absence accepted")
	}
	_ = other
}

func TestProofRoundTrip(t *testing.T) {
	var all []Entry
	for i := range uint64(100) {
		all = append(all, Entry{lbl(i), val(i, 0)})
	}
	tr, _ := (&Tree{}).Insert(all)
	for i := range uint64(200) {
		p := tr.Prove(lbl(i))
		enc := p.Marshal()
		q, err := ParseProof(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(q.Marshal(), enc) {
			t.Fatal("round trip differs")
		}
		for n := range len(enc) {
			if _, err := ParseProof(enc[:n]); err == nil {
				t.Fatalf("prefix of %d bytes parsed", n)
			}
		}
		if _, err := ParseProof(append(enc, 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

func FuzzParseProof(f *testing.F) {
	var all []Entry
	for i := range uint64(30) {
		all = append(all, Entry{lbl(i), val(i, 0)})
	}
	tr, _ := (&Tree{}).Insert(all)
	f.Add(tr.Prove(lbl(3)).Marshal())
	f.Add(tr.Prove(lbl(99)).Marshal())
	f.Add((&Tree{}).Prove(lbl(1)).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProof(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), data) {
			t.Fatalf("re-marshal differs")
		}
		_ = Verify(tr.Root(), lbl(3), nil, p)
	})
}
