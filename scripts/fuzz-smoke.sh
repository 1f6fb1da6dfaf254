#!/bin/sh
# fuzz-smoke.sh runs every fuzz target in the repository for a few seconds
# (FUZZTIME, default 3s). Targets are discovered with grep, so new FuzzXxx
# functions in any package are included automatically. Exits non-zero if any
# target fails or the discovery finds nothing.
set -u
cd "$(dirname "$0")/.." || exit 1
fuzztime="${FUZZTIME:-3s}"
status=0
count=0
for file in $(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | grep -v '/node_modules/' | sort); do
	pkg="./$(dirname "${file#./}")"
	for target in $(sed -n -E 's/^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\).*/\1/p' "$file"); do
		count=$((count + 1))
		echo "== $pkg $target"
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"; then
			echo "FAIL: $pkg $target" >&2
			status=1
		fi
	done
done
if [ "$count" -eq 0 ]; then
	echo "fuzz-smoke: no fuzz targets found" >&2
	exit 1
fi
echo "fuzz-smoke: $count targets run"
exit $status
