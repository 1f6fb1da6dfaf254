#!/usr/bin/env bash
# MLS engine comparison (issue 3, "Speed"): Daylight's mls/group, mls-go v1.6.0 (Go) and
# ts-mls 1.6.4 (Node), same scenarios, suite 1, then one markdown table with the published
# figures of mls-rs and OpenMLS. Bounded: the defaults finish in a few minutes on 2 cores.
#
#   bench/run.sh [--go-sizes 2,100,1000] [--ts-sizes 2,100,1024] [--reps 3]
#                [--ts-max-best 1024] [--out DIR]
#
# Each figure is the median of --reps timed runs (each engine prints every run in its
# JSON, kept in DIR). The 10,000-member group takes about 3 minutes per Go engine on a
# loaded 2-core machine, so it is a separate run: --go-sizes 10000 --ts-sizes none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
go_sizes=2,100,1000 ts_sizes=2,100,1024 reps=3 ts_max_best=1024 out=
while [ $# -gt 0 ]; do
	case $1 in
	--go-sizes) go_sizes=$2; shift 2 ;;
	--ts-sizes) ts_sizes=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--ts-max-best) ts_max_best=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--go-sizes L] [--ts-sizes L] [--reps N] [--ts-max-best N] [--out DIR]" >&2; exit 2 ;;
	esac
done
[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"

echo "# machine: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3), node $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
(cd "$here" && go build -o "$out/mlsbench" ./cmd/mlsbench)
if [ ! -d "$here/tsmls/node_modules/ts-mls" ]; then
	(cd "$here/tsmls" && npm ci --no-audit --no-fund >&2)
fi

start=$(date +%s)
"$out/mlsbench" run -engine daylight -sizes "$go_sizes" -reps "$reps" >"$out/daylight.json"
"$out/mlsbench" run -engine mlsgo -sizes "$go_sizes" -reps "$reps" >"$out/mlsgo.json"
files=("$out/daylight.json" "$out/mlsgo.json")
if [ "$ts_sizes" != none ]; then
	(cd "$here/tsmls" && node --expose-gc bench.mjs --json --sizes "$ts_sizes" --reps "$reps" --max-best "$ts_max_best") >"$out/tsmls.json"
	files+=("$out/tsmls.json")
fi
echo "# ran in $(( $(date +%s) - start )) s, load after: $(cut -d' ' -f1-3 /proc/loadavg); JSON in $out" >&2

"$out/mlsbench" table "${files[@]}" | tee "$out/table.md"
