// Command daylight-load drives N simulated clients in groups of size S over
// real WebSockets against a daylightd on the loopback interface and reports
// accepted messages/s, delivered messages/s, p50/p99 send-to-deliver latency
// and server CPU per message.
//
//	daylight-load --daylightd ./daylightd --clients 200 --group-size 10 --duration 10s
//	daylight-load --url http://127.0.0.1:8443 --clients 50 --rate 1000 --json
//
// With --daylightd it starts the server itself (plain HTTP on 127.0.0.1, the
// testing-only fake MLS framing, rate limits off, a temporary data directory)
// and reads its CPU time from /proc/<pid>/stat; with --url it reads
// process_cpu_seconds_total from the server's /metrics (the server must run
// with --testing-only-fake-mls, or without it for --mls, and generous rate
// limits). By default messages use ds/dstest's toy framing (the load measures
// the delivery service, not the MLS engine); --mls uses real MLS groups and
// PrivateMessages against the real validator. --nats-server runs the same
// topology over NATS core as the reference. Only loopback addresses are
// accepted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "daylight-load:", err)
		os.Exit(1)
	}
}
