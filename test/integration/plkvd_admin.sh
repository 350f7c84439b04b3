#!/bin/bash
# SPDX-License-Identifier: MIT
#
# memcached's admin commands that its own tools use, on plkvd: memcdump
# (libmemcached-tools) lists every key through "stats cachedump", newer
# tools through "lru_crawler metadump", and the commands' answers and
# errors are memcached 1.6's, byte for byte
# (PLKVD_REFERENCE=memcached runs the error checks on memcached).
# Prints TAP 13.
# shellcheck disable=SC2015
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
. test/integration/lib/plkvd.sh

echo "TAP version 13"
[ -n "$REF" ] || [ -x "$PLKVD" ] || skip_all "$PLKVD not built (run make)"
command -v perl >/dev/null || skip_all "perl (the test client) not installed"
start_tcp -t 2 || { echo "not ok 1 the server starts"; echo "1..1"; exit 1; }

# talk REQUEST: send it (printf format), print the reply.
talk() {
	printf -- "$1quit\r\n" | timeout 30 perl -e '
		use IO::Socket::INET; my $s = IO::Socket::INET->new($ARGV[0]) or exit 1;
		local $/; my $r = <STDIN>; print $s $r; shutdown($s, 1);
		binmode STDOUT; print while <$s>;' "$target"
}

exchange() {	# exchange NAME REQUEST EXPECTED
	if [ "$(talk "$2")" = "$(printf -- "$3")" ]; then ok "$1"; else
		not_ok "$1"; talk "$2" | cat -A | head -5 | sed 's/^/#   got: /'; fi
}

exchange "stats cachedump: class 64 is an illegal slab id" \
	'stats cachedump 64 0\r\n' 'CLIENT_ERROR Illegal slab id\r\n'
exchange "stats cachedump without a limit: bad command line" \
	'stats cachedump 1\r\n' 'CLIENT_ERROR bad command line\r\n'
exchange "stats cachedump x 0: bad command line format" \
	'stats cachedump x 0\r\n' 'CLIENT_ERROR bad command line format\r\n'
exchange "stats cachedump of an empty class: END" \
	'stats cachedump 63 0\r\n' 'END\r\n'

if [ -z "$REF" ]; then
	# Keys of many sizes (so many slab classes), with and without TTLs.
	req=''
	for i in $(seq 300); do
		v=$(head -c $((i * 37 % 5000 + 1)) /dev/zero | tr '\0' v)
		req="${req}set dump-$i 0 $((i % 3 * 1000)) ${#v}\r\n$v\r\n"
	done
	talk "$req" | grep -vc STORED >"$tmp/bad"
	[ "$(cat "$tmp/bad")" = 0 ] && ok "300 keys stored" || not_ok "300 keys stored"
	if command -v memcdump >/dev/null; then
		memcdump --servers="$target" 2>"$tmp/err" | sort >"$tmp/dumped"
		seq 300 | sed 's/^/dump-/' | sort >"$tmp/want"
		cmp -s "$tmp/dumped" "$tmp/want"
		result $? "memcdump lists every key, each once ($(wc -l <"$tmp/dumped") lines)"
	else
		ok "memcdump lists every key, each once" "libmemcached-tools not installed"
	fi
	# three items that class 1 (96 B chunks) surely holds
	talk 'set t1 0 0 1\r\nx\r\nset t2 0 0 1\r\nx\r\nset t3 0 0 1\r\nx\r\n' >/dev/null
	talk 'stats cachedump 1 2\r\nstats cachedump 2 0\r\n' >"$tmp/out"
	[ "$(grep -c '^ITEM \(dump-[0-9]*\|t[123]\) \[[0-9]* b; [0-9]* s\]' "$tmp/out")" -ge 1 ] &&
		[ "$(sed -n '1,/END/p' "$tmp/out" | grep -c '^ITEM')" -le 2 ]
	result $? "ITEM lines in memcached's format, at most LIMIT of them"
fi

# stats detail, memcached's stats-detail.t: per-prefix gets, hits, sets
# and deletes once turned on, nothing counted once off (run on memcached
# too with PLKVD_REFERENCE=memcached).
exchange "stats detail: usage" 'stats detail\r\n' \
	'CLIENT_ERROR usage: stats detail on|off|dump\r\n'
exchange "stats detail dump: empty at start" 'stats detail dump\r\n' 'END\r\n'
exchange "stats detail on, a set, a get, a miss, a delete: counted" \
	'stats detail on\r\nset foo:123 0 0 6\r\nfooval\r\nget foo:123\r\nget foo:124\r\ndelete foo:123\r\nset nodelim 0 0 1\r\nx\r\nstats detail dump\r\n' \
	'OK\r\nSTORED\r\nVALUE foo:123 0 6\r\nfooval\r\nEND\r\nEND\r\nDELETED\r\nSTORED\r\nPREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n'
exchange "stats detail off: nothing more counted" \
	'stats detail off\r\nset foo:9 0 0 1\r\nx\r\nget foo:9\r\nstats detail dump\r\n' \
	'OK\r\nSTORED\r\nVALUE foo:9 0 1\r\nx\r\nEND\r\nPREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n'
exchange "stats sizes: disabled, as memcached without track_sizes" \
	'stats sizes\r\n' 'STAT sizes_status disabled\r\nEND\r\n'
exchange "stats reset forgets the prefixes" \
	'stats reset\r\nstats detail dump\r\n' 'RESET\r\nEND\r\n'

# lru_crawler: metadump lists each item's metadata (key URI-encoded, as
# memcached's crawler), the rest answers as memcached 1.6.18 does.
# (memcached refuses a metadump with commands before it in one read)
talk 'flush_all\r\nset a%%20b 5 0 5\r\nhello\r\n' >/dev/null
talk 'lru_crawler metadump all\r\n' | tr -d '\r' >"$tmp/md"
grep -Eq '^key=a%2520b exp=-1 la=[0-9]+ cas=[0-9]+ fetch=no cls=1 size=[0-9]+$' "$tmp/md" &&
	[ "$(tail -1 "$tmp/md")" = END ]
result $? "lru_crawler metadump all: memcached's line per item, then END"
exchange "lru_crawler metadump of a bad class: BADCLASS" \
	'lru_crawler metadump 99\r\n' 'BADCLASS invalid class id\r\n'
exchange "lru_crawler metadump without classes: ERROR" \
	'lru_crawler metadump\r\n' 'ERROR\r\n'
# (one crawl: memcached's runs in a thread, and a second one at once may
# find it BUSY)
exchange "lru_crawler crawl: BADCLASS for a bad class, else OK" \
	'lru_crawler crawl 200\r\nlru_crawler crawl 1,2\r\n' \
	'BADCLASS invalid class id\r\nOK\r\n'
exchange "lru_crawler tocrawl and sleep: checked as memcached" \
	'lru_crawler tocrawl 10\r\nlru_crawler tocrawl x\r\nlru_crawler sleep 100\r\nlru_crawler sleep 2000000\r\n' \
	'OK\r\nCLIENT_ERROR bad command line format\r\nOK\r\nCLIENT_ERROR sleep must be one second or less\r\n'
exchange "lru_crawler disable: crawl and metadump refused until enable" \
	'lru_crawler disable\r\nlru_crawler metadump all\r\nlru_crawler crawl all\r\nlru_crawler enable\r\n' \
	'OK\r\nCLIENT_ERROR lru crawler disabled\r\nCLIENT_ERROR lru crawler disabled\r\nOK\r\n'
exchange "lru_crawler with an unknown or no subcommand: ERROR" \
	'lru_crawler bogus\r\nlru_crawler\r\n' 'ERROR\r\nERROR\r\n'
exchange "slabs automove: 0-2 OK, 3 ERROR, x bad format" \
	'slabs automove 1\r\nslabs automove 3\r\nslabs automove x\r\nslabs\r\n' \
	'OK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n'
exchange "cache_memlimit: too small, bad, missing, noreply" \
	'cache_memlimit 4\r\ncache_memlimit x\r\ncache_memlimit\r\ncache_memlimit 4096 noreply\r\ncache_memlimit 4096\r\n' \
	'MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\nERROR\r\nERROR\r\nOK\r\n'
if [ -z "$REF" ]; then
	exchange "cache_memlimit below the store's size: refused, it is fixed" \
		'cache_memlimit 8\r\n' \
		"CLIENT_ERROR a plkv store's size is fixed when it is created: it can't shrink\r\n"
fi

# store_too_large and store_no_memory, as memcached counts refused stores
# (a set over the 1 MB item limit, and an ms one).
stat_of() {	# stat_of NAME REPLY
	printf '%s' "$2" | tr -d '\r' | awk -v n="$1" '$1 == "STAT" && $2 == n { print $3 }'
}
before=$(stat_of store_too_large "$(talk 'stats\r\n')")
big=$(head -c 1100000 /dev/zero | tr '\0' b)
reply=$(talk "set big 0 0 ${#big}\r\n$big\r\nms big ${#big} T0\r\n$big\r\nstats\r\n")
after=$(stat_of store_too_large "$reply")
[ -n "$before" ] && [ "$after" = $((before + 2)) ] &&
	[ -n "$(stat_of store_no_memory "$reply")" ] &&
	ok "stats counts stores over the item limit (store_too_large)" ||
	{ not_ok "stats counts stores over the item limit (store_too_large)"
	  echo "#   before '$before' after '$after'"; }
# stats conns and watch need several connections at once: a Python client.
PY=${PYTHON:-python3}
conns_and_watch() {
	"$PY" - "$target" <<'PYEOF'
import re, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
def conn():
    s = socket.create_connection((host, int(port)), timeout=5)
    return s
def read_until(s, end, limit=5.0):
    buf, t0 = b"", time.time()
    while not buf.endswith(end) and time.time() - t0 < limit:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf.decode(errors="replace")
def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and detail:
        for l in detail.splitlines()[:40]:
            print("#   " + l)

a, b, c, d = conn(), conn(), conn(), conn()
c.sendall(b"set partial 0 0 10\r\nabc")          # its value half sent
b.sendall(b"version\r\n"); read_until(b, b"\r\n")
# until the server has accepted d and read b's and c's command lines: on a loaded
# machine any of them can lag the client's connect() and send()
def state_in(out, s):
    addr = ":addr tcp:%s:%d" % s.getsockname()
    fd = [l.split(":")[0] for l in out.splitlines() if l.endswith(addr)]
    m = fd and re.search(re.escape(fd[0]) + r":state (\S+)", out)
    return m.group(1) if m else None
for _ in range(200):
    a.sendall(b"stats conns\r\n")
    out = read_until(a, b"END\r\n")
    if (state_in(out, c) == "conn_nread" and state_in(out, d) == "conn_new_cmd"
            and state_in(out, b) == "conn_read"):
        break
    time.sleep(0.05)
lines = out.replace("\r", "").splitlines()
fds = {}
for l in lines[:-1]:
    m = re.match(r"STAT (\d+):(addr|listen_addr|state|secs_since_last_cmd) (\S+)$", l)
    if not m:
        fds = None
        break
    fds.setdefault(int(m.group(1)), {})[m.group(2)] = m.group(3)
ok_fmt = fds is not None and lines[-1:] == ["END"]
check("stats conns: STAT <fd>:<field> lines, then END", ok_fmt, out)
if ok_fmt:
    me = "tcp:%s:%d" % a.getsockname()
    listen = "tcp:%s:%s" % (host, port)
    by_addr = {v.get("addr"): v for v in fds.values()}
    states = lambda s: by_addr.get("tcp:%s:%d" % s.getsockname(), {}).get("state")
    check("stats conns: the listening socket, conn_listening",
          any(v.get("addr") == listen and v.get("state") == "conn_listening"
              and "listen_addr" not in v for v in fds.values()), out)
    check("stats conns: the asking connection, conn_parse_cmd, with its listen_addr",
          states(a) == "conn_parse_cmd" and by_addr[me].get("listen_addr") == listen, out)
    check("stats conns: idle conn_new_cmd before a command, conn_read after; amid a value conn_nread",
          states(d) == "conn_new_cmd" and states(b) == "conn_read" and
          states(c) == "conn_nread", out)
    check("stats conns: secs_since_last_cmd is a count of seconds",
          all(re.fullmatch(r"\d+", v.get("secs_since_last_cmd", "x")) for v in fds.values()), out)

w = conn()
w.sendall(b"watch bogus\r\n")
check("watch with an unknown kind: ERROR", read_until(w, b"\r\n") == "ERROR\r\n")
w.sendall(b"watch fetchers mutations\r\n")
check("watch fetchers mutations: OK", read_until(w, b"\r\n") == "OK\r\n")
a.sendall(b"set wfoo 5 0 3\r\nbar\r\nget wfoo\r\nget wnope\r\nadd wfoo 0 0 1\r\nx\r\nmg wfoo v\r\nget w:x\r\nget " + b"#" * 250 + b"\r\n")
read_until(a, b"VA 3\r\nbar\r\nEND\r\nEND\r\n")
want = [r"type=item_store key=wfoo status=stored cmd=set ttl=0 clsid=[1-9]\d* cfd=\d+ size=3",
        r"type=item_get key=wfoo status=found clsid=[1-9]\d* cfd=\d+ size=3",
        r"type=item_get key=wnope status=not_found clsid=0 cfd=\d+ size=0",
        r"type=item_store key=wfoo status=not_stored cmd=add ttl=0 clsid=\d+ cfd=\d+ size=1",
        r"type=item_get key=wfoo status=found clsid=[1-9]\d* cfd=\d+ size=3",
        r"type=item_get key=w%3Ax status=not_found clsid=0 cfd=\d+ size=0",
        r"type=item_get key=(%23){250} status=not_found clsid=0 cfd=\d+ size=0"]
def in_order(got, want=want):
    events = [l for l in got.splitlines() if l.startswith("ts=")]
    pos = 0
    for pat in want:
        while pos < len(events) and not re.fullmatch(r"ts=\d+\.\d+ gid=\d+ " + pat, events[pos]):
            pos += 1
        if pos == len(events):
            return pat
        pos += 1
    return None
def collect(sock, missing_of):
    """Read log lines until missing_of(lines) is None (10 s at most):
    they come from a logger thread.  Returns (missing, lines)."""
    got, missing, t0 = "", "(nothing read)", time.time()
    sock.settimeout(0.2)
    while missing and time.time() - t0 < 10:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            chunk = b""
        got += chunk.decode(errors="replace")
        missing = missing_of(got)
    return missing, got
missing, got = collect(w, in_order)
check("watch: memcached's item_get and item_store lines, in order (keys URI-encoded)",
      missing is None, "missing: %s\n%s" % (missing, got))

ce = conn()
ce.sendall(b"watch connevents\r\n")
check("watch connevents: OK", read_until(ce, b"\r\n") == "OK\r\n")
e = conn()
e_port = e.getsockname()[1]
e.sendall(b"version\r\nquit\r\n"); read_until(e, b"\r\n"); e.close()
h = conn()
h_port = h.getsockname()[1]
h.sendall(b"GET / HTTP/1.1\r\n"); read_until(h, b"\r\n"); h.close()
want_ce = [r"type=conn_new rip=127.0.0.1 rport=%d transport=tcp cfd=\d+" % e_port,
           r"type=conn_close rip=127.0.0.1 rport=%d transport=tcp reason=normal cfd=\d+" % e_port,
           r"type=conn_new rip=127.0.0.1 rport=%d transport=tcp cfd=\d+" % h_port,
           r"type=conn_close rip=127.0.0.1 rport=%d transport=tcp reason=error cfd=\d+" % h_port]
# in order per connection (memcached's workers log apart)
missing, got = collect(ce, lambda g: in_order(g, want_ce[:2]) or in_order(g, want_ce[2:]))
check("watch connevents: conn_new, then conn_close normal after quit, error after an HTTP line",
      missing is None, "missing: %s\n%s" % (missing, got))
ce.close()
w.close()
a.sendall(b"get wfoo\r\n")
check("commands go on once the watcher left", read_until(a, b"END\r\n").endswith("END\r\n"))
PYEOF
}
conns_and_watch >"$tmp/cw" 2>&1
while read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done <"$tmp/cw"
grep -q "^ok - \|^not ok - " "$tmp/cw" || not_ok "stats conns and watch: the client ran"

# -D CHAR: that delimiter, and detail collection on from the start.
stop_server
if start_tcp -t 2 -D /; then
	exchange "-D /: prefixes end at '/', collected from the start" \
		'set a/b:c 0 0 1\r\nx\r\nget a/b:c\r\nstats detail dump\r\n' \
		'STORED\r\nVALUE a/b:c 0 1\r\nx\r\nEND\r\nPREFIX a get 1 hit 1 set 1 del 0\r\nEND\r\n'
else
	not_ok "-D /: prefixes end at '/', collected from the start"
fi
finish
