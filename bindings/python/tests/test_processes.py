# SPDX-License-Identifier: MIT
"""Threads, fork, multiprocessing, and a worker killed mid-call."""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import plkv


@pytest.mark.parametrize("release_gil", [None, True, False])
def test_threads_share_one_client(mc, release_gil):
    mc.release_gil = release_gil
    mc.set("counter", b"0")
    errors = []

    def worker(t):
        try:
            for i in range(2000):
                key = "t%d-%d" % (t, i % 50)
                value = (b"%d:%d:" % (t, i)) * (1 + i % 40)
                mc.set(key, value)
                got = mc.get(key)
                assert got == value, (key, got[:20])
                mc.incr("counter", 1)
                if i % 100 == 0:
                    mc.set("big%d" % t, b"B" * 100000)
                    assert len(mc.get_many(["big%d" % t, key])) == 2
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert mc.get("counter") == b"16000"
    assert mc.check()


def test_close_while_another_thread_is_in_a_call(mc):
    mc.release_gil = True
    mc.set("big", b"x" * 900000)
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            seen.append(len(mc.get("big")))

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(200):
        mc.close()
        time.sleep(0.0005)
    stop.set()
    t.join()
    assert seen and set(seen) == {900000}


def test_fork_child_reopens(mc):
    mc.set("parent", b"P")
    pid = os.fork()
    if pid == 0:  # the child uses the parent's client object as is
        code = 1
        try:
            if mc.get("parent") == b"P" and mc.set("child", b"C"):
                code = 0
            mc.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert mc.get("child") == b"C"
    assert mc.check()


_client = None


def _count(n):
    for _ in range(n):
        _client.incr("hits", 1)
    _client.set("pid%d" % os.getpid(), b"%d" % os.getpid())
    return os.getpid()


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing_pool(segment, method):
    global _client
    _client = plkv.Client(segment, default_noreply=False)
    _client.set("hits", b"0")
    ctx = multiprocessing.get_context(method)
    if method != "fork":
        # a fresh interpreter per worker: it opens its own client
        init, args = _init_worker, (segment,)
    else:
        init, args = None, ()
    with ctx.Pool(4, initializer=init, initargs=args) as pool:
        pids = pool.map(_count, [250] * 8)
    assert _client.get("hits") == b"2000"
    for pid in set(pids):
        assert _client.get("pid%d" % pid) == b"%d" % pid
    assert _client.check()


def _init_worker(segment):
    global _client
    _client = plkv.Client(segment, default_noreply=False)


CHILD = r"""
import os, sys
import plkv
c = plkv.Client(sys.argv[1], default_noreply=False)
value = b"v" * int(sys.argv[2])
print("ready", flush=True)
i = 0
while True:
    c.set("k%d" % (i % 64), value)
    c.append("log", b".")
    c.incr("n", 1)
    c.get_many(["k%d" % j for j in range(8)])
    i += 1
"""


def test_worker_killed_mid_call_leaves_store_usable(mc):
    """SIGKILL lands wherever the worker is: in Python, or inside a
    library call holding locks.  Survivors carry on and the store stays
    consistent."""
    mc.set("log", b"")
    mc.set("n", b"0")
    for round_ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, mc.segment,
             str(100 + 30000 * (round_ % 3))],
            stdout=subprocess.PIPE, env=os.environ.copy())
        assert child.stdout.readline() == b"ready\n"
        time.sleep(0.01 + 0.013 * round_)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert mc.set("survivor", b"%d" % round_)
        assert mc.get("survivor") == b"%d" % round_
        assert mc.incr("n", 1) is not None
        # (the worker's "log" may have reached the item size limit)
        assert mc.set("mark", b"%d" % round_)
        assert mc.append("mark", b"|")
        assert mc.get("mark") == b"%d|" % round_
        assert mc.check()


@pytest.mark.parametrize("point", range(1, 40, 3))
def test_killed_at_each_crash_point(mc, point):
    """The library's crash points (PLKV_CRASH) kill the worker inside its
    third mutating call, at each point in turn."""
    script = ("import sys, plkv\n"
              "c = plkv.Client(sys.argv[1], default_noreply=False)\n"
              "c.set('a', b'1'); c.set('b', b'2')\n"
              "c.set('a', b'x' * 5000)\n"
              "sys.exit(7)\n")
    env = dict(os.environ, PLKV_CRASH="3:%d:kill" % point)
    rc = subprocess.run([sys.executable, "-c", script, mc.segment],
                        env=env).returncode
    assert rc in (-signal.SIGKILL, 7)
    assert mc.get("b") == b"2"
    assert mc.get("a") in (b"1", b"x" * 5000)
    assert mc.set("a", b"after")
    assert mc.get("a") == b"after"
    assert mc.check()
