#!/bin/bash
# SPDX-License-Identifier: MIT
#
# plkvd's own memory stays bounded (--conn-buffer-limit) whatever its
# clients do: 100 clients stop halfway through 1 MB values, 100 clients
# ask for large values and never read the replies.  Past the budget a set
# is refused with memcached's out-of-memory reply (and a set's old value
# dropped, as memcached does); once the clients go, the budget is free
# again and large values store.  Memory is plkvd's anonymous resident set
# (RssAnon), which holds the connection buffers (the store is shared
# memory).  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh
. test/integration/lib/plkvd.sh

echo "TAP version 13"
[ -x "$PLKVD" ] || skip_all "$PLKVD not built (run make)"
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || skip_all "no $PY"

start_unix -t 2 -m 64 --conn-buffer-limit 8 ||
	{ cat "$tmp/err"; not_ok "plkvd starts"; finish; }

"$PY" - "$sock" "$pid" <<'PYEOF'
import socket, sys, time

path, pid = sys.argv[1], int(sys.argv[2])
n = 0
failed = 0

def report(ok, name, detail=""):
    global n, failed
    n += 1
    print("%s %d %s" % ("ok" if ok else "not ok", n, name))
    if not ok:
        failed += 1
        for line in str(detail).splitlines():
            print("#   " + line)

def rss_anon():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) << 10
    return 0

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(20)
    return s

def ask(s, line, until=b"\r\n"):
    s.sendall(line)
    data = b""
    while not data.endswith(until):
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data

def stat(name):
    s = conn()
    out = ask(s, b"stats\r\n", b"END\r\n").decode()
    s.close()
    for line in out.split("\r\n"):
        p = line.split()
        if len(p) == 3 and p[1] == name:
            return int(p[2])
    return None

MB = 1 << 20
LIMIT = 8 * MB
V = 1000000    # a "1 MB" value under the 1 MiB item limit
base = rss_anon()
c = conn()
report(ask(c, b"set old 0 0 3\r\nold\r\n") == b"STORED\r\n", "a small set stores")

# 100 clients announce 1 MB values and stop after 600 KB.
stalled, refused = [], 0
for i in range(100):
    s = conn()
    s.sendall(b"set big%d 0 0 %d\r\n" % (i, V) + b"x" * (600 << 10))
    stalled.append(s)
time.sleep(0.5)
for s in stalled:
    s.setblocking(False)
    try:
        if s.recv(4096).startswith(b"SERVER_ERROR out of memory storing object"):
            refused += 1
    except BlockingIOError:
        pass
grown = rss_anon() - base
report(refused >= 80, "sets past the budget are refused (%d of 100)" % refused)
report(grown < LIMIT + 16 * MB,
       "memory bounded: %.1f MB more with 100 stalled 1 MB values" % (grown / MB),
       "limit %d MB" % (LIMIT // MB))
used = stat("conn_buffer_bytes")
report(used is not None and used <= LIMIT,
       "stats conn_buffer_bytes within the limit (%s)" % used)
report(ask(c, b"get old\r\n", b"END\r\n") == b"VALUE old 0 3\r\nold\r\nEND\r\n",
       "other clients' small commands still work")
r = ask(c, b"set old 0 0 %d\r\n" % V + b"y" * V + b"\r\n")
report(r == b"SERVER_ERROR out of memory storing object\r\n",
       "a large set while the budget is spent: out of memory", r[:80])
report(ask(c, b"get old\r\n", b"END\r\n") == b"END\r\n",
       "... and the set dropped the old value, as memcached's does")

for s in stalled:
    s.close()
time.sleep(0.5)
used = stat("conn_buffer_bytes")
report(used is not None and used < MB,
       "the budget comes back when the clients go (%s bytes in use)" % used)
r = ask(c, b"set old 0 0 %d\r\n" % V + b"z" * V + b"\r\n")
report(r == b"STORED\r\n", "then a 1 MB value stores", r[:80])

# 100 clients ask for 900 KB values, again and again, and read nothing.
ask(c, b"set v 0 0 %d\r\n" % (900 << 10) + b"v" * (900 << 10) + b"\r\n")
ask(c, b"set v0 0 0 1\r\n0\r\n")
base = rss_anon()
deaf = []
for i in range(100):
    s = conn()
    s.setblocking(False)
    try:
        s.send(b"get v\r\n" * 64)
    except BlockingIOError:
        pass
    deaf.append(s)
time.sleep(1.0)
grown = rss_anon() - base
report(grown < LIMIT + 24 * MB,
       "memory bounded: %.1f MB more with 100 clients not reading" % (grown / MB))
r11 = ask(c, b"get v0 v0 v0\r\n", b"END\r\n")
report(r11 == b"VALUE v0 0 1\r\n0\r\n" * 3 + b"END\r\n",
       "a reading client is still served small values", r11)
r = ask(c, b"get old v0\r\nget v0\r\n", b"END\r\n")
report(r in (b"SERVER_ERROR out of memory writing get response\r\n"
             b"VALUE v0 0 1\r\n0\r\nEND\r\n",
             b"VALUE old 0 %d\r\n" % V + b"z" * V + b"\r\nVALUE v0 0 1\r\n0\r\nEND\r\n"),
       "a large value: served, or memcached's out-of-memory reply ending the line",
       r[:100])
for s in deaf:
    s.close()
print("1..%d" % n)
sys.exit(1 if failed else 0)
PYEOF
