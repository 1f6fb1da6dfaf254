package server

import (
	"sync"
	"time"
)

// Rate is a token-bucket limit: Rate events per second on average, bursts of
// up to Burst. A zero Rate disables the limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter holds one token bucket per key (an IP address or an account).
type limiter struct {
	rate Rate
	now  func() time.Time
	mu   sync.Mutex
	m    map[string]*bucket
}

func newLimiter(r Rate, now func() time.Time) *limiter {
	return &limiter{rate: r, now: now, m: make(map[string]*bucket)}
}

// maxBuckets bounds the map; idle buckets (full again) are swept beyond it.
const maxBuckets = 100_000

// allow takes one token for key and reports whether it had one.
func (l *limiter) allow(key string) bool {
	if l == nil || l.rate.PerSecond <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if len(l.m) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(max(l.rate.Burst, 1)), last: now}
		l.m[key] = b
	}
	b.tokens = min(float64(max(l.rate.Burst, 1)), b.tokens+now.Sub(b.last).Seconds()*l.rate.PerSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets that have refilled completely (they hold no state).
func (l *limiter) sweep(now time.Time) {
	full := float64(max(l.rate.Burst, 1))
	for k, b := range l.m {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate.PerSecond >= full {
			delete(l.m, k)
		}
	}
}
