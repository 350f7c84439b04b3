#!/bin/sh
# SPDX-License-Identifier: MIT
#
# many_procs - more processes than the library's old process table held
# (256) attach to one store at once, all die by kill -9, and one recovery
# takes care of every one of them: the library's table and the module's
# share one limit (PLKV_MAX_PROCS), and recovery reaps every DEAD record.
# Runs on the host (user backend) and in the VM (kmod backend).  POSIX sh.
set -u

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$top/tools/plkvctl" ] || top=$(cd "$top/.." && pwd)
ctl=$top/tools/plkvctl
[ -x "$ctl" ] || skip_all "plkvctl not built"

N=300
seg="${PLKV_TEST_PREFIX:-}many-$$"
tmp=/tmp/many_procs.$$
mkdir -p "$tmp"
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
fail_details() {
	sed 's/^/# /' "$tmp/out" 2>/dev/null | head -5
}

"$ctl" --segment "$seg" create --size 4m >"$tmp/out" 2>&1
result $? "create the store"

# N processes attached at once: each runs top, which stays attached.
i=0
while [ $i -lt $N ]; do
	"$ctl" --segment "$seg" top --interval 60 >/dev/null 2>"$tmp/err.$i" &
	pids="$pids $!"
	i=$((i + 1))
done
attached() {
	count=$("$ctl" --segment "$seg" procs 2>/dev/null | grep -c ' attached ')
	[ "$count" -ge $((N + 1)) ]
}
tries=0
until attached || [ $tries -ge 300 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
count=$("$ctl" --segment "$seg" procs 2>"$tmp/out" | grep -c ' attached ')
[ "$count" -ge $((N + 1)) ]
result $? "$N processes attached at once (procs lists $count, itself included)"
cat "$tmp"/err.* >"$tmp/out" 2>/dev/null
[ ! -s "$tmp/out" ]
result $? "none was refused (no ENOSPC)"

{
	for p in $pids; do kill -9 "$p"; done
	for p in $pids; do wait "$p"; done
} 2>/dev/null
pids=

"$ctl" --segment "$seg" recover >"$tmp/out" 2>&1
grep -q "recovered $N dead processes" "$tmp/out"
result $? "one recover takes care of all $N"
"$ctl" --segment "$seg" procs >"$tmp/out" 2>&1
! grep -q ' dead ' "$tmp/out"
result $? "no dead record remains"
"$ctl" --segment "$seg" set after-all ok >"$tmp/out" 2>&1 &&
	"$ctl" --segment "$seg" check >>"$tmp/out" 2>&1
result $? "the store works and checks out"

finish
