#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The layers of Documentation/architecture.rst, checked on the objects
# the build made: which file calls (or reads) which is read off their
# symbols (nm: a file that needs a symbol another file defines depends on
# it), and every dependency must go down a layer or stay within one.
# libplkv's engine files may call each other (one layer); nothing else
# may form a cycle, and plkvd's files none at all.  Prints TAP 13.
set -u

cd "$(dirname "$0")/../.." || exit 1
. test/lib/tap.sh

echo "TAP version 13"
command -v nm >/dev/null || skip_all "no nm (binutils)"
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || skip_all "no python3"
ls lib/.obj/*.o tools/server/.obj/*.o >/dev/null 2>&1 ||
	skip_all "objects not built (run make)"

out=$("$PY" - <<'EOF'
import collections, glob, os, subprocess, sys

# Top to bottom.  Files of one layer may call each other only where
# the layer says so (cycles_ok); calls across layers go down only.
LIB = [
    ("entry",   ["api.c", "open.c"], False),
    ("gate",    ["gate.c", "scan.c", "recover.c", "calls.c"], False),
    ("engine",  ["engine.c", "engine_recover.c", "assoc.c", "items.c",
                 "slabs.c", "lru.c", "ops.c", "stats.c", "check.c"], True),
    ("core",    ["lock.c", "proctab.c", "crash.c"], False),
    ("backend", ["backend_user.c", "backend_kmod.c"], False),
    ("trust",   ["trust.c"], False),
    ("leaf",    ["pkru.c", "util.c", "error.c", "number.c", "mem.c",
                 "fmt.c"], False),
]
SERVER = [
    ("main",     ["main.c"], False),
    ("net",      ["net.c"], False),
    ("machine",  ["proto.c"], False),
    ("commands", ["proto_text.c", "proto_meta.c", "proto_admin.c",
                  "prefix_stats.c"], False),
    ("common",   ["proto_common.c"], False),
    ("conn",     ["conn.c", "watch.c"], False),
    ("state",    ["server.c"], False),
]
# The engine's layer is one layer to the gate's side: neither calls the
# other (the gate reaches the engine through its registered hooks).
SIBLINGS = {("gate", "engine"), ("engine", "gate")}

def deps(objdir):
    defs, uses = {}, collections.defaultdict(set)
    for o in sorted(glob.glob(objdir + "/*.o")):
        f = os.path.basename(o)[:-2] + ".c"
        for line in subprocess.run(["nm", o], capture_output=True,
                                   text=True).stdout.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBRVWGSC":
                defs.setdefault(p[2], f)
            elif len(p) == 2 and p[0] == "U":
                uses[f].add(p[1])
    # calls.S (calls.o): a stub NAME belongs with its body NAME__impl, in
    # the body's file; the stub's call of its body is no dependency.
    for s in list(defs):
        if defs[s] == "calls.c" and s + "__impl" in defs:
            defs[s] = defs[s + "__impl"]
    g = collections.defaultdict(set)
    for f, syms in uses.items():
        for s in syms:
            t = defs.get(s)
            if f == "calls.c" and s.endswith("__impl"):
                continue
            if t and t != f:
                g[f].add((t, s))
    return defs, g

def cycles(nodes, g):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w, _ in g.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out

def check(name, objdir, layers):
    rank = {f: (i, lname, ok) for i, (lname, files, ok) in
            enumerate(layers) for f in files}
    defs, g = deps(objdir)
    files = {os.path.basename(o)[:-2] + ".c"
             for o in glob.glob(objdir + "/*.o")}
    unplaced = sorted(files - set(rank))
    print("unplaced %s %s" % (name, " ".join(unplaced) or "-"))
    up = []
    for a in sorted(g):
        for b, s in sorted(g[a]):
            if a not in rank or b not in rank:
                continue
            ra, rb = rank[a], rank[b]
            if ra[0] > rb[0] or (ra[1], rb[1]) in SIBLINGS:
                up.append("%s (%s) -> %s (%s) via %s" %
                          (a, ra[1], b, rb[1], s))
    print("upward %s %d" % (name, len(up)))
    for u in up:
        print("#   " + u)
    bad = [c for c in cycles(files, g)
           if not all(f in rank and rank[f][2] and
                      rank[f][1] == rank[c[0]][1] for f in c)]
    print("cycles %s %d" % (name, len(bad)))
    for c in bad:
        print("#   " + " ".join(c))

check("lib", "lib/.obj", LIB)
check("server", "tools/server/.obj", SERVER)
EOF
)
echo "$out" | grep '^#'

for part in lib server; do
	unplaced=$(echo "$out" | awk -v p="$part" '$1 == "unplaced" && $2 == p { $1 = $2 = ""; print }' | xargs)
	[ "$unplaced" = "-" ] && ok "$part: every file has a layer" ||
		not_ok "$part: every file has a layer (not placed: $unplaced; add it to this test and architecture.rst)"
	up=$(echo "$out" | awk -v p="$part" '$1 == "upward" && $2 == p { print $3 }')
	[ "$up" = 0 ] && ok "$part: calls go down the layers only" ||
		not_ok "$part: calls go down the layers only ($up go up)"
	cyc=$(echo "$out" | awk -v p="$part" '$1 == "cycles" && $2 == p { print $3 }')
	[ "$cyc" = 0 ] && ok "$part: no cycle outside the engine" ||
		not_ok "$part: no cycle outside the engine ($cyc)"
done

# Tools and examples see the public headers only: the build gives them no
# -Ilib, so an include of a library header would not compile.
for t in tools/server/.obj/net.o:tools/server/net.c \
	 tools/ctl/.obj/main.o:tools/ctl/main.c examples/hello:examples/hello.c; do
	target=${t%%:*} src=${t#*:}
	[ -f "$src" ] || continue
	cmd=$(make -n -B "$target" 2>/dev/null |
		sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -E -- " $src( |\$)" | head -1)
	if [ -z "$cmd" ]; then
		not_ok "$src: its compile command found"
	elif grep -Eq -- '-I *lib( |$)' <<<"$cmd"; then
		not_ok "$src is compiled without lib/ on its include path"
	else
		ok "$src is compiled without lib/ on its include path"
	fi
done
finish
