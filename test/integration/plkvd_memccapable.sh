#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Standard memcached tools against plkvd, unchanged: memccapable -a (the
# ascii protocol conformance suite of Debian's libmemcached-tools), one
# TAP line per memccapable test, then short memcslap runs over TCP and
# over a UNIX socket.  Prints TAP 13.  Run from anywhere after `make`:
#
#	test/integration/plkvd_memccapable.sh
#
# PLKVD names another binary.  The server gets a fresh store named
# plkvd-test-PID on the user backend (PLKV_BACKEND overrides) and a free
# port on 127.0.0.1; both go away on exit, also on failure.
#
# "A && ok || not_ok" is safe since ok and not_ok always succeed:
# shellcheck disable=SC2015,SC2317
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
. test/integration/lib/plkvd.sh

# A failure shows the end of the tool's log and of plkvd's stderr.
fail_details() {
	[ -s "$tmp/log" ] && sed 's/^/#   /' "$tmp/log" | tail -20
	[ -s "$tmp/err" ] && sed 's/^/#   plkvd: /' "$tmp/err" | tail -10
}

# slap_ok TEST: memcslap's log shows TEST done on some keys, no error
# (memcslap exits 0 even when it could not connect).  Sets $figure.
slap_ok() {
	local line
	line=$(grep -E "^Time to $1 +[0-9]+ keys" "$tmp/log" | tail -1)
	figure=$(printf '%s' "$line" |
		sed -n 's/^Time to [a-z]* *\([0-9]*\) keys.*: *\([0-9.]*\) seconds.*/\1 keys in \2 s/p')
	[ -n "$line" ] && ! printf '%s' "$line" | grep -qE " 0 keys" &&
		! grep -qi 'error\|fail' "$tmp/log"
}

# slap NAME TEST SECONDS ARGS...: memcslap --test=TEST with ARGS, at
# most SECONDS; ok (with its figure) when slap_ok agrees and it exits 0.
slap() {
	local name=$1 test=$2 limit=$3 rc
	shift 3
	timeout "$limit" memcslap --test="$test" "$@" >"$tmp/log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && slap_ok "$test"; then
		ok "$name ($figure)"
	else
		not_ok "$name: exit status $rc"
	fi
}

echo "TAP version 13"
[ -x "$PLKVD" ] || skip_all "$PLKVD not built (run make)"

# ---- memccapable -a over TCP ----

if ! command -v memccapable >/dev/null; then
	ok "memccapable -a" "memccapable not installed (libmemcached-tools)"
elif ! start_tcp -t 4 -m 256; then
	not_ok "plkvd starts on a free TCP port"
else
	ok "plkvd starts on 127.0.0.1:$port"
	timeout 300 memccapable -a -h 127.0.0.1 -p "$port" -t 10 \
		>"$tmp/log" 2>&1
	rc=$?
	# "ascii set noreply                       [pass]"
	ran=0
	while IFS= read -r line; do
		name=$(printf '%s' "$line" |
			sed 's/[[:space:]]*\[[A-Za-z]*\][[:space:]]*$//')
		case $line in
		*"[pass]")
			ran=$((ran + 1))
			ok "memccapable: $name" ;;
		*"[skip]"|*"[skipped]")
			ran=$((ran + 1))
			ok "memccapable: $name" "memccapable skipped it" ;;
		*"[FAIL]"|*"[fail]")
			ran=$((ran + 1))
			not_ok "memccapable: $name" ;;
		esac
	done < <(tr '\r' '\n' <"$tmp/log")
	if [ "$rc" -eq 0 ] && [ "$ran" -gt 0 ]; then
		ok "memccapable -a: all $ran tests passed"
	else
		not_ok "memccapable -a: exit status $rc after $ran tests"
	fi
	kill -0 "$pid" 2>/dev/null && ok "plkvd still running" ||
		not_ok "plkvd still running"
fi

# ---- memcslap over TCP ----

if ! command -v memcslap >/dev/null; then
	ok "memcslap over TCP" "memcslap not installed (libmemcached-tools)"
elif [ -z "$pid" ] && ! start_tcp -t 4 -m 256; then
	not_ok "plkvd starts for memcslap"
else
	for t in set get mget; do
		slap "memcslap --test=$t, 2 threads, over TCP" $t 120 \
			--servers="127.0.0.1:$port" --concurrency=2 \
			--execute-number=2000
	done
	# memcslap's mget asks for every key in one line: 30000 keys, 1.2 MB
	slap "memcslap --test=mget of 30000 keys in one line" mget 120 \
		--servers="127.0.0.1:$port" --concurrency=1 \
		--execute-number=30000
	slap "memcslap --noreply over TCP" set 60 \
		--servers="127.0.0.1:$port" --concurrency=2 \
		--execute-number=1000 --noreply
fi
stop_server

# ---- over a UNIX socket ----

if ! command -v memcslap >/dev/null; then
	ok "memcslap over a UNIX socket" "memcslap not installed"
elif ! start_unix -t 2; then
	not_ok "plkvd starts on a UNIX socket"
else
	ok "plkvd starts on a UNIX socket"
	for t in set get; do
		slap "memcslap --test=$t over a UNIX socket" $t 120 \
			--servers="$sock" --concurrency=2 --execute-number=2000
	done
	stop_server
	[ ! -e "$sock" ] && ok "plkvd removes its socket on SIGTERM" ||
		not_ok "plkvd removes its socket on SIGTERM"
fi

finish
