// Package policytest builds signed access policies with fresh keys for tests
// of the lawful-access packages. Nothing here is for production use.
package policytest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"
	"golang.org/x/mod/sumdb/note"

	"github.com/daylight-im/daylight/policy"
)

// Fixture is a policy signed by all its parties, with every private key.
type Fixture struct {
	Signed     *policy.Signed
	Verified   *policy.Verified
	Provider   ed25519.PrivateKey
	Trustees   []ed25519.PrivateKey          // signing keys, in trustee order
	PeriodKeys []map[uint32][]byte           // X-Wing private seeds per trustee and period
	Courts     map[string]ed25519.PrivateKey // by court id
	LogSigner  string                        // signed-note signer key of the log
	Witnesses  []string                      // signed-note signer keys of the witnesses (cosignature/v1)
}

// Genesis is the fixture's key period genesis (2026-01-01T00:00:00Z).
const Genesis = 1767225600

// PeriodLength is the fixture's key period length (30 days).
const PeriodLength = 30 * 86400

// DefaultBudgets are generous budgets tests narrow as needed.
func DefaultBudgets() policy.Budgets {
	return policy.Budgets{
		RecordsPerWarrant:         100,
		RecordsPerJurisdiction30d: 1000,
		RecordsOverall30d:         5000,
		MaxTargets:                3,
		MaxWindow:                 90 * 86400,
		MaxEmbargo:                180 * 86400,
		Lookback:                  365 * 86400,
		EpochMaxAge:               86400,
		RetentionGrace:            7 * 86400,
	}
}

// Policy returns an unsigned policy with k of n trustees, key periods
// periods, courts "court-a" (jurisdiction "A") and "court-b" ("B"), and two
// witnesses with w = 1; mod (if not nil) may change it before signing.
func New(t testing.TB, k, n int, periods []uint32, mod func(*policy.Policy)) *Fixture {
	t.Helper()
	f := &Fixture{Courts: map[string]ed25519.PrivateKey{}}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.Provider = priv
	p := &policy.Policy{
		Name:     "daylight test policy",
		Provider: pub,
		K:        uint8(k),
		W:        1,
		Periods:  policy.KeyPeriods{Genesis: Genesis, Length: PeriodLength},
		Budgets:  DefaultBudgets(),
	}
	for i := 0; i < n; i++ {
		spub, spriv, _ := ed25519.GenerateKey(rand.Reader)
		f.Trustees = append(f.Trustees, spriv)
		tr := policy.Trustee{ID: fmt.Sprintf("trustee-%d", i), Jurisdiction: []string{"A", "B", "C"}[i%3], SigningKey: spub}
		keys := map[uint32][]byte{}
		for _, per := range periods {
			sk, pk, err := xwing.GenerateKeyPairPacked(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			keys[per] = sk
			tr.PeriodKeys = append(tr.PeriodKeys, policy.PeriodKey{Period: per, Key: pk})
		}
		f.PeriodKeys = append(f.PeriodKeys, keys)
		p.Trustees = append(p.Trustees, tr)
	}
	for _, c := range []struct{ id, j string }{{"court-a", "A"}, {"court-b", "B"}} {
		cpub, cpriv, _ := ed25519.GenerateKey(rand.Reader)
		f.Courts[c.id] = cpriv
		p.Courts = append(p.Courts, policy.Court{ID: c.id, Jurisdiction: c.j, Key: cpub})
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "log.daylight.test")
	if err != nil {
		t.Fatal(err)
	}
	f.LogSigner = skey
	p.Log = policy.LogKey{Origin: "log.daylight.test", VerifierKey: vkey}
	for i := 0; i < 2; i++ {
		name := fmt.Sprintf("witness-%d", i)
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		f.Witnesses = append(f.Witnesses, skey)
		p.Witnesses = append(p.Witnesses, policy.Witness{Name: name, VerifierKey: vkey})
	}
	if mod != nil {
		mod(p)
	}
	f.Resign(t, p)
	return f
}

// Resign encodes p, signs it with the provider and every trustee key the
// fixture has for p's trustees (by id), and verifies it.
func (f *Fixture) Resign(t testing.TB, p *policy.Policy) {
	t.Helper()
	body, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := &policy.Signed{Body: body, Signatures: []policy.Signature{policy.Sign(body, policy.ProviderSigner, f.Provider)}}
	for _, tr := range p.Trustees {
		var idx int
		if _, err := fmt.Sscanf(tr.ID, "trustee-%d", &idx); err != nil || idx >= len(f.Trustees) {
			t.Fatalf("policytest: no key for trustee %q", tr.ID)
		}
		s.Signatures = append(s.Signatures, policy.Sign(body, tr.ID, f.Trustees[idx]))
	}
	v, err := policy.Verify(s)
	if err != nil {
		t.Fatal(err)
	}
	f.Signed, f.Verified = s, v
}
