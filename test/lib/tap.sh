# SPDX-License-Identifier: MIT
#
# TAP 13 for the test scripts (test/integration/*.sh, and the
# test/selftests/*.sh that also run in the VM: POSIX sh, busybox's there,
# where this file is /plkv/lib/tap.sh, i.e. ../lib/tap.sh from the test
# as on the host).  The script prints "TAP version 13" itself, then
# reports with:
#
#	ok NAME [WHY]	a pass; with WHY, a skip and its reason
#	not_ok NAME	a failure, followed by fail_details, which a script
#			redefines to show what went wrong (the default
#			shows nothing)
#	result RC NAME	ok when RC (a command's $?) is 0, else not_ok
#	skip_all WHY	no tests can run here: plan 1..0 with the reason
#	finish		the plan and the totals; exits 0 when nothing failed
#
# ok and not_ok always succeed, so "A && ok NAME || not_ok NAME" is safe.

n=0
failures=0
skips=0

ok() {
	n=$((n + 1))
	[ -n "${2:-}" ] && skips=$((skips + 1))
	echo "ok $n $1${2:+ # SKIP $2}"
}

fail_details() {
	:
}

not_ok() {
	n=$((n + 1))
	failures=$((failures + 1))
	echo "not ok $n $1"
	fail_details
	return 0
}

result() {
	if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# ctl: the plkvctl of this tree, from a test one directory below the
# tree's test/ (the host) or below its root (the VM's /plkv); else skip.
need_plkvctl() {
	top=$(cd "$(dirname "$0")/.." && pwd)
	[ -x "$top/tools/plkvctl" ] || top=$(cd "$top/.." && pwd)
	ctl=$top/tools/plkvctl
	[ -x "$ctl" ] || skip_all "plkvctl not built"
}

finish() {
	echo "1..$n"
	echo "# totals: pass:$((n - failures - skips)) fail:$failures skip:$skips"
	[ "$failures" -eq 0 ]
	exit
}
