package server

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics is the server's instrumentation, exposed at /metrics in the
// Prometheus text exposition format 0.0.4. It is a few dozen lines instead of
// the Prometheus client library (which would bring ~10 modules): the server
// needs counters, gauges and one latency histogram, nothing more.
type metrics struct {
	start time.Time

	mu       sync.Mutex
	requests map[reqKey]uint64     // http_requests_total{route,code}
	durs     map[string]*histogram // http_request_duration_seconds{route}

	accepted     atomic.Uint64 // daylight_messages_accepted_total
	delivered    atomic.Uint64 // daylight_messages_delivered_total (pushed or fetched)
	acks         atomic.Uint64
	wsConns      atomic.Int64
	wsTotal      atomic.Uint64
	rateLimited  atomic.Uint64
	blobBytesIn  atomic.Uint64
	blobBytesOut atomic.Uint64
	longPolls    atomic.Int64
}

type reqKey struct {
	route string
	code  int
}

func newMetrics(now time.Time) *metrics {
	return &metrics{start: now, requests: make(map[reqKey]uint64), durs: make(map[string]*histogram)}
}

// latencyBuckets are the upper bounds (seconds) of the duration histogram.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts [len(latencyBuckets) + 1]uint64
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(latencyBuckets[:], v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	m.requests[reqKey{route, code}]++
	h := m.durs[route]
	if h == nil {
		h = new(histogram)
		m.durs[route] = h
	}
	h.observe(d.Seconds())
	m.mu.Unlock()
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func fmtFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	default:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
}

// write renders every metric in the text exposition format.
func (m *metrics) write(w io.Writer, cpuSeconds float64) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	counter := func(name, help string, v uint64) {
		p("# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v float64) {
		p("# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, fmtFloat(v))
	}
	counter("daylight_messages_accepted_total", "MLS messages accepted durably into a group.", m.accepted.Load())
	counter("daylight_messages_delivered_total", "Queue entries handed to devices (pushed over WebSocket or fetched).", m.delivered.Load())
	counter("daylight_acks_total", "Acknowledgements applied.", m.acks.Load())
	gauge("daylight_websocket_connections", "Open WebSocket connections.", float64(m.wsConns.Load()))
	counter("daylight_websocket_connections_total", "WebSocket connections accepted.", m.wsTotal.Load())
	gauge("daylight_long_polls", "HTTP long-polls waiting.", float64(m.longPolls.Load()))
	counter("daylight_rate_limited_total", "Requests refused by a rate limit.", m.rateLimited.Load())
	counter("daylight_blob_bytes_in_total", "Attachment bytes uploaded.", m.blobBytesIn.Load())
	counter("daylight_blob_bytes_out_total", "Attachment bytes downloaded.", m.blobBytesOut.Load())

	m.mu.Lock()
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b reqKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		return a.code - b.code
	})
	p("# HELP http_requests_total HTTP requests by route and status.\n# TYPE http_requests_total counter\n")
	for _, k := range keys {
		p("http_requests_total{route=\"%s\",code=\"%d\"} %d\n", escapeLabel(k.route), k.code, m.requests[k])
	}
	routes := make([]string, 0, len(m.durs))
	for r := range m.durs {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	p("# HELP http_request_duration_seconds HTTP request latency by route.\n# TYPE http_request_duration_seconds histogram\n")
	for _, r := range routes {
		h := m.durs[r]
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += h.counts[i]
			p("http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %d\n", escapeLabel(r), fmtFloat(ub), cum)
		}
		p("http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %d\n", escapeLabel(r), h.n)
		p("http_request_duration_seconds_sum{route=\"%s\"} %s\n", escapeLabel(r), fmtFloat(h.sum))
		p("http_request_duration_seconds_count{route=\"%s\"} %d\n", escapeLabel(r), h.n)
	}
	m.mu.Unlock()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge("go_goroutines", "Goroutines.", float64(runtime.NumGoroutine()))
	gauge("go_memstats_heap_alloc_bytes", "Heap bytes allocated and in use.", float64(ms.HeapAlloc))
	if cpuSeconds >= 0 {
		p("# HELP process_cpu_seconds_total User and system CPU time.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %s\n", fmtFloat(cpuSeconds))
	}
	gauge("process_start_time_seconds", "Start time of the process (Unix seconds).", float64(m.start.Unix()))
}
