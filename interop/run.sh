#!/usr/bin/env bash
# Runs the official MLS interop test-runner (mlswg/mls-implementations, built from
# ../shared/mls-interop) against two daylight-mls-interop servers on loopback, for every
# scenario config and the cipher suites in SUITES (default: 1, 3 and X-Wing 0x004D = 77).
# Prints one line per script; exits non-zero if any run failed.
# Environment: DAYLIGHT_SHARED (default ../shared beside the repository), SUITES, CONFIGS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${DAYLIGHT_SHARED:-$root/../shared}
harness=$shared/mls-interop
[ -x "$harness/build.sh" ] || { echo "interop/run.sh: $harness/build.sh not found (hint: set DAYLIGHT_SHARED)" >&2; exit 1; }
suites=${SUITES:-"1 3 77"}
configs=${CONFIGS:-"welcome_join commit application external_join external_proposals branch reinit deep_random"}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building the test-runner"
bash "$harness/build.sh" "$work/runner" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
echo "== building daylight-mls-interop"
go build -o "$work/daylight-mls-interop" ./cmd/daylight-mls-interop
go build -o "$work/runsummary" ./interop/runsummary

# Two servers on free loopback ports (the kernel picks; each prints its address).
addrs=()
for i in 1 2; do
  "$work/daylight-mls-interop" -port 0 -name "Daylight-$i" >"$work/server$i.out" 2>"$work/server$i.err" &
  pids+=($!)
done
for i in 1 2; do
  for _ in $(seq 100); do
    grep -q '^listening on ' "$work/server$i.out" 2>/dev/null && break
    sleep 0.1
  done
  a=$(sed -n 's/^listening on //p' "$work/server$i.out")
  [ -n "$a" ] || { echo "server $i did not start:" >&2; cat "$work/server$i.err" >&2; exit 1; }
  addrs+=("$a")
done
echo "== servers on ${addrs[*]}"

failed=0
for cfg in $configs; do
  for suite in $suites; do
    mode=()
    # deep_random has hundreds of actors: every client assignment would be 2^n runs.
    [ "$cfg" = deep_random ] && mode=(-random)
    out="$work/$cfg-$suite.json"
    rc=0
    timeout "${RUNNER_TIMEOUT:-900}" "$work/runner/test-runner" -client "${addrs[0]}" -client "${addrs[1]}" -suite "$suite" "${mode[@]}" \
      -config "$harness/interop/configs/$cfg.json" >"$out" 2>"$work/$cfg-$suite.err" || rc=$?
    if [ ! -s "$out" ]; then
      echo "FAIL $cfg suite $suite: runner produced no results (exit $rc): $(tail -n 3 "$work/$cfg-$suite.err" | tr '\n' ' ')"
      failed=1
      continue
    fi
    "$work/runsummary" "$out" "$cfg suite $suite" || failed=1
    for p in "${pids[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "a daylight-mls-interop server died:"; cat "$work"/server*.err; exit 1; }
    done
  done
done
if [ "$failed" != 0 ]; then
  echo "interop/run.sh: FAILED"
  exit 1
fi
echo "interop/run.sh: all scenarios passed"
