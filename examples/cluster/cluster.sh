#!/bin/sh
# SPDX-License-Identifier: MIT
#
# plkv past one machine: several plkvd, each on a store of its own, with
# twemproxy (nutcracker) in front sharding keys over them by ketama, the
# way memcached fleets are run.  On one machine, on loopback, to show and
# try the shape; on real hosts each plkvd runs on its own machine beside
# the local processes that use its store through libplkv.
#
#   examples/cluster/cluster.sh demo [N]     start N (default 3) plkvd and
#                                           nutcracker, run a workload
#                                           through the proxy and through
#                                           libmemcached's own ketama,
#                                           stop everything
#   examples/cluster/cluster.sh config LISTEN HOST:PORT...
#                                           print a twemproxy configuration
#                                           for these plkvd instances
#
# Needs `make` (tools/plkvd), nutcracker and libmemcached-tools (both in
# Debian; `make deps` installs them).  Ports are from PLKV_CLUSTER_PORT
# (default 22140): the proxy on it, its stats on +1, plkvd on +2, +3, ...
set -eu

cd "$(dirname "$0")/../.."

# twemproxy's configuration for one pool of plkvd servers.
#  - ketama: consistent hashing, so a server that leaves or comes back
#    moves only its own keys;
#  - auto_eject_hosts with server_failure_limit 1: a dead server is taken
#    out of the ring at its first failure, and its keys miss (a cache's
#    answer) instead of erroring, until server_retry_timeout passes and
#    the proxy tries it again;
#  - timeout: how long a request may wait for a server.
config() {
	listen=$1
	shift
	cat <<CONF
plkv:
  listen: $listen
  hash: md5
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: true
  server_retry_timeout: 2000
  server_failure_limit: 1
  servers:
CONF
	i=1
	for s in "$@"; do
		echo "   - $s:1 plkv$i"
		i=$((i + 1))
	done
}

demo() {
	n=${1:-3}
	base=${PLKV_CLUSTER_PORT:-22140}
	for t in tools/plkvd tools/plkvctl; do
		[ -x "$t" ] || { echo "cluster: $t is missing: run make" >&2; exit 1; }
	done
	for t in nutcracker memccp memccat memcstat memcslap; do
		command -v "$t" >/dev/null || {
			echo "cluster: $t is missing: make deps (nutcracker, libmemcached-tools)" >&2
			exit 1
		}
	done
	dir=$(mktemp -d)
	pids=
	segs=
	servers=
	cleanup() {
		for p in $pids; do kill "$p" 2>/dev/null || true; done
		wait 2>/dev/null || true
		for s in $segs; do
			PLKV_BACKEND=user tools/plkvctl --segment "$s" destroy \
				--force >/dev/null 2>&1 || true
		done
		rm -rf "$dir"
	}
	trap cleanup EXIT INT TERM
	i=1
	while [ "$i" -le "$n" ]; do
		port=$((base + 1 + i))
		seg="cluster-demo-$i-$$"
		PLKV_BACKEND=user tools/plkvd -p "$port" -l 127.0.0.1 \
			--segment "$seg" -m 64 &
		pids="$pids $!"
		segs="$segs $seg"
		servers="$servers 127.0.0.1:$port"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086 # one argument per server
	config "127.0.0.1:$base" $servers >"$dir/nutcracker.yml"
	nutcracker -c "$dir/nutcracker.yml" -s $((base + 1)) -a 127.0.0.1 \
		-o "$dir/nutcracker.log" -p "$dir/nutcracker.pid" &
	pids="$pids $!"
	sleep 1
	echo "== $n plkvd behind nutcracker on 127.0.0.1:$base:"
	sed 's/^/   /' "$dir/nutcracker.yml"

	echo "== 100 files through the proxy (memccp), read back (memccat)"
	mkdir "$dir/files"
	j=1
	while [ "$j" -le 100 ]; do
		echo "value $j" >"$dir/files/key$j"
		j=$((j + 1))
	done
	(cd "$dir/files" && memccp --servers="127.0.0.1:$base" key*)
	bad=0
	j=1
	while [ "$j" -le 100 ]; do
		got=$(memccat --servers="127.0.0.1:$base" "key$j")
		[ "$got" = "value $j" ] || bad=$((bad + 1))
		j=$((j + 1))
	done
	echo "   $((100 - bad)) of 100 read back"
	echo "== where they landed (curr_items on each plkvd):"
	for s in $servers; do
		printf '   %s: ' "$s"
		memcstat --servers="$s" | awk '/curr_items/ { print $2 }'
	done
	echo "== memcslap through the proxy"
	memcslap --servers="127.0.0.1:$base" --concurrency=2 \
		--execute-number=2000 2>&1 | sed 's/^/   /'
	echo "== memcslap with libmemcached's own ketama over the plkvd"
	list=$(echo $servers | tr ' ' ',')
	memcslap --servers="$list" --concurrency=2 --execute-number=2000 \
		2>&1 | sed 's/^/   /'
	[ "$bad" -eq 0 ]
}

case ${1:-} in
config)
	shift
	[ $# -ge 2 ] || { echo "usage: $0 config LISTEN HOST:PORT..." >&2; exit 2; }
	config "$@"
	;;
demo)
	shift
	demo "$@"
	;;
*)
	sed -n '3,21p' "$0" | sed 's/^# \{0,1\}//'
	[ "${1:-}" = -h ] || [ "${1:-}" = --help ]
	;;
esac
