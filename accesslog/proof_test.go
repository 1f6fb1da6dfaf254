package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

func proofFixture(t testing.TB) (*keys, *CheckpointPolicy, [][]byte, *Proof) {
	k := newKeys(t, 2)
	pol, err := NewCheckpointPolicy("", k.logVKey, k.wVKeys, 2)
	if err != nil {
		t.Fatal(err)
	}
	tree := testonly.New(rfc6962.DefaultHasher)
	var entries [][]byte
	for i := range 70 {
		e, _ := Marshal(&WarrantCommitment{Jurisdiction: "FR", Filed: uint64(i)})
		entries = append(entries, e)
		tree.AppendData(e)
	}
	incl, _ := tree.InclusionProof(42, 70)
	p := &Proof{Extra: []byte("case 7"), Index: 42, Inclusion: incl, Checkpoint: k.sign(t, 70, tree.HashAt(70), 0, 1)}
	return k, pol, entries, p
}

func TestTlogProofRoundTripAndVerify(t *testing.T) {
	_, pol, entries, p := proofFixture(t)
	raw := p.Marshal()
	if !bytes.HasPrefix(raw, []byte("c2sp.org/tlog-proof@v1\nextra ")) {
		t.Fatalf("%s", raw)
	}
	q, err := ParseProof(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Marshal(), raw) {
		t.Fatal("round trip differs")
	}
	if _, err := pol.VerifyProof(q, entries[42]); err != nil {
		t.Fatal(err)
	}
	if _, err := pol.VerifyProof(q, entries[41]); !errors.Is(err, ErrNotIncluded) {
		t.Fatalf("other entry: %v", err)
	}
	// T4: the same proof against a checkpoint with one cosignature is refused.
	under := *q
	under.Checkpoint = bytes.Join(bytes.SplitAfter(q.Checkpoint, []byte("\n"))[:6], nil) // 3 text lines, blank line, log sig, 1 of 2 cosigs
	if _, err := pol.VerifyProof(&under, entries[42]); !errors.Is(err, ErrNotEnoughCosignatures) {
		t.Fatalf("under-cosigned proof: %v", err)
	}
}

func TestParseProofRejectsMalformed(t *testing.T) {
	_, _, _, p := proofFixture(t)
	good := string(p.Marshal())
	for name, in := range map[string]string{
		"no header":      good[len("c2sp.org/tlog-proof@v1\n"):],
		"leading zero":   "c2sp.org/tlog-proof@v1\nindex 042\n\n" + string(p.Checkpoint),
		"bad hash":       "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + string(p.Checkpoint),
		"no blank line":  "c2sp.org/tlog-proof@v1\nindex 1\n",
		"no checkpoint":  "c2sp.org/tlog-proof@v1\nindex 1\n\n",
		"empty extra":    "c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n" + string(p.Checkpoint),
		"negative index": "c2sp.org/tlog-proof@v1\nindex -1\n\n" + string(p.Checkpoint),
	} {
		if _, err := ParseProof([]byte(in)); !errors.Is(err, ErrMalformedProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseProof(f *testing.F) {
	_, _, _, p := proofFixture(f)
	f.Add(p.Marshal())
	p.Extra = nil
	f.Add(p.Marshal())
	f.Add([]byte(fmt.Sprintf("c2sp.org/tlog-proof@v1\nindex 0\n\n%s", p.Checkpoint)))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseProof(b)
		if err != nil {
			return
		}
		if out := q.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("round trip differs:\n%q\n%q", b, out)
		}
	})
}
