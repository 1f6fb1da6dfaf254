package report_test

import (
	"fmt"

	"github.com/daylight-im/daylight/accesslog"
	"github.com/daylight-im/daylight/report"
)

// Compute is a pure function of the log's entries: here a request received
// on 1 March and fulfilled two hours later.
func ExampleCompute() {
	var es []report.Entry
	for i, e := range []accesslog.Entry{
		&accesslog.Request{RequestID: [32]byte{1}, Jurisdiction: "UK", Instrument: "cloud-act-daa", Category: "subscriber", State: "received", Time: 1772323200},
		&accesslog.Request{RequestID: [32]byte{1}, Jurisdiction: "UK", Instrument: "cloud-act-daa", Category: "subscriber", State: "fulfilled", Time: 1772323200 + 7200},
	} {
		b, _ := accesslog.Marshal(e)
		es = append(es, report.Entry{Index: uint64(i), Data: b})
	}
	r := report.Compute("daylight.example/log", es)
	for _, id := range []string{"requests.jurisdiction.UK", "requests.month.2026-03", "requests.outcome.fulfilled", "timing.median"} {
		f, _ := r.Figure(id)
		fmt.Println(f.ID, f.Value, f.Unit, f.Entries)
	}
	// Output:
	// requests.jurisdiction.UK 1 requests [0]
	// requests.month.2026-03 1 requests [0]
	// requests.outcome.fulfilled 1 requests [1]
	// timing.median 7200 seconds [0 1]
}
