#!/usr/bin/env bash
# examples/witnesses-demo.sh: daylightd's access log witnessed by two witnesses.
#
# Builds daylightd, daylight-witness, daylight and daylight-verify into a
# temporary directory; creates the access log's key (`daylightd log-key`);
# starts two daylight-witness processes for that log; starts daylightd with
# both witnesses and threshold 2; registers a user with the daylight CLI so a
# key-directory epoch is logged; then checks with `daylight-verify log` (log
# key and both witness keys pinned, threshold 2) that the published checkpoint
# carries both cosignatures, every entry hashes to its root and a KeyDirectory
# entry is counted, and with `daylight-verify report` that the published
# transparency report (/transparency/report.json) recomputes from that log.
# Kills everything on exit; exits non-zero on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/daylight-witnesses.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
	echo "witnesses-demo: FAIL: $*" >&2
	for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $(basename "$f") (tail)" >&2; tail -n 15 "$f" >&2; }; done
	exit 1
}
step() { echo "== $*"; }
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok: $1"; }

step "build"
for b in daylightd daylight-witness daylight daylight-verify; do
	(cd "$ROOT" && go build -o "$TMP/$b" "./cmd/$b")
done
# dj get PATH: the value at a dotted path of the JSON on stdin (no jq on a bare CI machine).
cat >"$TMP/dj.go" <<'GO'
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	var v any
	if err := json.NewDecoder(os.Stdin).Decode(&v); err != nil {
		fmt.Fprintln(os.Stderr, "dj: input is not JSON:", err)
		os.Exit(2)
	}
	for _, k := range strings.Split(os.Args[2], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, _ := strconv.Atoi(k)
			if i >= len(x) {
				v = nil
			} else {
				v = x[i]
			}
		default:
			v = nil
		}
	}
	if s, ok := v.(string); ok {
		fmt.Println(s)
		return
	}
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}
GO
(cd "$TMP" && GO111MODULE=off go build -o "$TMP/dj" "$TMP/dj.go")
dj() { "$TMP/dj" "$@"; }

ORIGIN="demo.daylight.local/log"
step "create the access log key"
LOGKEY=$("$TMP/daylightd" log-key --data "$TMP/data" --log-origin "$ORIGIN")
expect "log.vkey holds the printed key" "$(cat "$TMP/data/log.vkey")" "$LOGKEY"
echo "log key: $LOGKEY"

# waitfile FILE PID WHAT: wait until FILE is non-empty while PID lives.
waitfile() {
	for _ in $(seq 1 300); do
		[ -s "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || fail "$3 exited"
		sleep 0.1
	done
	fail "$3 did not write $1"
}

step "start two witnesses"
WFLAGS=()
WKEYS=()
for w in w1 w2; do
	"$TMP/daylight-witness" --addr 127.0.0.1:0 --addr-file "$TMP/$w.addr" --data "$TMP/$w" \
		--name "witness.demo/$w" --log "$ORIGIN=$LOGKEY" >"$TMP/$w.log" 2>&1 &
	PIDS+=($!)
	waitfile "$TMP/$w.addr" $! "witness $w"
	waitfile "$TMP/$w/witness.vkey" $! "witness $w"
	WKEY=$(cat "$TMP/$w/witness.vkey")
	WFLAGS+=(--log-witness "http://$(cat "$TMP/$w.addr")=$WKEY")
	WKEYS+=(--witness "$WKEY")
	echo "witness $w at $(cat "$TMP/$w.addr"): $WKEY"
done

step "start daylightd with both witnesses, threshold 2"
"$TMP/daylightd" --addr 127.0.0.1:0 --insecure-http --data "$TMP/data" --log-origin "$ORIGIN" \
	--keydir-epoch 200ms "${WFLAGS[@]}" --log-witness-threshold 2 >"$TMP/daylightd.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
URL=""
for _ in $(seq 1 300); do
	URL=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$TMP/daylightd.log" | head -n 1)
	[ -n "$URL" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || fail "daylightd exited"
	sleep 0.1
done
[ -n "$URL" ] || fail "daylightd did not print where it listens"
grep -q "verifier key $LOGKEY" "$TMP/daylightd.log" || fail "daylightd did not print the pinned log key"
grep -q "witnessed: 2 of 2" "$TMP/daylightd.log" || fail "daylightd did not report its witnesses"
echo "server: $URL"

step "register alice (a key-directory epoch gets logged)"
"$TMP/daylight" --home "$TMP/alice" --server "$URL" --json register --device laptop alice >/dev/null

step "daylight-verify log with the log key and both witness keys, threshold 2"
OUT=""
for _ in $(seq 1 100); do
	if OUT=$("$TMP/daylight-verify" log --log "$URL/log/" --log-key "$LOGKEY" "${WKEYS[@]}" --threshold 2 --json 2>"$TMP/verify.err"); then
		[ "$(echo "$OUT" | dj get by_type.KeyDirectory)" != "null" ] && break
	fi
	sleep 0.2
done
[ -n "$OUT" ] || fail "daylight-verify never passed: $(cat "$TMP/verify.err")"
echo "$OUT"
expect "cosignatures" "$(echo "$OUT" | dj get cosigners)" '["witness.demo/w1","witness.demo/w2"]'
expect "threshold" "$(echo "$OUT" | dj get threshold)" "2"
expect "malformed entries" "$(echo "$OUT" | dj get malformed)" "[]"
KD=$(echo "$OUT" | dj get by_type.KeyDirectory)
[ "$KD" != "null" ] && [ "$KD" -ge 1 ] || fail "no KeyDirectory entry counted (by_type: $(echo "$OUT" | dj get by_type))"
echo "ok: $KD KeyDirectory entries in the witnessed log"

step "daylight-verify report: the published transparency report recomputes from the witnessed log"
for _ in $(seq 1 100); do
	"$TMP/daylight-verify" report --log "$URL/log/" --log-key "$LOGKEY" "${WKEYS[@]}" --threshold 2 \
		--report "$URL/transparency/report.json" >"$TMP/report-verify.out" 2>&1 && break
	sleep 0.2
done
"$TMP/daylight-verify" report --log "$URL/log/" --log-key "$LOGKEY" "${WKEYS[@]}" --threshold 2 \
	--report "$URL/transparency/report.json" --figure log.entries || fail "the transparency report does not recompute: $(cat "$TMP/report-verify.out")"
echo "ok: report.json matches the recomputation"

step "a verifier pinning a witness the log does not use refuses the checkpoint"
"$TMP/daylight-witness" --addr 127.0.0.1:0 --addr-file "$TMP/w3.addr" --data "$TMP/w3" \
	--name "witness.demo/w3" --log "$ORIGIN=$LOGKEY" >"$TMP/w3.log" 2>&1 &
PIDS+=($!)
waitfile "$TMP/w3/witness.vkey" $! "witness w3"
if "$TMP/daylight-verify" log --log "$URL/log/" --log-key "$LOGKEY" --witness "$(cat "$TMP/w3/witness.vkey")" --threshold 1 --json >/dev/null 2>&1; then
	fail "checkpoint accepted under a witness that never cosigned it"
fi
echo "ok: refused"

echo "witnesses-demo: PASS"
