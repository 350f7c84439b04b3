# SPDX-License-Identifier: MIT
"""Fixtures: fresh stores, plkvd serving them, pymemcache talking to it.

The tests import the plkv that Python finds (an installed one, or
bindings/python/src with PYTHONPATH) and run plkvd from $PLKVD, default
tools/plkvd of the tree they sit in.  Stores are on the user backend unless
PLKV_BACKEND says otherwise.
"""

import itertools
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

os.environ.setdefault("PLKV_BACKEND", "user")

import plkv  # noqa: E402 (after the backend is chosen)

TOP = Path(__file__).resolve().parents[3]
PLKVD = os.environ.get("PLKVD", str(TOP / "tools" / "plkvd"))
PREFIX = os.environ.get("PLKV_TEST_PREFIX", "") + "py%d-" % os.getpid()
_names = itertools.count()


def fresh_name():
    return "%s%d" % (PREFIX, next(_names))


@pytest.fixture
def segment():
    """A new store's name; the store is destroyed afterwards."""
    name = fresh_name()
    plkv.Client(name, create=True, size=32 << 20).close()
    yield name
    try:
        plkv.destroy(name)
    except FileNotFoundError:
        pass


@pytest.fixture
def mc(segment):
    client = plkv.Client(segment, default_noreply=False)
    yield client
    client.close()


class Plkvd:
    """plkvd on a UNIX socket, serving a store."""

    def __init__(self, segment, tmp_path):
        self.path = str(tmp_path / "plkvd.sock")
        self.proc = subprocess.Popen(
            [PLKVD, "--segment", segment, "-s", self.path, "-t", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.path)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("plkvd did not start: %s" %
                                       self.proc.stderr.read().decode())
                time.sleep(0.02)

    def raw(self, line):
        """Send one command line, return the reply up to its last line."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.path)
            s.sendall(line.encode() + b"\r\n")
            data = b""
            while not data.endswith(b"\r\n"):
                data += s.recv(4096)
            return data.decode()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def plkvd(segment, tmp_path):
    server = Plkvd(segment, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def pm(plkvd):
    """pymemcache's Client on plkvd, on the same store as mc."""
    from pymemcache.client.base import Client
    client = Client(plkvd.path, default_noreply=False)
    yield client
    client.close()
