#!/usr/bin/env bash
# scripts/transparency-check.sh BASE_URL LOG_VKEY W0_VKEY W1_VKEY OUTDIR
#
# Checks the public transparency page of a running daylightd the way an
# auditor would (issue 8): daylight-verify report recomputes every published
# figure (/transparency/report.json) from the witnessed log tiles, then a real
# headless Chromium (JavaScript off) opens /transparency/, reads every figure a
# person sees and compares each with the report recomputed from the log at the
# size the page states (report/internal/pagecheck). Screenshots at 1280 and
# 420 px go to OUTDIR. Run by examples/lawful-access-demo.sh after the demo.
# Chromium: $DAYLIGHT_CHROMIUM or chromium on PATH.
set -euo pipefail
if [ $# -ne 5 ]; then
	echo "usage: $0 BASE_URL LOG_VKEY W0_VKEY W1_VKEY OUTDIR" >&2
	exit 2
fi
URL=${1%/}
LOG_VKEY=$2
W0=$3
W1=$4
OUT=$5
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(mktemp -d "${TMPDIR:-/tmp}/daylight-tcheck.XXXXXX")
trap 'rm -rf "$BIN"' EXIT
mkdir -p "$OUT"
(cd "$ROOT" && go build -o "$BIN/" ./cmd/daylight-verify ./report/internal/pagecheck)

echo "-- daylight-verify report: the published figures against the log tiles"
"$BIN/daylight-verify" report --log "$URL/log/" --log-key "$LOG_VKEY" --witness "$W0" --witness "$W1" \
	--report "$URL/transparency/report.json"

echo "-- headless Chromium: the figures on /transparency/ against the log"
"$BIN/pagecheck" --page "$URL/transparency/" --log "$URL/log/" --log-key "$LOG_VKEY" --witness "$W0" --witness "$W1" \
	--out "$OUT" --json >"$OUT/pagecheck.json" || {
	cat "$OUT/pagecheck.json" >&2
	echo "transparency-check: the page differs from the log (above)" >&2
	exit 1
}
echo "OK: $(jq -r '"\(.figures) figures over \(.size) log entries match; screenshots: \(.screenshots | join(", "))"' "$OUT/pagecheck.json")"
