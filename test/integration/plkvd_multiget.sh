#!/bin/bash
# SPDX-License-Identifier: MIT
#
# plkvd's multi-get, byte for byte: every path a value can take out of the
# server (batched through plkv_mget() into the connection's value buffer,
# fetched alone when it does not fit, answered one by one for gat/gats
# and one-key lines, split across write buffers) with values on both sides
# of every buffer size the server has: the 4 KiB first try of a lone
# fetch, the 16 KiB first multi-get buffer and its growth, the 256 KiB
# write-buffer mark, and the item size limit.  Each value's bytes are
# derived from its key, so a value answered from a stale or reused buffer
# (NUL bytes, or another key's or client's data) cannot match.  Prints
# TAP 13; PLKVD_REFERENCE=memcached runs the same checks on memcached.
#
# shellcheck disable=SC2015
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
. test/integration/lib/plkvd.sh

echo "TAP version 13"
[ -n "$REF" ] || [ -x "$PLKVD" ] || skip_all "$PLKVD not built (run make)"
command -v perl >/dev/null ||
	skip_all "perl (the test client) not installed"


# The client: mg.pl TARGET SCENARIO.  Stores the scenario's keys, then
# sends its multi-gets on one connection (and, for "fresh", each on a new
# one), and checks every reply: the right keys, in order, each value
# exactly the bytes stored, misses absent, END last.  Prints one line per
# failure and exits 1 on any.
cat >"$tmp/mg.pl" <<'EOF'
use strict;
use IO::Socket::INET;
use IO::Socket::UNIX;

my ($target, $scenario) = @ARGV;
my @sizes = (0, 1, 5, 4095, 4096, 4097, 8000, 16383, 16384, 16385,
	     16386, 24000, 32767, 32768, 32769, 65536, 131072, 262143,
	     262144, 262145, 524288, 1000000);
my $fails = 0;

sub conn {
	my $s = $target =~ m{^/} ? IO::Socket::UNIX->new(Peer => $target)
		: IO::Socket::INET->new(PeerAddr => $target, Proto => 'tcp');
	die "connect $target: $!\n" unless $s;
	binmode $s;
	return $s;
}

# A value's bytes follow from its key: a stale buffer cannot pass.
sub value_of {
	my ($key, $len) = @_;
	my $seed = unpack('%32C*', $key) + length($key) * 131;
	my $unit = join('', map { chr(($seed + $_ * 7) % 251 + 1) } 0 .. 250);
	my $v = $unit x (int($len / length $unit) + 1);
	return substr($v, 0, $len);
}

sub read_exact {
	my ($s, $n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		my $got = sysread($s, $buf, $n - length($buf), length($buf));
		die "connection closed\n" unless $got;
	}
	return $buf;
}

my $rbuf = '';
sub read_line {
	my ($s) = @_;
	while ($rbuf !~ /\r\n/) {
		my $got = sysread($s, my $chunk, 65536);
		die "connection closed\n" unless $got;
		$rbuf .= $chunk;
	}
	$rbuf =~ s/^(.*?)\r\n//s;
	return $1;
}

sub read_bytes {
	my ($s, $n) = @_;
	while (length($rbuf) < $n) {
		my $got = sysread($s, my $chunk, 65536);
		die "connection closed\n" unless $got;
		$rbuf .= $chunk;
	}
	my $b = substr($rbuf, 0, $n);
	substr($rbuf, 0, $n) = '';
	return $b;
}

sub fail {
	my $m = "@_";
	$m =~ s/[^\x20-\x7e]/./g;
	print "# $scenario: ", substr($m, 0, 160), "\n";
	$fails++;
}

my %stored;
sub store {
	my ($s, $key, $len) = @_;
	my $v = value_of($key, $len);
	print $s "set $key 7 0 $len\r\n$v\r\n";
	my $r = read_line($s);
	fail("set $key ($len bytes): $r") unless $r eq 'STORED';
	$stored{$key} = $len;
}

# Send one multi-get of @keys; check the reply.
sub mget {
	my ($s, $cmd, @keys) = @_;
	my $line = "$cmd " . join(' ', @keys);
	print $s "$line\r\n";
	my @want = grep { exists $stored{$_} } @keys;
	my $what = "$cmd of " . scalar(@keys) . " keys";
	for my $k (@want) {
		my $h = read_line($s);
		my ($tag, $key, $flags, $len) = split / /, $h;
		if ($tag ne 'VALUE' || $key ne $k || $flags ne '7' ||
		    $len != $stored{$k}) {
			fail("$what: header '$h', expected key $k, $stored{$k} bytes");
			return 0;
		}
		my $v = read_bytes($s, $len + 2);
		if (substr($v, 0, $len) ne value_of($k, $len) ||
		    substr($v, $len) ne "\r\n") {
			my $at = 0;
			$at++ while $at < $len && substr($v, $at, 1) eq
				substr(value_of($k, $len), $at, 1);
			fail("$what: value of $k ($len bytes) differs at byte $at");
			return 0;
		}
	}
	my $end = read_line($s);
	if ($end ne 'END') {
		fail("$what: '$end' where END was due");
		return 0;
	}
	return 1;
}

my $s = conn();
my @keys;
for my $n (@sizes) {
	my $k = "mg$n";
	store($s, $k, $n);
	push @keys, $k;
}
my @small = grep { $stored{$_} <= 5 } @keys;

if ($scenario eq 'pairs') {
	# Every value next to a small one, on both sides, get and gets.
	for my $k (@keys) {
		for my $x (@small) {
			next if $x eq $k;
			mget($s, 'get', $x, $k) or last;
			mget($s, 'gets', $k, $x) or last;
		}
	}
} elsif ($scenario eq 'fresh') {
	# The first multi-get of a new connection (a fresh buffer).
	for my $k (@keys) {
		my $c = conn();
		$rbuf = '';
		mget($c, 'get', 'mg5', $k, 'mg1');
		close $c;
	}
	$rbuf = '';
} elsif ($scenario eq 'all') {
	# All sizes in one line, ascending, descending, twice, with misses.
	mget($s, 'get', @keys);
	mget($s, 'get', reverse @keys);
	mget($s, 'gets', @keys, 'missing', @keys);
	mget($s, 'get', map { ($_, "no$_") } reverse @keys);
} elsif ($scenario eq 'batches') {
	# More keys than one plkv_mget() batch (32): batch edges fall between
	# small and large values.
	for my $i (0 .. 79) {
		store($s, "b$i", ($i % 7 == 3) ? 20000 + $i : $i * 3);
	}
	my @b = map { "b$_" } 0 .. 79;
	mget($s, 'get', @b);
	mget($s, 'gets', reverse @b);
	mget($s, 'get', @b[0 .. 30], 'mg16385', @b[31 .. 79]);
} elsif ($scenario eq 'touch') {
	# gat/gats and one-key lines take the one-by-one path.
	for my $k (@keys) {
		mget($s, 'gat 0', 'mg5', $k) or last;
		mget($s, 'gats 0', $k) or last;
		mget($s, 'get', $k) or last;
	}
} elsif ($scenario eq 'clients') {
	# Two connections interleaved: neither sees the other's bytes.
	my $t = conn();
	my ($ra, $rb) = ('', '');
	for my $k (reverse @keys) {
		$rbuf = $ra; mget($s, 'get', 'mg1', $k, 'mg4096'); $ra = $rbuf;
		$rbuf = $rb; mget($t, 'get', 'mg5', 'mg16385', $k); $rb = $rbuf;
	}
	$rbuf = $ra;
} else {
	die "no scenario $scenario\n";
}
print $s "quit\r\n";
exit($fails ? 1 : 0);
EOF

if ! start_tcp -t 2 -I 2m -m 256; then
	echo "not ok 1 the server starts"
	sed 's/^/#   /' "$tmp/err"
	echo "1..1"
	exit 1
fi

for sc in pairs fresh all batches touch clients; do
	timeout 120 perl "$tmp/mg.pl" "$target" "$sc" >"$tmp/out" 2>&1
	rc=$?
	head -20 "$tmp/out"
	result $rc "multi-get, $sc: every value exactly as stored"
done

finish
