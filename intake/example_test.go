package intake_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/intake/intaketest"
)

// An authority signs a request; the intake checks it against its agreement
// and logs every state change.
func ExampleService_Submit() {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ags := &intake.Agreements{Version: 1, Provider: "US", Agreements: []intake.Agreement{{
		ID: "fr-mlat", Jurisdiction: "FR", Instrument: intake.MLAT, Authorities: []intake.Authority{{ID: "fr-pnf", Key: intake.Key(pub)}},
		Categories: []intake.Category{intake.Subscriber}, MaxTargets: 5, AnswerWithin: 30 * 86400}}}
	log := &intaketest.MemLog{}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	svc, _ := intake.New(intake.Config{Agreements: ags, Store: intake.NewMemStore(), Log: log, Now: func() time.Time { return now }})

	for _, cat := range []intake.Category{intake.Subscriber, intake.Content} {
		s, _ := intake.Sign(&intake.Request{Version: 1, Agreement: "fr-mlat", Authority: "fr-pnf", Category: cat,
			Targets: []intake.Target{{Account: "mallory"}}, Issued: uint64(now.Unix()), AnswerBy: uint64(now.Unix()) + 86400, Nonce: string(cat)}, priv)
		data, _ := s.Marshal()
		rec, _ := svc.Submit(context.Background(), data)
		fmt.Printf("%s %s reason=%q\n", cat, rec.State, rec.Reason)
	}
	fmt.Println("log entries:", log.Len())
	// Output:
	// subscriber logged reason=""
	// content refused reason="forbidden-category"
	// log entries: 5
}
