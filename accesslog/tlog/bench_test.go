package tlog

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAppendBatched appends entries from many concurrent callers (as
// daylightd's request handlers would), each Append returning only once its
// entry is durably integrated; batches of up to 1024 entries or 50 ms share
// one round of fsyncs. Reports entries/s.
func BenchmarkAppendBatched(b *testing.B) {
	ctx := context.Background()
	l, err := Open(ctx, Config{Dir: b.TempDir(), Origin: testOrigin, BatchMaxSize: 1024, BatchMaxAge: 50 * time.Millisecond, CheckpointInterval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer() // Close waits for the next checkpoint; not part of appending
		l.Close(ctx)
	}()
	e := sampleEntry(1)
	b.SetParallelism(512) // 512 × GOMAXPROCS concurrent appenders
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}
