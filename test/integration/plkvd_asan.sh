#!/bin/bash
# SPDX-License-Identifier: MIT
#
# plkvd's protocol tests again, on tools/plkvd-asan: plkvd and libplkv
# built with AddressSanitizer and UBSan.  A test that passes while the
# server read freed memory, overflowed a buffer, leaked or hit undefined
# behaviour fails here: each script must pass, and the server must leave
# no sanitizer report.  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
asan=tools/plkvd-asan
[ -x "$asan" ] || skip_all "$asan not built (run make)"

logs=$(mktemp -d) || exit 1
trap 'rm -rf "$logs"' EXIT

for script in plkvd_protocol plkvd_multiget plkvd_memccapable plkvd_admin; do
	rm -f "$logs"/*
	PLKVD=$asan \
	ASAN_OPTIONS=log_path=$logs/asan:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1 \
		bash "test/integration/$script.sh" >"$logs/.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		grep '^not ok' "$logs/.out" | head -10 | sed 's/^/# /'
	fi
	result $rc "$script.sh passes on plkvd-asan"
	reports=$(find "$logs" -name '[au][sb]san.*' | head -5)
	for r in $reports; do
		head -30 "$r" | sed 's/^/# /'
	done
	[ -z "$reports" ]
	result $? "$script.sh: no ASan/UBSan report from plkvd"
done

finish
