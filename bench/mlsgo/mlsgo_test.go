package mlsgo

import (
	"testing"

	"github.com/daylight-im/daylight/bench/harness"
)

func TestScenarios(t *testing.T) { harness.CheckScenarios(t, Engine{}) }

func BenchmarkWorstCreate(b *testing.B)          { harness.BenchWorstCreate(b, Engine{}) }
func BenchmarkWorstProcess(b *testing.B)         { harness.BenchWorstProcess(b, Engine{}) }
func BenchmarkProtectUnprotect1KiB(b *testing.B) { harness.BenchProtectUnprotect1KiB(b, Engine{}) }
