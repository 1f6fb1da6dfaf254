#!/usr/bin/env bash
# examples/demo.sh: end-to-end demo of daylight on a fresh daylightd.
#
# Starts daylightd on a temporary directory (TLS with its dev certificate),
# registers alice with two devices (laptop, phone, linked with a link code)
# and bob, creates a group, exchanges messages and a 5 MB file in both
# directions, removes bob, and checks with --json that every device sees
# exactly what it should (bob nothing after his removal). Exits non-zero on
# any mismatch; the server is killed on exit.
#
# DAYLIGHTD=/path/to/server overrides the server binary (it must accept
# --addr and --data and print "listening on URL").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/daylight-demo.XXXXXX")
SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "demo: FAIL: $*" >&2; echo "--- server log (tail)" >&2; tail -n 20 "$TMP/server.log" >&2 || true; exit 1; }
step() { echo "== $*"; }

step "build"
(cd "$ROOT" && go build -o "$TMP/daylight" ./cmd/daylight)
# dj: the few JSON queries this script needs (no jq on a bare CI machine).
#   dj get PATH             value at a dotted path (a.0.b), strings unquoted
#   dj texts                ["from: text", ...] of the text messages of a message list
#   dj strings FIELD [sort] [the FIELD (dotted) of each element, ...]
#   dj fileid [FROM]        id of the first file message (from FROM)
#   dj filesizes            [size of each file message, ...]
cat >"$TMP/dj.go" <<'GO'
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

func at(v any, path string) any {
	for _, k := range strings.Split(strings.Trim(path, "."), ".") {
		if k == "" {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, _ := strconv.Atoi(k)
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func out(v any) {
	if s, ok := v.(string); ok {
		fmt.Println(s)
		return
	}
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	var v any
	if err := json.NewDecoder(os.Stdin).Decode(&v); err != nil {
		fmt.Fprintln(os.Stderr, "dj: input is not JSON:", err)
		os.Exit(2)
	}
	list, _ := v.([]any)
	field := func(m any, k string) string { s, _ := at(m, k).(string); return s }
	switch os.Args[1] {
	case "get":
		out(at(v, os.Args[2]))
	case "texts":
		r := []string{}
		for _, m := range list {
			if field(m, "kind") == "text" {
				r = append(r, field(m, "from")+": "+field(m, "text"))
			}
		}
		out(r)
	case "strings":
		r := []string{}
		for _, m := range list {
			r = append(r, fmt.Sprint(at(m, os.Args[2])))
		}
		if len(os.Args) > 3 && os.Args[3] == "sort" {
			sort.Strings(r)
		}
		out(r)
	case "fileid":
		for _, m := range list {
			if field(m, "kind") == "file" && (len(os.Args) < 3 || field(m, "from") == os.Args[2]) {
				out(at(m, "id"))
				return
			}
		}
		out(nil)
	case "filesizes":
		r := []any{}
		for _, m := range list {
			if field(m, "kind") == "file" {
				r = append(r, at(m, "file.size"))
			}
		}
		out(r)
	}
}
GO
(cd "$TMP" && GO111MODULE=off go build -o "$TMP/dj" "$TMP/dj.go")
dj() { "$TMP/dj" "$@"; }
if [ -z "${DAYLIGHTD:-}" ]; then
	(cd "$ROOT" && go build -o "$TMP/daylightd" ./cmd/daylightd)
	DAYLIGHTD="$TMP/daylightd"
fi

step "start daylightd on $TMP/data"
"$DAYLIGHTD" --addr 127.0.0.1:0 --data "$TMP/data" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
	URL=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$TMP/server.log" | head -n 1)
	[ -n "$URL" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || fail "daylightd exited"
	sleep 0.1
done
[ -n "$URL" ] || fail "daylightd did not print where it listens"
CA=()
if [ -f "$TMP/data/tls-dev-cert.pem" ]; then CA=(--ca "$TMP/data/tls-dev-cert.pem"); fi
echo "server: $URL"

# dl PROFILE ARGS...: run daylight for one device with --json.
dl() { local p=$1; shift; "$TMP/daylight" --home "$TMP/$p" --server "$URL" "${CA[@]}" --json "$@"; }
# expect WHAT GOT WANT
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"; echo "ok: $1"; }
texts() { dj texts; }

step "register alice (laptop), link alice (phone), register bob"
dl alice-laptop register --device laptop alice >/dev/null
CODE=$(dl alice-phone link request --device phone | dj get code)
APPROVAL=$(dl alice-laptop link approve "$CODE" | dj get approval)
dl alice-phone link finish alice "$APPROVAL" >/dev/null
dl bob register --device desktop bob >/dev/null
expect "alice's devices" "$(dl alice-laptop devices | dj strings name sort)" '["laptop","phone"]'

step "contacts and safety numbers"
SN_A=$(dl alice-laptop contacts add bob | dj get safety_number)
SN_B=$(dl bob contacts add alice | dj get safety_number)
expect "safety numbers match on both sides" "$SN_A" "$SN_B"

step "alice creates the group 'demo' with bob"
G=$(dl alice-laptop group create demo bob | dj get group.id)
expect "members" "$(dl alice-laptop group show "$G" | dj get members | dj strings username sort)" '["alice","alice","bob"]'

step "messages both ways"
dl alice-laptop send demo "hello from alice's laptop" >/dev/null
expect "bob receives" "$(dl bob sync | texts)" "[\"alice: hello from alice's laptop\"]"
expect "bob knows the group's name" "$(dl bob group list | dj get 0.name)" "demo"
dl bob send demo "hi alice, bob here" >/dev/null
expect "alice's phone receives both" "$(dl alice-phone sync | texts)" "[\"alice: hello from alice's laptop\",\"bob: hi alice, bob here\"]"
expect "alice's laptop receives bob's" "$(dl alice-laptop sync | texts)" '["bob: hi alice, bob here"]'
dl alice-phone send demo "and from alice's phone" >/dev/null

step "a 5 MB file each way"
head -c 5242880 /dev/urandom >"$TMP/from-alice.bin"
head -c 5242880 /dev/urandom >"$TMP/from-bob.bin"
dl alice-laptop send-file demo "$TMP/from-alice.bin" >/dev/null
ID=$(dl bob sync | dj fileid)
dl bob get-file -o "$TMP/bob-got.bin" demo "$ID" >/dev/null
cmp -s "$TMP/from-alice.bin" "$TMP/bob-got.bin" || fail "bob's copy of alice's file differs"
echo "ok: bob got alice's 5 MB file intact"
dl bob send-file demo "$TMP/from-bob.bin" >/dev/null
for dev in alice-laptop alice-phone; do
	ID=$(dl $dev sync | dj fileid bob)
	dl $dev get-file -o "$TMP/$dev-got.bin" demo "$ID" >/dev/null
	cmp -s "$TMP/from-bob.bin" "$TMP/$dev-got.bin" || fail "$dev's copy of bob's file differs"
	echo "ok: $dev got bob's 5 MB file intact"
done

step "alice's phone removes bob; alice writes again"
dl alice-phone group remove demo bob >/dev/null
dl alice-laptop send demo "bob cannot read this" >/dev/null
expect "bob sees no new message" "$(dl bob sync | texts)" '[]'
expect "bob is told he was removed" "$(dl bob group show demo | dj get removed)" "true"
if dl bob send demo "am I still here?" >/dev/null 2>&1; then fail "bob could still send"; fi
echo "ok: bob cannot send any more"
dl alice-phone sync >/dev/null

step "every device's history, exactly"
ALL="[\"alice: hello from alice's laptop\",\"bob: hi alice, bob here\",\"alice: and from alice's phone\",\"alice: bob cannot read this\"]"
expect "alice-laptop history" "$(dl alice-laptop history demo | texts)" "$ALL"
expect "alice-phone history" "$(dl alice-phone history demo | texts)" "$ALL"
expect "bob history (nothing after removal)" "$(dl bob history demo | texts)" "[\"alice: hello from alice's laptop\",\"bob: hi alice, bob here\",\"alice: and from alice's phone\"]"
for dev in alice-laptop alice-phone bob; do
	expect "$dev files" "$(dl $dev history demo | dj filesizes)" "[5242880,5242880]"
done
expect "members after removal" "$(dl alice-laptop group show demo | dj get members | dj strings username)" '["alice","alice"]'

echo "demo: PASS"
