// Package intaketest builds agreements, authority keys and an in-memory log
// for tests of the intake. Nothing here is for production use.
package intaketest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/intake"
)

// Fixture is a set of agreements with the authorities' private keys.
type Fixture struct {
	Agreements *intake.Agreements
	Keys       map[string]ed25519.PrivateKey // by "<agreement>/<authority>"
	Provider   ed25519.PrivateKey
}

func key(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// New returns agreements for a provider in "US":
//   - "uk-daa": UK, cloud-act-daa, authority "uk-nca"; subscriber, metadata,
//     content; protects US persons; offences serious-crime list; max 2
//     targets; requires "judicial" review; answer within 10 days.
//   - "fr-mlat": FR, mlat, authority "fr-pnf"; subscriber only; max 5.
//   - "us-domestic": US, domestic-warrant, authority "us-court"; every category.
func New(t testing.TB) *Fixture {
	f := &Fixture{Keys: map[string]ed25519.PrivateKey{}}
	_, f.Provider = key(t)
	auth := func(ag, id string) intake.Authority {
		pub, priv := key(t)
		f.Keys[ag+"/"+id] = priv
		return intake.Authority{ID: id, Key: intake.Key(pub)}
	}
	f.Agreements = &intake.Agreements{Version: intake.FormatVersion, Provider: "US", Agreements: []intake.Agreement{
		{ID: "uk-daa", Jurisdiction: "UK", Instrument: intake.CloudActDAA, Authorities: []intake.Authority{auth("uk-daa", "uk-nca")},
			Categories: []intake.Category{intake.Subscriber, intake.Metadata, intake.Content}, ProtectedNationalities: []string{"US"},
			Offences: []string{"terrorism", "child-sexual-abuse", "serious-organised-crime"}, MaxTargets: 2, RequiredReview: "judicial", AnswerWithin: 10 * 86400},
		{ID: "fr-mlat", Jurisdiction: "FR", Instrument: intake.MLAT, Authorities: []intake.Authority{auth("fr-mlat", "fr-pnf")},
			Categories: []intake.Category{intake.Subscriber}, MaxTargets: 5, AnswerWithin: 30 * 86400},
		{ID: "us-domestic", Jurisdiction: "US", Instrument: intake.DomesticWarrant, Authorities: []intake.Authority{auth("us-domestic", "us-court")},
			Categories: []intake.Category{intake.Subscriber, intake.Metadata, intake.Content}, MaxTargets: 10, AnswerWithin: 7 * 86400},
	}}
	if err := f.Agreements.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// Valid returns a request that passes agreement "uk-daa" at time now.
func Valid(now uint64, nonce string) *intake.Request {
	return &intake.Request{Version: intake.FormatVersion, Agreement: "uk-daa", Authority: "uk-nca", Category: intake.Subscriber,
		Targets: []intake.Target{{Account: "mallory", Nationality: "UK", Location: "UK"}}, Offence: "terrorism", Case: "NCA-2026-001",
		Review: &intake.Review{Kind: "judicial", Body: "Westminster Magistrates' Court", Reference: "WMC/2026/17", Time: now - 86400},
		Issued: now - 3600, AnswerBy: now + 10*86400, Nonce: nonce}
}

// Sign signs r with the fixture key of its agreement and authority.
func (f *Fixture) Sign(t testing.TB, r *intake.Request) []byte {
	t.Helper()
	k := f.Keys[r.Agreement+"/"+r.Authority]
	if k == nil {
		_, k = key(t) // an authority the fixture does not know: any key
	}
	s, err := intake.Sign(r, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MemLog is an in-memory intake.Log that keeps the entries appended.
type MemLog struct {
	mu      sync.Mutex
	Entries []accesslog.Entry
	Fail    error // if set, Append fails with it
}

// Append implements intake.Log.
func (l *MemLog) Append(_ context.Context, e accesslog.Entry) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Fail != nil {
		return 0, l.Fail
	}
	if _, err := accesslog.Marshal(e); err != nil {
		return 0, err
	}
	l.Entries = append(l.Entries, e)
	return uint64(len(l.Entries) - 1), nil
}

// Len returns the number of entries.
func (l *MemLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.Entries)
}

// Holdings is a fixed intake.Holdings.
type Holdings map[string]intake.AccountData

// Account implements intake.Holdings.
func (h Holdings) Account(_ context.Context, u string) (intake.AccountData, error) {
	a, ok := h[u]
	if !ok {
		return intake.AccountData{Account: u}, nil
	}
	return a, nil
}
