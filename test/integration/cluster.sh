#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Three plkvd behind twemproxy (nutcracker), as examples/cluster sets them
# up: keys spread over every instance, each value read back through the
# proxy and directly from the one instance that holds it; one instance
# killed, ejected by the proxy (its keys miss, the others' keep working);
# restarted on its store with every value intact (the store outlives the
# server process) and admitted again.  Loopback only, bounded waits.
# Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
PLKVD=${PLKVD:-tools/plkvd}
CTL=${PLKVCTL:-tools/plkvctl}
[ -x "$PLKVD" ] || skip_all "$PLKVD not built (run make)"
command -v nutcracker >/dev/null ||
	skip_all "nutcracker (twemproxy) not installed (make deps)"
command -v perl >/dev/null || skip_all "perl (the test client) not installed"
export PLKV_BACKEND=user

N=3
KEYS=600
tmp=$(mktemp -d)
pids=()
segs=()
ports=()
proxy_pid=

cleanup() {
	local p s
	for p in "${pids[@]}" $proxy_pid; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for s in "${segs[@]}"; do
		"$CTL" --segment "$s" destroy --force >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	local p
	while :; do
		p=$((20000 + (RANDOM * 7 + $$) % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || break
	done
	echo "$p"
}

# wait_for CMD...: until it succeeds, at most 10 s.
wait_for() {
	local i
	for i in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

up() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_instance() {	# start_instance I
	"$PLKVD" -p "${ports[$1]}" -l 127.0.0.1 --segment "${segs[$1]}" \
		-t 2 -m 32 2>>"$tmp/plkvd$1.err" &
	pids[$1]=$!
	wait_for up "${ports[$1]}"
}

# The client: kv.pl HOST:PORT set|get|probe PREFIX COUNT.  set stores
# PREFIXi = "value-i-PREFIX"; get prints "i hit|miss|bad" per key; probe
# prints how many of the keys are there with the right value.
cat >"$tmp/kv.pl" <<'PL'
use strict;
use IO::Socket::INET;
my ($t, $op, $pre, $n) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => $t, Timeout => 5) or exit 3;
$s->autoflush(1);
my $hits = 0;
for my $i (1 .. $n) {
	my $k = "$pre$i";
	my $v = "value-$i-$pre";
	if ($op eq 'set') {
		print $s "set $k 0 0 " . length($v) . "\r\n$v\r\n";
		my $r = <$s>;
		print "$i ", ($r && $r eq "STORED\r\n" ? 'stored' : 'error'), "\n";
		next;
	}
	print $s "get $k\r\n";
	my $l = <$s>;
	last unless defined $l;
	my $res = 'miss';
	if ($l =~ /^VALUE \S+ \d+ (\d+)/) {
		my $data = <$s>;
		my $end = <$s>;
		$res = $data eq "$v\r\n" ? 'hit' : 'bad';
	} elsif ($l ne "END\r\n") {
		$res = 'error';
	}
	$hits++ if $res eq 'hit';
	print "$i $res\n" if $op eq 'get';
}
print "$hits\n" if $op eq 'probe';
PL
kv() { timeout 30 perl "$tmp/kv.pl" "$@"; }

for i in $(seq 0 $((N - 1))); do
	segs[$i]="${PLKV_TEST_PREFIX:-}cluster-$$-$i"
	ports[$i]=$(free_port)
	start_instance "$i" || { not_ok "plkvd $i starts"; finish; }
done
proxy=$(free_port)
stats=$(free_port)
servers=()
for i in $(seq 0 $((N - 1))); do servers+=("127.0.0.1:${ports[$i]}"); done
sh examples/cluster/cluster.sh config "127.0.0.1:$proxy" "${servers[@]}" \
	>"$tmp/nutcracker.yml"
nutcracker -t -c "$tmp/nutcracker.yml" >"$tmp/conftest" 2>&1
r=$?
[ $r = 0 ] || sed 's/^/# /' "$tmp/conftest"
result $r "examples/cluster's configuration passes nutcracker -t"
nutcracker -c "$tmp/nutcracker.yml" -s "$stats" -a 127.0.0.1 \
	-o "$tmp/nutcracker.log" -p "$tmp/nutcracker.pid" &
proxy_pid=$!
wait_for up "$proxy"
result $? "nutcracker starts in front of $N plkvd"

# ---- spread and read back ----

kv "127.0.0.1:$proxy" set k "$KEYS" >"$tmp/set"
[ "$(grep -c stored "$tmp/set")" = "$KEYS" ]
result $? "$KEYS sets through the proxy all stored"
kv "127.0.0.1:$proxy" get k "$KEYS" >"$tmp/get"
[ "$(grep -c hit "$tmp/get")" = "$KEYS" ]
result $? "every value read back through the proxy"

# Which instance holds each key: exactly one, with the right value.
total=0
spread_ok=1
for i in $(seq 0 $((N - 1))); do
	kv "127.0.0.1:${ports[$i]}" get k "$KEYS" >"$tmp/on$i"
	grep ' hit$' "$tmp/on$i" | cut -d' ' -f1 >"$tmp/keys$i"
	held=$(wc -l <"$tmp/keys$i")
	total=$((total + held))
	echo "# instance $i holds $held keys"
	# ketama over equal weights: each holds a fair share (1/N within a
	# wide margin: 600 keys, 160 points per server)
	[ "$held" -ge $((KEYS / N / 2)) ] && [ "$held" -le $((KEYS * 2 / N)) ] ||
		spread_ok=0
	grep -q ' bad$' "$tmp/on$i" && spread_ok=0
done
[ "$total" = "$KEYS" ]
result $? "each key on exactly one instance, read directly ($total of $KEYS)"
[ "$spread_ok" = 1 ]
result $? "keys spread over all $N instances in fair shares"

# ---- an instance dies: ejected, its keys miss, the rest work ----

victim=1
kill -9 "${pids[$victim]}"
wait "${pids[$victim]}" 2>/dev/null
pids[$victim]=
theirs=$(wc -l <"$tmp/keys$victim")
# The proxy ejects it at its first failure; the first request may fail.
kv "127.0.0.1:$proxy" get k "$KEYS" >/dev/null
ejected() {
	kv "127.0.0.1:$proxy" get k "$KEYS" >"$tmp/during"
	! grep -q ' error$' "$tmp/during"
}
wait_for ejected
result $? "the proxy ejects the dead instance (no errors, only misses)"
misses_ok=1
while read -r i res; do
	if grep -qx "$i" "$tmp/keys$victim"; then
		[ "$res" = miss ] || misses_ok=0
	else
		[ "$res" = hit ] || misses_ok=0
	fi
done <"$tmp/during"
[ "$misses_ok" = 1 ]
result $? "its $theirs keys miss, the other $((KEYS - theirs)) still hit"

# A set of one of its keys meanwhile lands on another instance.
stale=$(head -1 "$tmp/keys$victim")
# (The proxy retries a dead host every server_retry_timeout: a request
# that lands on such a retry fails, and the host is ejected again.)
set_elsewhere() {
	perl -e 'use IO::Socket::INET;
		 my $s = IO::Socket::INET->new($ARGV[0]) or exit 1;
		 print $s "set k$ARGV[1] 0 0 3\r\nnew\r\n"; my $r = <$s>;
		 exit($r eq "STORED\r\n" ? 0 : 1)' "127.0.0.1:$proxy" "$stale"
}
wait_for set_elsewhere
result $? "while it is out, a set of one of its keys (k$stale) lands elsewhere"

# ---- restarted on its store: data intact, admitted again ----

start_instance "$victim"
result $? "the instance restarts on its store"
kv "127.0.0.1:${ports[$victim]}" get k "$KEYS" >"$tmp/after"
got=$(grep ' hit$' "$tmp/after" | cut -d' ' -f1 | cmp -s - "$tmp/keys$victim" &&
      wc -l <"$tmp/keys$victim")
[ "$got" = "$theirs" ]
result $? "all $theirs of its values survived the kill -9 (read directly)"
readmitted() {
	kv "127.0.0.1:$proxy" get k "$KEYS" >"$tmp/again"
	[ "$(grep -c ' hit$' "$tmp/again")" = "$KEYS" ]
}
wait_for readmitted
result $? "the proxy admits it again: all $KEYS keys hit through it"
grep -qx "$stale hit" "$tmp/again"
result $? "k$stale reads its value from before the kill again (the set made while it was out stays on the other instance)"
"$CTL" --segment "${segs[$victim]}" check >/dev/null 2>&1
result $? "its store passes plkvctl check"

finish
