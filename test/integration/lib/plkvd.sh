# SPDX-License-Identifier: MIT
#
# A plkvd for the integration scripts to talk to, sourced by them from
# the top of the tree (after test/lib/tap.sh).  It sets:
#
#	PLKVD, CTL	the binaries ($PLKVD and $PLKVCTL override them)
#	seg		a fresh store, plkvd-test-PID on the user backend
#			($PLKV_BACKEND overrides)
#	tmp, sock	a private directory, and a UNIX socket path in it
#	pid, port	the server running, and its TCP port
#	target		where it listens: 127.0.0.1:PORT or the socket
#
# and destroys the store and the directory on exit, also on failure.
#
#	start_tcp ARGS...	the server on a free port of 127.0.0.1
#	start_unix ARGS...	plkvd on $sock
#	stop_server		stop it (SIGTERM) and wait for it
#
# Both starts return 1 when the server did not come up; its stderr is in
# $tmp/err.  start_tcp runs launch_tcp PORT ARGS..., which execs plkvd;
# a script may redefine it to run another server.

PLKVD=${PLKVD:-tools/plkvd}
CTL=${PLKVCTL:-tools/plkvctl}
export PLKV_BACKEND=${PLKV_BACKEND:-user}
seg="${PLKV_TEST_PREFIX:-}plkvd-test-$$"
tmp=$(mktemp -d)
sock="$tmp/plkvd.sock"
pid=
port=
target=

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

# Is something answering on 127.0.0.1:$1?
tcp_up() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

launch_tcp() {
	local p=$1

	shift
	exec "$PLKVD" -p "$p" -l 127.0.0.1 --segment "$seg" -U 0 "$@"
}

# PLKVD_REFERENCE=memcached: the same exchanges with memcached itself,
# started with the same options (plkvd takes memcached's).
REF=${PLKVD_REFERENCE:-}
if [ -n "$REF" ]; then
	launch_tcp() {
		local p=$1 user=()

		shift
		[ "$(id -u)" = 0 ] && user=(-u nobody)
		exec memcached -p "$p" -l 127.0.0.1 -U 0 "${user[@]}" "$@"
	}
fi

start_tcp() {
	local try _
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 7 + $$ + try) % 40000))
		tcp_up "$port" && continue
		launch_tcp "$port" "$@" 2>"$tmp/err" &
		pid=$!
		for _ in $(seq 50); do
			if tcp_up "$port"; then
				target="127.0.0.1:$port"
				return 0
			fi
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
		if [ -S "$sock" ]; then
			target=$sock
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_server
	return 1
}
