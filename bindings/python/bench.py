#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python get/set: plkv.Client against pymemcache over a UNIX socket.

    python3 bindings/python/bench.py [--quick] [--ops N] [--reps N]

Three clients on the same workload (1,000 keys of 16-20 bytes, 100-byte
values, all present): plkv.Client on a store in shared memory, pymemcache
to plkvd on a UNIX socket (plkvd serving that same store), pymemcache to
memcached on a UNIX socket.  For each: the latency of one get and one set
(median of --reps runs of --ops calls, and the 99th percentile of single
calls), then throughput with 1 and 2 worker processes calling for
--seconds each, and gets per second under each GIL policy.  Ratios are taken
within one run: the figures themselves move with the machine and its load.
Needs plkvd (tools/plkvd, or $PLKVD) and memcached (skipped if missing).
"""

import argparse
import multiprocessing
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import plkv
from pymemcache.client.base import Client as PmClient

TOP = Path(__file__).resolve().parents[2]
KEYS = ["bench:key:%06d" % i for i in range(1000)]
VALUE = b"v" * 100


def start_server(argv, path):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("%s did not start" % argv[0])


def make_client(kind, target):
    if kind == "plkv":
        return plkv.Client(target, default_noreply=False)
    return PmClient(target, default_noreply=False)


def per_call(client, op, ops):
    """Mean µs per call over ops calls."""
    keys = KEYS
    n = len(keys)
    if op == "get":
        f = client.get
        t0 = time.perf_counter()
        for i in range(ops):
            f(keys[i % n])
    else:
        f = client.set
        t0 = time.perf_counter()
        for i in range(ops):
            f(keys[i % n], VALUE)
    return (time.perf_counter() - t0) / ops * 1e6


def p99(client, op, samples):
    f = client.get if op == "get" else client.set
    args = (lambda k: (k,)) if op == "get" else (lambda k: (k, VALUE))
    clock = time.perf_counter_ns
    t = []
    for i in range(samples):
        a = args(KEYS[i % len(KEYS)])
        t0 = clock()
        f(*a)
        t.append(clock() - t0)
    t.sort()
    return t[int(len(t) * 0.99)] / 1000


def _worker(kind, target, op, seconds, start, out):
    client = make_client(kind, target)
    per_call(client, op, 1000)          # warm
    start.wait()
    done, t0 = 0, time.perf_counter()
    while True:
        per_call(client, op, 1000)
        done += 1000
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    out.put(done / elapsed)


def throughput(kind, target, op, seconds, procs):
    """Calls per second of procs processes together, each calling for
    about the given seconds."""
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(procs + 1), ctx.Queue()
    ps = [ctx.Process(target=_worker,
                      args=(kind, target, op, seconds, start, out))
          for _ in range(procs)]
    for p in ps:
        p.start()
    start.wait()
    rates = [out.get() for _ in ps]
    for p in ps:
        p.join()
    return sum(rates)


def gil_table(segment, seconds):
    """What releasing the GIL around a get costs and buys: gets per second
    alone, and beside a thread doing pure Python work (whose own rate is
    shown too), under release_gil False and True."""
    import threading
    client = plkv.Client(segment)
    sizes = (100, 64 << 10, 1 << 20)
    print()
    print("GIL policy (plkv.Client.release_gil): gets per second; beside a "
          "busy thread, also that thread's loops per second")
    print()
    print("| value | get alone, GIL held | get alone, GIL released | "
          "beside a busy thread, held | beside a busy thread, released |")
    print("|---|---|---|---|---|")
    for size in sizes:
        key = "gil:%d" % size
        client.set(key, b"g" * (size - 200 if size >= 1 << 20 else size))
        cells = []
        for busy in (False, True):
            for policy in (False, True):
                client.release_gil = policy
                stop = threading.Event()
                counts = [0, 0]

                def getter():
                    n, get = 0, client.get
                    while not stop.is_set():
                        for _ in range(100):
                            get(key)
                        n += 100
                    counts[0] = n

                def python_work():
                    n = 0
                    while not stop.is_set():
                        sum(range(50))
                        n += 1
                    counts[1] = n

                ts = [threading.Thread(target=getter)]
                if busy:
                    ts.append(threading.Thread(target=python_work))
                for t in ts:
                    t.start()
                time.sleep(seconds)
                stop.set()
                for t in ts:
                    t.join()
                rate = "{:,.0f}".format(counts[0] / seconds)
                if busy:
                    rate += " / {:,.0f}".format(counts[1] / seconds)
                cells.append(rate)
        label = ("%d B" % size if size < 1024 else "%d KiB" % (size >> 10)
                 if size < 1 << 20 else "1 MiB")
        print("| %s | %s |" % (label, " | ".join(cells)))
    client.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="few calls: checks that it runs, not a measurement")
    ap.add_argument("--ops", type=int, default=100000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0,
                    help="each throughput run's length")
    args = ap.parse_args()
    if args.quick:
        args.ops, args.reps, args.seconds = 2000, 1, 0.05
    os.environ.setdefault("PLKV_BACKEND", "user")

    tmp = tempfile.mkdtemp(prefix="plkv-pybench-")
    segment = "pybench-%d" % os.getpid()
    servers = []
    try:
        plkv.Client(segment, create=True).close()
        targets = [("plkv.Client (shared memory)", "plkv", segment)]
        plkvd = os.environ.get("PLKVD", str(TOP / "tools" / "plkvd"))
        path = os.path.join(tmp, "plkvd.sock")
        servers.append(start_server(
            [plkvd, "--segment", segment, "-s", path, "-t", "2"], path))
        targets.append(("pymemcache -> plkvd (UNIX socket)", "pm", path))
        memcached = shutil.which("memcached")
        if memcached:
            path = os.path.join(tmp, "memcached.sock")
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            if user:    # memcached drops to nobody, who makes the socket
                os.chown(tmp, pwd.getpwnam("nobody").pw_uid, -1)
            servers.append(start_server(
                [memcached, "-s", path, "-t", "2", "-m", "64", "-U", "0"] +
                user, path))
            targets.append(("pymemcache -> memcached (UNIX socket)", "pm",
                            path))
        else:
            print("(memcached not installed: its rows are left out)")

        rows = []
        for label, kind, target in targets:
            client = make_client(kind, target)
            for k in KEYS:
                client.set(k, VALUE)
            row = {"label": label}
            for op in ("get", "set"):
                per_call(client, op, min(args.ops, 5000))   # warm
                row[op] = statistics.median(
                    per_call(client, op, args.ops) for _ in range(args.reps))
                row[op + "99"] = p99(client, op, min(args.ops, 20000))
                for procs in (1, 2):
                    row["%s_tp%d" % (op, procs)] = statistics.median(
                        throughput(kind, target, op, args.seconds, procs)
                        for _ in range(max(1, args.reps // 2)))
            client.close()
            rows.append(row)

        base = rows[0]
        print("Python %s, %d calls x %d runs, 100 B values, 1,000 keys; "
              "%d CPUs" % (sys.version.split()[0], args.ops, args.reps,
                           os.cpu_count()))
        print()
        head = ("| client | get µs | get p99 µs | set µs | set p99 µs | "
                "gets/s 1 proc | gets/s 2 procs | sets/s 1 proc | "
                "sets/s 2 procs | plkv's speedup (get, set) |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for r in rows:
            print("| %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s |"
                  % (r["label"], r["get"], r["get99"], r["set"], r["set99"],
                     "{:,.0f}".format(r["get_tp1"]),
                     "{:,.0f}".format(r["get_tp2"]),
                     "{:,.0f}".format(r["set_tp1"]),
                     "{:,.0f}".format(r["set_tp2"]),
                     "-" if r is base else "%.0fx, %.0fx" % (
                         r["get"] / base["get"], r["set"] / base["set"])))
        gil_table(segment, args.seconds)
    finally:
        for s in servers:
            s.terminate()
            s.wait()
        try:
            plkv.destroy(segment)
        except OSError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
