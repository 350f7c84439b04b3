#!/bin/bash
# SPDX-License-Identifier: MIT
#
# plkv-bench --quick runs to the end and prints its tables.  Prints TAP.
# It never judges a timing: the figures vary with the machine and its
# load; that the benchmark works is what this checks.  Run after `make`:
#
#	test/integration/bench_smoke.sh
#
# PLKV_BENCH names another binary.
set -u

cd "$(dirname "$0")/../.." || exit 1
BENCH=${PLKV_BENCH:-test/bench/plkv-bench}
name="plkv-bench --quick runs"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

echo "TAP version 13"
echo "1..1"
if [ ! -x "$BENCH" ]; then
	echo "ok 1 $name # SKIP $BENCH not built (run make)"
	exit 0
fi

timeout 60 "$BENCH" --quick >"$out" 2>&1
rc=$?
missing=
for heading in "1. Latency" "2. Throughput" "3. The gate"; do
	grep -q "^$heading" "$out" || missing="$missing '$heading'"
done
grep -Eq '^  libplkv +get +32 B +[0-9.]+ +[0-9.]+ ' "$out" ||
	missing="$missing 'libplkv get row'"

if [ "$rc" -eq 0 ] && [ -z "$missing" ]; then
	echo "ok 1 $name"
	sed 's/^/# /' "$out"
	exit 0
fi
echo "not ok 1 $name"
echo "#   exit status: $rc${missing:+, missing:$missing}"
sed 's/^/#   /' "$out"
exit 1
