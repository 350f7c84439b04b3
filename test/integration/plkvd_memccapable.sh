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
PLKVD=${PLKVD:-tools/plkvd}
CTL=${PLKVCTL:-tools/plkvctl}
export PLKV_BACKEND=${PLKV_BACKEND:-user}
seg="${PLKV_TEST_PREFIX:-}plkvd-test-$$"
tmp=$(mktemp -d)
sock="$tmp/plkvd.sock"
pid=
port=
n=0
failures=0

stop_server() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=
	fi
}

cleanup() {
	stop_server
	"$CTL" --segment "$seg" destroy --force >/dev/null 2>&1
	rm -f "/dev/shm/plkv.$seg"	# the user backend's file
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	n=$((n + 1))
	echo "ok $n $1${2:+ # SKIP $2}"
}

not_ok() {
	n=$((n + 1))
	failures=$((failures + 1))
	echo "not ok $n $1"
	[ -s "$tmp/log" ] && sed 's/^/#   /' "$tmp/log" | tail -20
	[ -s "$tmp/err" ] && sed 's/^/#   plkvd: /' "$tmp/err" | tail -10
}

finish() {
	echo "1..$n"
	echo "# totals: pass:$((n - failures)) fail:$failures"
	[ "$failures" -eq 0 ]
	exit
}

# Is something answering on 127.0.0.1:$1?
tcp_up() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_tcp ARGS...: plkvd on a free port; sets $pid and $port.
start_tcp() {
	local try _
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 7 + $$ + try) % 40000))
		tcp_up "$port" && continue
		"$PLKVD" -p "$port" -l 127.0.0.1 --segment "$seg" -U 0 "$@" \
			2>"$tmp/err" &
		pid=$!
		for _ in $(seq 50); do
			tcp_up "$port" && return 0
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_server
	done
	return 1
}

start_unix() {
	local _
	"$PLKVD" -s "$sock" --segment "$seg" "$@" 2>"$tmp/err" &
	pid=$!
	for _ in $(seq 50); do
		[ -S "$sock" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_server
	return 1
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

echo "TAP version 13"
if [ ! -x "$PLKVD" ]; then
	echo "1..0 # SKIP $PLKVD not built (run make)"
	exit 0
fi

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
		timeout 120 memcslap --servers="127.0.0.1:$port" \
			--concurrency=2 --execute-number=2000 --test=$t \
			>"$tmp/log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] && slap_ok $t; then
			ok "memcslap --test=$t, 2 threads, over TCP ($figure)"
		else
			not_ok "memcslap --test=$t over TCP: exit status $rc"
		fi
	done
	# memcslap's mget asks for every key in one line: 30000 keys, 1.2 MB
	timeout 120 memcslap --servers="127.0.0.1:$port" --concurrency=1 \
		--execute-number=30000 --test=mget >"$tmp/log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && slap_ok mget; then
		ok "memcslap --test=mget of 30000 keys in one line ($figure)"
	else
		not_ok "memcslap --test=mget of 30000 keys in one line: exit status $rc"
	fi
	timeout 60 memcslap --servers="127.0.0.1:$port" --concurrency=2 \
		--execute-number=1000 --test=set --noreply >"$tmp/log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && slap_ok set; then
		ok "memcslap --noreply over TCP ($figure)"
	else
		not_ok "memcslap --noreply over TCP: exit status $rc"
	fi
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
		timeout 120 memcslap --servers="$sock" --concurrency=2 \
			--execute-number=2000 --test=$t >"$tmp/log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] && slap_ok $t; then
			ok "memcslap --test=$t over a UNIX socket ($figure)"
		else
			not_ok "memcslap --test=$t over a UNIX socket: exit status $rc"
		fi
	done
	stop_server
	[ ! -e "$sock" ] && ok "plkvd removes its socket on SIGTERM" ||
		not_ok "plkvd removes its socket on SIGTERM"
fi

finish
