#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Checks test/harness.h against test/harness_selftest (built by make):
# a test named pass_* must pass, fail_* must fail, skip_* must be skipped,
# plus the harness's other promises.  Prints TAP.
set -u
dir=$(dirname "$0")
prog=${1:-$dir/harness_selftest}
n=0
fails=0

tap() {	# tap OK|FAIL description
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		fails=$((fails + 1))
	fi
}

check() {	# check description command...
	d=$1
	shift
	if "$@"; then tap OK "$d"; else tap FAIL "$d"; fi
}

if [ ! -x "$prog" ]; then
	echo "1..1"
	echo "not ok 1 $prog is not built (run make)"
	exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$prog" >"$out" 2>&1
rc=$?

names=$("$prog" -l)
total=$(echo "$names" | wc -l)
echo "1..$((total + 12))"

for name in $names; do
	base=${name#*.}
	line=$(grep -E "^(not )?ok [0-9]+ $name( |$)" "$out")
	case $base in
	pass_*) case $line in "ok "*"# SKIP"*) v=skip ;; "ok "*) v=pass ;; *) v=other ;; esac
		check "$name passes" [ "$v" = pass ] ;;
	fail_*) case $line in "not ok "*) v=fail ;; *) v=other ;; esac
		check "$name fails" [ "$v" = fail ] ;;
	skip_*) case $line in "ok "*"# SKIP "?*) v=skip ;; *) v=other ;; esac
		check "$name is skipped with a reason" [ "$v" = skip ] ;;
	*)	tap FAIL "$name: name must start with pass_, fail_ or skip_" ;;
	esac
done

has() { grep -qF -- "$1" "$out"; }
hasnt() { ! grep -qF -- "$1" "$out"; }
check "exit status 1 when a test fails" [ "$rc" -eq 1 ]
check "TAP version 13 then the plan" \
	[ "$(head -n 2 "$out" | tr '\n' ' ')" = "TAP version 13 1..$total " ]
check "nothing runs after a failed ASSERT or a SKIP" \
	hasnt "NOT REACHED"
check "the statement after a failed ASSERT runs" \
	has "marker: on-failure statement ran"
check "EXPECT continues after a failure" has "marker: reached after expect"
check "teardown runs after a failed ASSERT" has "marker: teardown value=8"
check "ASSERT prints file:line and both values" \
	grep -qE '^# harness_selftest\.c:[0-9]+:fail_assert_eq: Expected 1 \(1\) == two \(2\)$' "$out"
check "the skip reason is printed" \
	has "ok 4 skip_with_reason # SKIP no frobnicator on this machine"
check "a crash names its signal" has "killed by signal 11"
check "a timeout is reported" has "timed out after 1 s"
pass=$(grep -cE '^ok [0-9]+ [^#]*$' "$out")
fail=$(grep -c '^not ok ' "$out")
skip=$(grep -c '^ok .*# SKIP' "$out")
check "totals line matches the results" \
	has "# totals: pass:$pass fail:$fail skip:$skip"
sel=$("$prog" -t 'fx.*' | grep -cE '^(not )?ok ')
"$prog" -t no_such_test >/dev/null 2>&1
nomatch=$?
check "-t selects tests, and no match is an error" \
	[ "$sel.$nomatch" = 2.2 ]
if [ "$fails" -ne 0 ]; then
	echo "# the output of $prog:"
	sed 's/^/# | /' "$out"
	exit 1
fi
