package warrant_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/kem/xwing"

	"github.com/daylight-im/daylight/policy"
	"github.com/daylight-im/daylight/policy/policytest"
	"github.com/daylight-im/daylight/warrant"
)

const day = 86400

var now = uint64(policytest.Genesis + 40*day)

func sample(pol *policy.Verified) *warrant.Warrant {
	_, kem, _ := xwing.GenerateKeyPairPacked(rand.Reader)
	sig, _, _ := ed25519.GenerateKey(rand.Reader)
	return &warrant.Warrant{
		Authority: "federal-police", AuthorityKEMKey: kem, AuthoritySigningKey: sig,
		PolicyID: pol.ID, Court: "court-a", Jurisdiction: "A", CaseNumber: "2026-CR-0042",
		LegalBasis: "Criminal Procedure Code s. 100a", Targets: []string{"alice"},
		WindowStart: now - 10*day, WindowEnd: now + 20*day, EmbargoEnd: now + 120*day,
		Issued: now - day, Expiry: now + 30*day,
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0, 1}, nil)
	s, err := warrant.Sign(sample(f.Verified), f.Courts["court-a"])
	if err != nil {
		t.Fatal(err)
	}
	s2, err := warrant.ParseSigned(s.Marshal())
	if err != nil || !bytes.Equal(s2.Marshal(), s.Marshal()) {
		t.Fatalf("signed round trip: %v", err)
	}
	v, err := warrant.Verify(s2, f.Verified, now)
	if err != nil {
		t.Fatal(err)
	}
	var salt [32]byte
	rand.Read(salt[:])
	m := v.PublicMetadata(salt, now)
	if m.NumTargets != 1 || m.Court != "court-a" || m.Commitment != warrant.Commitment(s, salt) {
		t.Fatalf("metadata %+v", m)
	}
	if err := v.Matches(m, salt); err != nil {
		t.Fatal(err)
	}
	var other [32]byte
	if err := v.Matches(m, other); err == nil {
		t.Fatal("metadata matched under the wrong salt")
	}
	m.WindowEnd++
	if err := v.Matches(m, salt); err == nil {
		t.Fatal("metadata with a changed window matched")
	}
	if warrant.Commitment(s, salt) == warrant.Commitment(s, other) {
		t.Fatal("commitment ignores the salt")
	}
}

// TestAttackT5_WarrantNotFromAPolicyCourt: warrants signed by a key that is
// not a court of the policy, naming an unknown court, forged after signing,
// expired, or not yet valid are all refused.
func TestAttackT5_WarrantNotFromAPolicyCourt(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0, 1}, nil)
	_, rogue, _ := ed25519.GenerateKey(rand.Reader)

	s, _ := warrant.Sign(sample(f.Verified), rogue) // right court name, wrong key
	if _, err := warrant.Verify(s, f.Verified, now); !errors.Is(err, warrant.ErrSignature) {
		t.Fatalf("rogue key: %v", err)
	}
	w := sample(f.Verified)
	w.Court = "court-of-mallory"
	s, _ = warrant.Sign(w, rogue)
	if _, err := warrant.Verify(s, f.Verified, now); !errors.Is(err, warrant.ErrUnknownCourt) {
		t.Fatalf("unknown court: %v", err)
	}
	s, _ = warrant.Sign(sample(f.Verified), f.Courts["court-a"])
	tampered := sample(f.Verified)
	tampered.Targets = []string{"alice", "bob"}
	s.Body, _ = tampered.Marshal()
	if _, err := warrant.Verify(s, f.Verified, now); !errors.Is(err, warrant.ErrSignature) {
		t.Fatalf("altered body: %v", err)
	}
	// Court B's key signing a warrant in court A's name.
	s, _ = warrant.Sign(sample(f.Verified), f.Courts["court-b"])
	if _, err := warrant.Verify(s, f.Verified, now); !errors.Is(err, warrant.ErrSignature) {
		t.Fatalf("other court's key: %v", err)
	}
	s, _ = warrant.Sign(sample(f.Verified), f.Courts["court-a"])
	if _, err := warrant.Verify(s, f.Verified, now+31*day); !errors.Is(err, warrant.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := warrant.Verify(s, f.Verified, now-2*day); !errors.Is(err, warrant.ErrNotYetValid) {
		t.Fatalf("not yet valid: %v", err)
	}
	// A warrant under another policy.
	g := policytest.New(t, 2, 3, []uint32{0}, nil)
	if _, err := warrant.Verify(s, g.Verified, now); !errors.Is(err, warrant.ErrPolicy) {
		t.Fatalf("other policy: %v", err)
	}
}

func TestBounds(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0}, nil)
	for name, mod := range map[string]func(*warrant.Warrant){
		"too many targets": func(w *warrant.Warrant) { w.Targets = []string{"a", "b", "c", "d"} },
		"window too long":  func(w *warrant.Warrant) { w.WindowEnd = w.WindowStart + 91*day },
		"embargo too long": func(w *warrant.Warrant) { w.EmbargoEnd = w.Issued + 181*day },
	} {
		w := sample(f.Verified)
		mod(w)
		s, err := warrant.Sign(w, f.Courts["court-a"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := warrant.Verify(s, f.Verified, now); !errors.Is(err, warrant.ErrBudget) {
			t.Errorf("%s: %v", name, err)
		}
	}
	w := sample(f.Verified)
	w.Jurisdiction = "B"
	s, _ := warrant.Sign(w, f.Courts["court-a"])
	if _, err := warrant.Verify(s, f.Verified, now); !errors.Is(err, warrant.ErrInvalid) {
		t.Errorf("wrong jurisdiction: %v", err)
	}
	for name, mod := range map[string]func(*warrant.Warrant){
		"no targets":   func(w *warrant.Warrant) { w.Targets = nil },
		"dup target":   func(w *warrant.Warrant) { w.Targets = []string{"a", "a"} },
		"empty window": func(w *warrant.Warrant) { w.WindowEnd = w.WindowStart },
		"no authority": func(w *warrant.Warrant) { w.AuthorityKEMKey = nil },
		"no case":      func(w *warrant.Warrant) { w.CaseNumber = "" },
	} {
		w := sample(f.Verified)
		mod(w)
		if _, err := warrant.Sign(w, f.Courts["court-a"]); !errors.Is(err, warrant.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseStrict(t *testing.T) {
	f := policytest.New(t, 1, 1, []uint32{0}, nil)
	body, _ := sample(f.Verified).Marshal()
	for cut := 0; cut < len(body); cut++ {
		if _, err := warrant.Parse(body[:cut]); err == nil {
			t.Fatalf("prefix %d parsed", cut)
		}
	}
	if _, err := warrant.Parse(append(bytes.Clone(body), 1)); !errors.Is(err, warrant.ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
}

// TestAttackT15_OpeningFoundByTrialDecryption: the provider does not push the
// notice; the target's client scans every opening entry in the log and finds
// exactly its own by trial decryption; other accounts find nothing; the
// entries do not name anyone in clear.
func TestAttackT15_OpeningFoundByTrialDecryption(t *testing.T) {
	f := policytest.New(t, 2, 3, []uint32{0}, nil)
	w := sample(f.Verified)
	w.Targets = []string{"alice", "bob"}
	s, _ := warrant.Sign(w, f.Courts["court-a"])
	v, err := warrant.Verify(s, f.Verified, now)
	if err != nil {
		t.Fatal(err)
	}
	var salt [32]byte
	keys := map[string][2][]byte{}
	for _, acct := range []string{"alice", "bob", "carol"} {
		sk, pk, _ := xwing.GenerateKeyPairPacked(rand.Reader)
		keys[acct] = [2][]byte{sk, pk}
	}
	var log [][]byte // opening entries, mixed with others' openings
	for i := 0; i < 5; i++ {
		_, pk, _ := xwing.GenerateKeyPairPacked(rand.Reader)
		o, _ := v.OpeningFor("alice", salt, 1, now)
		o.Target = fmt.Sprintf("someone-%d", i)
		e, _ := warrant.SealOpening(pk, o)
		log = append(log, e)
	}
	for _, acct := range []string{"alice", "bob"} {
		o, _ := v.OpeningFor(acct, salt, 7, w.EmbargoEnd)
		e, err := warrant.SealOpening(keys[acct][1], o)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(e, []byte(acct)) || bytes.Contains(e, []byte("2026-CR")) {
			t.Fatal("opening entry leaks its content")
		}
		log = append(log, e)
	}
	scan := func(acct string) []*warrant.Opening {
		var found []*warrant.Opening
		for _, e := range log {
			o, err := warrant.TryOpen(keys[acct][0], acct, e)
			if err == nil {
				found = append(found, o)
			} else if !errors.Is(err, warrant.ErrNotForMe) {
				t.Fatalf("scan: %v", err)
			}
		}
		return found
	}
	a := scan("alice")
	if len(a) != 1 || a[0].Court != "court-a" || a[0].WindowStart != w.WindowStart || a[0].Records != 7 || a[0].WarrantCommitment != warrant.Commitment(s, salt) {
		t.Fatalf("alice found %+v", a)
	}
	if len(scan("bob")) != 1 || len(scan("carol")) != 0 {
		t.Fatal("bob should find one opening, carol none")
	}
	if _, err := v.OpeningFor("carol", salt, 0, now); err == nil {
		t.Fatal("opening for a non-target")
	}
}

func FuzzParse(f *testing.F) {
	pf := policytest.New(f, 1, 1, []uint32{0}, nil)
	body, _ := sample(pf.Verified).Marshal()
	f.Add(body)
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := warrant.Parse(data)
		if err != nil {
			return
		}
		b, err := w.Marshal()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}

func FuzzParseSigned(f *testing.F) {
	pf := policytest.New(f, 1, 1, []uint32{0}, nil)
	s, _ := warrant.Sign(sample(pf.Verified), pf.Courts["court-a"])
	f.Add(s.Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := warrant.ParseSigned(data)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), data) {
			t.Fatal("re-marshal differs")
		}
	})
}

func FuzzParseOpening(f *testing.F) {
	pf := policytest.New(f, 1, 1, []uint32{0}, nil)
	s, _ := warrant.Sign(sample(pf.Verified), pf.Courts["court-a"])
	v, _ := warrant.Verify(s, pf.Verified, now)
	o, _ := v.OpeningFor("alice", [32]byte{}, 3, now)
	b, _ := o.Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := warrant.ParseOpening(data)
		if err != nil {
			return
		}
		b, err := o.Marshal()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}
