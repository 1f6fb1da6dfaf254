package intake_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daylight-im/daylight/intake"
	"github.com/daylight-im/daylight/internal/testkit"
)

// TestDocsAgreementExampleParses keeps docs/intake.md's example valid.
func TestDocsAgreementExampleParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", "intake.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```json\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/intake.md has no json block")
	}
	a, err := intake.ParseAgreements([]byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Agreements) != 3 {
		t.Fatalf("%d agreements", len(a.Agreements))
	}
}
