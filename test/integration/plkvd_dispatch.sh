#!/bin/bash
# SPDX-License-Identifier: MIT
#
# plkvd spreads clients over its worker threads: clients that connect
# together are handed out in turn, as memcached does, not all to the
# worker that woke first.  What each thread serves is read from the
# kernel: /proc/PID/fdinfo of each epoll descriptor lists the sockets in
# that epoll set (the dispatcher's holds the listener; each worker's, its
# connections).  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
. test/integration/lib/plkvd.sh

echo "TAP version 13"
[ -x "$PLKVD" ] || skip_all "$PLKVD not built (run make)"
command -v perl >/dev/null || skip_all "perl (the test client) not installed"

# Sockets in each epoll set of process $1, one count per line, sorted.
# A set that watches pidfds is libplkv's (the user backend's liveness
# scan), not plkvd's.
epoll_socket_counts() {
	local fd tfd n pidfds
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "anon_inode:[eventpoll]" ] || continue
		n=0
		pidfds=0
		for tfd in $(awk '/^tfd:/ { print $2 }' \
				"/proc/$1/fdinfo/${fd##*/}"); do
			case $(readlink "/proc/$1/fd/$tfd") in
			socket:*) n=$((n + 1)) ;;
			anon_inode:\[pidfd\]) pidfds=$((pidfds + 1)) ;;
			esac
		done
		[ "$pidfds" = 0 ] && echo "$n"
	done | sort -n | tr '\n' ' '
}

# Open $2 connections to $1 at once, check each answers, hold them until
# stdin closes.
cat >"$tmp/hold.pl" <<'PL'
use IO::Socket::INET;
my ($t, $n) = @ARGV;
my @s = map { IO::Socket::INET->new(PeerAddr => $t) or die "connect: $!\n" } 1 .. $n;
for my $s (@s) { print $s "version\r\n"; my $l = <$s>; die "no reply\n" unless $l =~ /^VERSION/; }
print "held\n";
$| = 1;
<STDIN>;
PL

for threads in 2 3 4; do
	start_tcp -t "$threads" || { not_ok "plkvd -t $threads starts"; continue; }
	per=3
	mkfifo "$tmp/ctl"
	perl "$tmp/hold.pl" "$target" $((threads * per)) <"$tmp/ctl" >"$tmp/held" &
	holder=$!
	exec 7>"$tmp/ctl"
	for _ in $(seq 100); do
		grep -q held "$tmp/held" && break
		sleep 0.05
	done
	want="1 $(for _ in $(seq "$threads"); do printf '%s ' $per; done)"
	got=$(epoll_socket_counts "$pid")
	[ "$got" = "$want" ]
	result $? "-t $threads: $((threads * per)) clients at once, $per per worker (sockets per epoll set: $got; want $want)"
	exec 7>&-
	wait "$holder"
	rm -f "$tmp/ctl" "$tmp/held"
	stop_server
done

finish
