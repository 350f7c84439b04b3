#!/bin/sh
# SPDX-License-Identifier: MIT
#
# strict_ctl - 'plkvctl create --strict' makes a strict store on the kmod
# backend: info says so (text and JSON), and the store works for the
# tools, which map no code after open.  VM only (needs /dev/plkv).
set -u

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
need_plkvctl
[ -e /dev/plkv ] || skip_all "no /dev/plkv (module not loaded)"

seg="${PLKV_TEST_PREFIX:-}strict-$$"
out=/tmp/strict_ctl.$$
trap '"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1; rm -f "$out"' EXIT
fail_details() {
	sed 's/^/# /' "$out" 2>/dev/null | head -8
}

"$ctl" --backend kmod --segment "$seg" create --strict --size 4m >"$out" 2>&1
result $? "create --strict on the kmod backend"

"$ctl" --segment "$seg" info >"$out" 2>&1 &&
	grep -q "protection: on (pkey [0-9]*, strict)" "$out"
result $? "info says the store is strict"

"$ctl" --json --segment "$seg" info >"$out" 2>&1 &&
	grep -q '"strict": *true' "$out"
result $? "info --json: strict true"

"$ctl" --segment "$seg" set k strictly >"$out" 2>&1 &&
	"$ctl" --segment "$seg" get k >"$out" 2>&1 && grep -qx strictly "$out"
result $? "set and get work on a strict store"

finish
