#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test/run-tests.sh - run every test program of plkv (what `make check`
# does after building) and add up their TAP.
#
#   test/run-tests.sh [PATTERN...]
#
# PATTERNs are shell globs on the program's label (its path, e.g.
# 'test/unit/*', '*pku*', 'checkpatch', 'vm'); without one, all run.
#
# In order: the harness's own check, each test/unit/test_* and its -asan
# twin, each host selftest (test/selftests/*.c built, *.sh with bash) with
# PLKV_BACKEND=user, each test/integration/*.sh, checkpatch, then the VM
# suite (test/vm/run.sh), which reports one SKIP where qemu or a kernel
# image is missing.
#
# Every program prints TAP.  Its output is shown indented; its result lines
# ("ok", "not ok", "# SKIP") are counted; a program that times out, dies,
# exits non-zero without a failing test, has no "1..N" plan or reports
# fewer results than planned counts one more failure.  The last line is
# exactly "N passed, N failed, N skipped"; the exit status is 1 on any
# failure.
#
# Environment: PLKV_TEST_TIMEOUT (per program, default 300 s; the VM suite
# has its own limit, PLKV_VM_TIMEOUT, default 540 s).  Each program gets PLKV_TEST_PREFIX,
# a prefix unique to this run and program for segment and file names
# (th_unique_name() in test/harness.h uses it); leftovers in /dev/shm with
# this run's prefix are removed at the end.
set -uo pipefail
shopt -s nullglob

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
timeout_s=${PLKV_TEST_TIMEOUT:-300}
run_id="t$$"
export PATH="$top/tools:$PATH"
patterns=("$@")

rc_file=$(mktemp) || exit 1
trap 'rm -f "$rc_file"' EXIT
passed=0
failed=0
skipped=0
progs=0

selected() {
	local p
	[ ${#patterns[@]} -eq 0 ] && return 0
	for p in "${patterns[@]}"; do
		# shellcheck disable=SC2053 # glob match intended
		[[ $1 == $p ]] && return 0
	done
	return 1
}

# run LABEL [VAR=VALUE...] -- COMMAND...  (limit: $limit or $timeout_s)
run() {
	local label=$1 envs=() line rc plan='' results=0 p=0 f=0 s=0
	local skip_all='' why='' limit=${limit:-$timeout_s}
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	selected "$label" || return 0
	progs=$((progs + 1))
	echo "# ---- $label"
	while IFS= read -r line; do
		printf '    %s\n' "$line"
		if [[ $line =~ ^not\ ok([[:space:]]|$) ]]; then
			results=$((results + 1))
			if [[ $line =~ \#[[:space:]]*[Tt][Oo][Dd][Oo] ]]; then
				s=$((s + 1))
			else
				f=$((f + 1))
			fi
		elif [[ $line =~ ^ok([[:space:]]|$) ]]; then
			results=$((results + 1))
			if [[ $line =~ \#[[:space:]]*[Ss][Kk][Ii][Pp] ]]; then
				s=$((s + 1))
			else
				p=$((p + 1))
			fi
		elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
			if [ "$plan" = 0 ] && [[ $line =~ \#[[:space:]]*[Ss][Kk][Ii][Pp][[:space:]]*(.*)$ ]]; then
				skip_all=${BASH_REMATCH[1]:-skipped}
			fi
		fi
	done < <(env "${envs[@]}" PLKV_TEST_PREFIX="$run_id-$progs-" \
			timeout -k 10 "$limit" "$@" </dev/null 2>&1
		 echo $? >"$rc_file")
	rc=$(cat "$rc_file")

	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after $limit s"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ -z "$plan" ]; then
		why="no TAP plan (1..N)"
	elif [ "$plan" -ne "$results" ]; then
		why="planned $plan tests, reported $results"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		why="exit status $rc without a failing test"
	fi
	if [ -n "$skip_all" ] && [ "$results" -eq 0 ] && [ -z "$why" ] &&
	   [ "$rc" -eq 0 ]; then
		s=1
	fi
	[ -n "$why" ] && f=$((f + 1))
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))

	if [ -n "$why" ]; then
		echo "not ok $progs $label # $why"
	elif [ "$f" -gt 0 ]; then
		echo "not ok $progs $label # $f failed"
	elif [ -n "$skip_all" ] && [ "$results" -eq 0 ]; then
		echo "ok $progs $label # SKIP $skip_all"
	elif [ "$p" -eq 0 ] && [ "$s" -gt 0 ]; then
		# Nothing ran here: say so, as a skip, not as a pass.
		echo "ok $progs $label # SKIP all $s tests skipped"
	else
		echo "ok $progs $label # $p passed, $s skipped"
	fi
}

# A program that should have been built but was not: one failure.
missing() {
	selected "$1" || return 0
	progs=$((progs + 1))
	failed=$((failed + 1))
	echo "not ok $progs $1 # not built (run make)"
}

echo "TAP version 13"

run test/harness_selftest.sh -- sh test/harness_selftest.sh

asan_env=(ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:allocator_may_return_null=1
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	  CK_TIMEOUT_MULTIPLIER=4)
for src in test/unit/test_*.c; do
	bin=${src%.c}
	for b in "$bin" "$bin-asan"; do
		if [ -x "$b" ]; then
			if [ "$b" = "$bin" ]; then
				run "$b" CK_TAP_LOG_FILE_NAME=- -- "$b"
			else
				run "$b" CK_TAP_LOG_FILE_NAME=- "${asan_env[@]}" -- "$b"
			fi
		else
			missing "$b"
		fi
	done
done

for src in test/selftests/*.c test/selftests/*.sh; do
	case $src in
	*.c) bin=${src%.c}
	     if [ -x "$bin" ]; then
		     run "$bin" PLKV_BACKEND=user -- "$bin"
	     else
		     missing "$bin"
	     fi ;;
	*)   run "$src" PLKV_BACKEND=user -- bash "$src" ;;
	esac
done

for src in test/integration/*.sh; do
	run "$src" PLKV_BACKEND=user -- bash "$src"
done

run checkpatch -- sh mk/checkpatch.sh --tap

# The VM run has its own limit (PLKV_VM_TIMEOUT); this one is a backstop.
limit=$((${PLKV_VM_TIMEOUT:-540} + 60)) run vm -- test/vm/run.sh --no-build

# Segments and files this run's programs left behind.
find /dev/shm -maxdepth 1 -name "*$run_id-*" -exec rm -rf {} + 2>/dev/null

echo "1..$progs"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
