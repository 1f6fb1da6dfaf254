package accesslog_test

import (
	"fmt"

	"github.com/daylight-im/daylight/accesslog"
)

func ExampleParse() {
	b, _ := accesslog.Marshal(&accesslog.Evidence{Kind: accesslog.EvidenceBundle, Jurisdiction: "DE", Time: 1764000000, Ref: "case-17"})
	e, _ := accesslog.Parse(b)
	fmt.Printf("%s %s %q\n", e.Type(), accesslog.Jurisdiction(e), b[:6])

	_, err := accesslog.Parse(b[:len(b)-1])
	fmt.Println(err)
	// Output:
	// Evidence DE "DLAL\x01\x05"
	// accesslog: Evidence.Ref: truncated
}
