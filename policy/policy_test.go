package policy_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
)

func TestRoundTripAndID(t *testing.T) {
	f := policytest.New(t, 3, 5, []uint32{0, 1}, nil)
	p, err := policy.Parse(f.Signed.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.Marshal()
	if err != nil || !bytes.Equal(body, f.Signed.Body) {
		t.Fatalf("re-marshal differs: %v", err)
	}
	if policy.IDOf(body) != f.Verified.ID {
		t.Fatal("id differs")
	}
	enc, err := f.Signed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := policy.ParseSigned(enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Verify(s2); err != nil {
		t.Fatal(err)
	}
	params, err := f.Verified.EscrowParams(1)
	if err != nil || params.K != 3 || len(params.TrusteeKeys) != 5 {
		t.Fatalf("EscrowParams: %v", err)
	}
	if _, err := f.Verified.EscrowParams(2); !errors.Is(err, policy.ErrNoPeriod) {
		t.Fatalf("period without keys: %v", err)
	}
	if got := f.Verified.Period(policytest.Genesis + policytest.PeriodLength + 5); got != 1 {
		t.Fatalf("Period = %d", got)
	}
}

func TestNoEscrowIsValid(t *testing.T) {
	f := policytest.New(t, 0, 0, nil, func(p *policy.Policy) {
		p.NoEscrow = true
		p.Courts = nil
		p.W = 0
	})
	if !f.Verified.NoEscrow || len(f.Signed.Signatures) != 1 {
		t.Fatal("no-escrow policy should be signed by the provider alone")
	}
	if _, err := f.Verified.EscrowParams(0); !errors.Is(err, policy.ErrNoPeriod) {
		t.Fatal("no-escrow policy gave escrow params")
	}
}

func TestSignaturesAllRequired(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0}, nil)
	missing := &policy.Signed{Body: f.Signed.Body, Signatures: f.Signed.Signatures[:3]}
	if _, err := policy.Verify(missing); !errors.Is(err, policy.ErrSignatures) {
		t.Fatalf("missing trustee signature: %v", err)
	}
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	extra := &policy.Signed{Body: f.Signed.Body, Signatures: append(append([]policy.Signature{}, f.Signed.Signatures...), policy.Sign(f.Signed.Body, "mallory", stranger))}
	if _, err := policy.Verify(extra); !errors.Is(err, policy.ErrSignatures) {
		t.Fatalf("unknown signer: %v", err)
	}
	forged := &policy.Signed{Body: f.Signed.Body, Signatures: append([]policy.Signature{}, f.Signed.Signatures...)}
	forged.Signatures[2] = policy.Sign(f.Signed.Body, forged.Signatures[2].Signer, stranger)
	if _, err := policy.Verify(forged); !errors.Is(err, policy.ErrSignatures) {
		t.Fatalf("forged signature: %v", err)
	}
	dup := &policy.Signed{Body: f.Signed.Body, Signatures: append(append([]policy.Signature{}, f.Signed.Signatures...), f.Signed.Signatures[0])}
	if _, err := policy.Verify(dup); !errors.Is(err, policy.ErrSignatures) {
		t.Fatalf("duplicate signature: %v", err)
	}
	// A changed body invalidates every signature.
	p, _ := policy.Parse(f.Signed.Body)
	p.Budgets.RecordsOverall30d *= 10
	body, _ := p.Marshal()
	if _, err := policy.Verify(&policy.Signed{Body: body, Signatures: f.Signed.Signatures}); !errors.Is(err, policy.ErrSignatures) {
		t.Fatalf("body changed under signatures: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0, 1}, nil)
	for name, mod := range map[string]func(*policy.Policy){
		"k=0":           func(p *policy.Policy) { p.K = 0 },
		"k>n":           func(p *policy.Policy) { p.K = 4 },
		"w>witnesses":   func(p *policy.Policy) { p.W = 3 },
		"w=0":           func(p *policy.Policy) { p.W = 0 },
		"no courts":     func(p *policy.Policy) { p.Courts = nil },
		"dup trustee":   func(p *policy.Policy) { p.Trustees[1].ID = p.Trustees[0].ID },
		"reserved id":   func(p *policy.Policy) { p.Trustees[1].ID = "provider" },
		"periods order": func(p *policy.Policy) { p.Trustees[0].PeriodKeys[0].Period = 5 },
		"period sets":   func(p *policy.Policy) { p.Trustees[2].PeriodKeys = p.Trustees[2].PeriodKeys[:1] },
		"empty name":    func(p *policy.Policy) { p.Name = "" },
		"period len":    func(p *policy.Policy) { p.Periods.Length = 0 },
		"dup court":     func(p *policy.Policy) { p.Courts[1].ID = p.Courts[0].ID },
		"bad utf8":      func(p *policy.Policy) { p.Courts[0].Jurisdiction = "\xff" },
		"noescrow+k":    func(p *policy.Policy) { p.NoEscrow = true },
	} {
		p, _ := policy.Parse(f.Signed.Body)
		mod(p)
		if _, err := p.Marshal(); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseStrict(t *testing.T) {
	f := policytest.New(t, 1, 1, []uint32{0}, nil)
	body := f.Signed.Body
	for cut := 0; cut < len(body); cut++ {
		if _, err := policy.Parse(body[:cut]); err == nil {
			t.Fatalf("prefix %d parsed", cut)
		}
	}
	if _, err := policy.Parse(append(bytes.Clone(body), 0)); !errors.Is(err, policy.ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	bad := bytes.Clone(body)
	bad[1] = 9
	if _, err := policy.Parse(bad); !errors.Is(err, policy.ErrMalformed) {
		t.Fatal("unknown version accepted")
	}
}

// TestAttackT16_PolicySwappedQuietly: the provider swaps the group's policy
// for one with a weaker threshold, an extra court or a bigger budget, all
// properly signed. The client does not accept it silently: it refuses it when
// outside its limits and otherwise shows the changes and asks.
func TestAttackT16_PolicySwappedQuietly(t *testing.T) {
	f := policytest.New(t, 3, 5, []uint32{0, 1}, nil)
	lim := policy.Limits{AllowEscrow: true, MinK: 2, MinW: 1, MaxWindow: 90 * 86400, MaxLookback: 400 * 86400}
	accepted := map[policy.ID]bool{f.Verified.ID: true}
	if d, _, err := policy.Check(f.Verified, nil, accepted, lim); d != policy.Accept || err != nil {
		t.Fatalf("accepted policy: %v %v", d, err)
	}
	orig := f.Verified

	// 1. k lowered below the client's minimum: refused.
	p, _ := policy.Parse(orig.Body)
	p.K = 1
	f.Resign(t, p)
	if d, _, err := policy.Check(f.Verified, orig, accepted, lim); d != policy.Refuse || err == nil {
		t.Fatalf("k=1: %v %v", d, err)
	}
	// 2. A new court, within limits: asked, with the change shown.
	p, _ = policy.Parse(orig.Body)
	cpub, _, _ := ed25519.GenerateKey(rand.Reader)
	p.Courts = append(p.Courts, policy.Court{ID: "court-x", Jurisdiction: "X", Key: cpub})
	f.Resign(t, p)
	d, changes, err := policy.Check(f.Verified, orig, accepted, lim)
	if d != policy.Ask || err != nil || len(changes) != 1 || changes[0].Field != "courts[court-x]" || !changes[0].Material {
		t.Fatalf("new court: %v %v %v", d, changes, err)
	}
	// 3. A budget raised: asked.
	p, _ = policy.Parse(orig.Body)
	p.Budgets.RecordsOverall30d = 1_000_000
	f.Resign(t, p)
	d, changes, _ = policy.Check(f.Verified, orig, accepted, lim)
	if d != policy.Ask || len(changes) != 1 || !strings.Contains(changes[0].String(), "records_overall_30d: 5000 -> 1000000") {
		t.Fatalf("budget raised: %v %v", d, changes)
	}
	// 4. Window beyond the client's maximum: refused.
	p, _ = policy.Parse(orig.Body)
	p.Budgets.MaxWindow = 365 * 86400
	f.Resign(t, p)
	if d, _, _ := policy.Check(f.Verified, orig, accepted, lim); d != policy.Refuse {
		t.Fatalf("window too long: %v", d)
	}
	// 5. A replaced key for the current period is material; a routine rollover
	// (keys for a new future period, old period dropped) is accepted.
	p, _ = policy.Parse(orig.Body)
	p.Trustees[2].PeriodKeys[1].Key = p.Trustees[3].PeriodKeys[1].Key
	f.Resign(t, p)
	if d, _, _ := policy.Check(f.Verified, orig, accepted, lim); d != policy.Ask {
		t.Fatalf("swapped period key: %v", d)
	}
	p, _ = policy.Parse(orig.Body)
	for i := range p.Trustees {
		p.Trustees[i].PeriodKeys = append(p.Trustees[i].PeriodKeys[1:], policy.PeriodKey{Period: 2, Key: p.Trustees[i].PeriodKeys[0].Key})
	}
	f.Resign(t, p)
	d, changes, _ = policy.Check(f.Verified, orig, accepted, lim)
	if d != policy.Accept || len(changes) != 10 {
		t.Fatalf("key rollover: %v %v", d, changes)
	}
	// 6. A no-escrow policy swapped in when the client does not allow it.
	nf := policytest.New(t, 0, 0, nil, func(p *policy.Policy) { p.NoEscrow, p.Courts, p.W = true, nil, 0 })
	if d, _, _ := policy.Check(nf.Verified, orig, accepted, lim); d != policy.Refuse {
		t.Fatalf("no escrow: %v", d)
	}
}

func FuzzParse(f *testing.F) {
	fx := policytest.New(f, 2, 3, []uint32{0, 1}, nil)
	f.Add(fx.Signed.Body)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(data)
		if err != nil {
			return
		}
		b, err := p.Marshal()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}

func FuzzParseSigned(f *testing.F) {
	fx := policytest.New(f, 1, 2, []uint32{0}, nil)
	enc, _ := fx.Signed.Marshal()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := policy.ParseSigned(data)
		if err != nil {
			return
		}
		b, err := s.Marshal()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}

func TestLogEntry(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0}, nil)
	e, err := policy.LogEntry(f.Signed, 123)
	if err != nil {
		t.Fatal(err)
	}
	b, err := accesslog.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := accesslog.ParseAs[*accesslog.Policy](b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := policy.ParseSigned(got.SignedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	v, err := policy.Verify(s)
	if err != nil || v.ID != got.PolicyID || policy.ID(got.PolicyID) != f.Verified.ID {
		t.Fatalf("logged policy: %v", err)
	}
	bad := &policy.Signed{Body: f.Signed.Body, Signatures: f.Signed.Signatures[1:]}
	if _, err := policy.LogEntry(bad, 1); err == nil {
		t.Fatal("unsigned policy logged")
	}
}
