#!/bin/sh
# SPDX-License-Identifier: MIT
#
# dead_recovered - a process killed while attached is recovered by the
# next call of any client, plkvctl's included, not only by 'plkvctl
# recover': after one 'plkvctl get', 'procs' lists no dead process.  Runs
# on the host (user backend) and in the VM (kmod backend).  POSIX sh.
set -u

. "$(dirname "$0")/../lib/tap.sh"
echo "TAP version 13"
need_plkvctl

seg="${PLKV_TEST_PREFIX:-}dead-$$"
tmp=/tmp/dead_recovered.$$
mkdir -p "$tmp"
holder=
cleanup() {
	[ -n "$holder" ] && kill -9 "$holder" 2>/dev/null
	"$ctl" --segment "$seg" destroy --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
fail_details() {
	sed 's/^/# /' "$tmp/out" 2>/dev/null | head -8
}
procs_count() {	# procs_count STATE
	"$ctl" --segment "$seg" procs 2>/dev/null | grep -c " $1 "
}

"$ctl" --segment "$seg" create --size 4m >"$tmp/out" 2>&1 &&
	"$ctl" --segment "$seg" set k v >>"$tmp/out" 2>&1
result $? "a store with a key"

for round in 1 2; do
	"$ctl" --segment "$seg" top --interval 60 >/dev/null 2>&1 &
	holder=$!
	tries=0
	until [ "$(procs_count attached)" -ge 2 ] || [ $tries -ge 100 ]; do
		sleep 0.1
		tries=$((tries + 1))
	done
	{ kill -9 "$holder"; wait "$holder"; } 2>/dev/null
	holder=
	"$ctl" --segment "$seg" procs >"$tmp/out" 2>&1
	grep -q ' dead ' "$tmp/out"
	result $? "round $round: procs shows the killed process as dead"
	"$ctl" --segment "$seg" get k >"$tmp/out" 2>&1
	result $? "round $round: the next client's call works"
	"$ctl" --segment "$seg" procs >"$tmp/out" 2>&1
	! grep -q ' dead ' "$tmp/out"
	result $? "round $round: after it, no dead process is left"
done
"$ctl" --segment "$seg" check >"$tmp/out" 2>&1
result $? "the store checks out"

finish
