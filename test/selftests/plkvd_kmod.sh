#!/bin/sh
# SPDX-License-Identifier: MIT
#
# plkvd_kmod - plkvd serving a store on the kernel backend with protection
# on: its worker threads enter the library through the gate (a thread
# that touched the segment outside a call would die with SEGV_PKUERR), a
# few text and meta commands answer as memcached does, and the store
# checks out after plkvd exits.  The host's integration tests cover the
# protocol in depth on the user backend.
#
# Needs /dev/plkv and nc (busybox's in the VM).  POSIX sh.
set -u

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
[ -e /dev/plkv ] || skip_all "no /dev/plkv (module not loaded)"
command -v nc >/dev/null || skip_all "no nc"
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$top/tools/plkvd" ] || top=$(cd "$top/.." && pwd)
plkvd=$top/tools/plkvd
ctl=$top/tools/plkvctl
[ -x "$plkvd" ] && [ -x "$ctl" ] || skip_all "plkvd or plkvctl not built"

seg="${PLKV_TEST_PREFIX:-}plkvd-kmod-$$"
port=$((20000 + $$ % 20000))
tmp=/tmp/plkvd_kmod.$$
mkdir -p "$tmp"
cleanup() {
	[ -f "$tmp/pid" ] && kill "$(cat "$tmp/pid")" 2>/dev/null
	"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
fail_details() {
	sed 's/^/# /' "$tmp/out" 2>/dev/null
}

ip link set lo up 2>/dev/null
PLKV_BACKEND=kmod "$plkvd" --segment "$seg" -p "$port" -t 2 -d \
	-P "$tmp/pid" 2>"$tmp/out"
result $? "plkvd starts on the kernel backend"
i=0
while ! nc 127.0.0.1 "$port" </dev/null 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
"$ctl" --segment "$seg" info >"$tmp/out" 2>&1
grep -q '^ *protection: on (pkey [1-9][0-9]*)$' "$tmp/out"
result $? "its store is protected"

printf 'set a 5 0 1\r\nx\r\nget a\r\nincr n 1\r\nset n 0 0 1\r\n5\r\nincr n 10\r\nmg a v f\r\nms b 2 C1\r\nhi\r\ndelete a\r\nget a\r\nquit\r\n' |
	nc 127.0.0.1 "$port" | tr -d '\r' >"$tmp/out"
printf 'STORED\nVALUE a 5 1\nx\nEND\nNOT_FOUND\nSTORED\n15\nVA 1 f5\nx\nNF\nDELETED\nEND\n' >"$tmp/want"
cmp -s "$tmp/out" "$tmp/want"
result $? "text and meta commands answer as memcached"

# Two clients at once: both workers inside the library in turn.
(printf 'set c1 0 0 2\r\nc1\r\nget c1\r\nquit\r\n' | nc 127.0.0.1 "$port" >"$tmp/c1") &
printf 'set c2 0 0 2\r\nc2\r\nget c2\r\nquit\r\n' | nc 127.0.0.1 "$port" >"$tmp/c2"
wait
grep -q '^c1' "$tmp/c1" && grep -q '^c2' "$tmp/c2"
result $? "two connections served at once"

printf 'stats\r\nquit\r\n' | nc 127.0.0.1 "$port" | tr -d '\r' >"$tmp/out"
grep -q '^STAT get_hits 4$' "$tmp/out" && grep -q '^STAT get_misses 1$' "$tmp/out" &&
	grep -q '^STAT curr_items 3$' "$tmp/out"
result $? "stats count what was done"

kill "$(cat "$tmp/pid")"
i=0
while kill -0 "$(cat "$tmp/pid")" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
rm -f "$tmp/pid"
"$ctl" --segment "$seg" check >"$tmp/out" 2>&1
result $? "the store checks out after plkvd exits"
"$ctl" --segment "$seg" get b >"$tmp/out" 2>&1
[ $? -ne 0 ]
result $? "ms with a CAS on a missing key stored nothing"

finish
