package epochproof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/daylight-im/daylight/trustee"
)

type fixture struct {
	keys  map[string][]ed25519.PrivateKey // account -> device keys
	gid   []byte
	start *trustee.CommitStatement
	end   *trustee.CommitStatement
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{keys: map[string][]ed25519.PrivateKey{}, gid: []byte("group-1")}
	for _, a := range []string{"alice", "alice", "bob", "carol"} {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[a] = append(f.keys[a], k)
	}
	f.start = &trustee.CommitStatement{GroupID: f.gid, Epoch: 7, Time: 1000, Members: []string{"alice", "bob"}, Committer: "alice"}
	f.start.Sign(f.keys["alice"][1]) // alice's second device
	f.end = &trustee.CommitStatement{GroupID: f.gid, Epoch: 8, Time: 5000, Members: []string{"alice", "bob", "carol"}, Committer: "bob"}
	f.end.Sign(f.keys["bob"][0])
	return f
}

func (f *fixture) verifier() Verifier {
	return Verifier{DeviceKeys: func(a string) []ed25519.PublicKey {
		var out []ed25519.PublicKey
		for _, k := range f.keys[a] {
			out = append(out, k.Public().(ed25519.PublicKey))
		}
		return out
	}}
}

func TestVerifyEpoch(t *testing.T) {
	f := newFixture(t)
	v := f.verifier()
	span, err := v.VerifyEpoch(f.gid, 7, trustee.EncodeEpochEvidence(f.start, f.end))
	if err != nil {
		t.Fatal(err)
	}
	if span.Start != 1000 || span.End != 5000 || len(span.Members) != 2 || span.Epoch != 7 {
		t.Fatalf("span %+v", span)
	}
	span, err = v.VerifyEpoch(f.gid, 7, trustee.EncodeEpochEvidence(f.start, nil))
	if err != nil || span.End != 0 {
		t.Fatalf("open epoch: %+v, %v", span, err)
	}
	if !span.Overlaps(999, 1001) || span.Overlaps(0, 1000) {
		t.Fatal("open epoch overlaps wrongly")
	}
}

// TestAttackT11_ProviderRewritesEpochStatements: every way a provider could
// move an epoch's times or members without the members' keys is refused.
func TestAttackT11_ProviderRewritesEpochStatements(t *testing.T) {
	_, provider, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name  string
		group []byte
		epoch uint64
		mod   func(f *fixture) []byte
	}{
		{"start time moved", nil, 7, func(f *fixture) []byte {
			f.start.Time = 10
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"end time moved", nil, 7, func(f *fixture) []byte {
			f.end.Time = 99999
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"member added", nil, 7, func(f *fixture) []byte {
			f.start.Members = []string{"alice", "bob", "eve"}
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"re-signed by the provider", nil, 7, func(f *fixture) []byte {
			f.start.Time = 10
			f.start.Sign(provider)
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"signed by another account's device", nil, 7, func(f *fixture) []byte {
			f.start.Sign(f.keys["bob"][0])
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"committer outside the group", nil, 7, func(f *fixture) []byte {
			f.start.Committer = "carol"
			f.start.Sign(f.keys["carol"][0])
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"ending committer was not a member", nil, 7, func(f *fixture) []byte {
			f.end.Committer = "carol"
			f.end.Sign(f.keys["carol"][0])
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"end before start", nil, 7, func(f *fixture) []byte {
			f.end.Time = 999
			f.end.Sign(f.keys["bob"][0])
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"end skips an epoch", nil, 7, func(f *fixture) []byte {
			f.end.Epoch = 9
			f.end.Sign(f.keys["bob"][0])
			return trustee.EncodeEpochEvidence(f.start, f.end)
		}},
		{"asked for another epoch", nil, 8, func(f *fixture) []byte { return trustee.EncodeEpochEvidence(f.start, f.end) }},
		{"asked for another group", []byte("group-2"), 7, func(f *fixture) []byte { return trustee.EncodeEpochEvidence(f.start, f.end) }},
		{"trailing byte", nil, 7, func(f *fixture) []byte { return append(trustee.EncodeEpochEvidence(f.start, f.end), 0) }},
		{"three statements", nil, 7, func(f *fixture) []byte {
			ev := trustee.EncodeEpochEvidence(f.start, f.end)
			return append(ev, trustee.EncodeEpochEvidence(f.end, nil)...)
		}},
		{"empty", nil, 7, func(f *fixture) []byte { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			gid := f.gid
			if tc.group != nil {
				gid = tc.group
			}
			ev := tc.mod(f)
			if _, err := f.verifier().VerifyEpoch(gid, tc.epoch, ev); !errors.Is(err, trustee.ErrEpochEvidence) {
				t.Fatalf("got %v, want ErrEpochEvidence", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	fx := newFixture(f)
	f.Add(trustee.EncodeEpochEvidence(fx.start, fx.end))
	f.Add(trustee.EncodeEpochEvidence(fx.start, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		stmts, err := Parse(data)
		if err != nil {
			return
		}
		var end *trustee.CommitStatement
		if len(stmts) == 2 {
			end = stmts[1]
		}
		if got := trustee.EncodeEpochEvidence(stmts[0], end); !bytes.Equal(got, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", got, data)
		}
	})
}

func BenchmarkVerifyEpoch(b *testing.B) {
	f := newFixture(b)
	v := f.verifier()
	ev := trustee.EncodeEpochEvidence(f.start, f.end)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyEpoch(f.gid, 7, ev); err != nil {
			b.Fatal(err)
		}
	}
}
