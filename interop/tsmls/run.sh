#!/usr/bin/env bash
# ts-mls <-> Daylight interop: installs the pinned ts-mls (npm ci, package-lock.json) and
# runs the Go tests in this folder that drive peer.mjs against Daylight's mls/group.
# ts-mls 1.6.4 has no suite with code point 0x004D (it uses 77 for ML-KEM-512, and its
# X-Wing suites are 83/84 with SHA-512), so only RFC suites are exercised here.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "interop/tsmls/run.sh: node not found (hint: apt-get install nodejs npm)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
cd ../..
DAYLIGHT_TSMLS=1 go test -count=1 -v ./interop/tsmls
