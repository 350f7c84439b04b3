# SPDX-License-Identifier: MIT
"""plkv as Django's cache (plkv.django.PlkvCache), beside Django's own
PyMemcacheCache on plkvd serving the same store: one sees the other's
entries."""

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(CACHES={}, USE_TZ=True)
    django.setup()

from django.core.cache import caches  # noqa: E402
from django.core.cache.backends.memcached import PyMemcacheCache  # noqa: E402

from plkv.django import PlkvCache  # noqa: E402


@pytest.fixture
def both(segment, plkvd):
    ours = PlkvCache(segment, {"KEY_PREFIX": "site"})
    theirs = PyMemcacheCache("unix:" + plkvd.path, {"KEY_PREFIX": "site"})
    yield ours, theirs
    ours.close()
    theirs.close()


def test_cache_api(both):
    cache, _ = both
    assert cache.get("missing") is None
    assert cache.get("missing", "dflt") == "dflt"
    cache.set("obj", {"a": [1, 2]}, 30)
    assert cache.get("obj") == {"a": [1, 2]}
    assert cache.add("obj", "other") is False
    assert cache.add("new", "v") is True
    assert cache.get_many(["obj", "new", "missing"]) == {
        "obj": {"a": [1, 2]}, "new": "v"}
    cache.set_many({"x": 1, "y": 2})
    assert cache.incr("x") == 2
    assert cache.decr("y", 5) == 0
    with pytest.raises(ValueError):
        cache.incr("missing")
    assert cache.touch("x", 100) is True
    assert cache.touch("missing", 100) is False
    assert cache.delete("x") is True
    assert cache.delete("x") is False
    cache.delete_many(["y", "new"])
    assert cache.get_many(["y", "new"]) == {}
    cache.set("gone", "v", 0)   # Django: timeout 0 means expire at once
    assert cache.get("gone") is None
    cache.set("ключ", "значение")
    assert cache.get("ключ") == "значение"
    cache.clear()
    assert cache.get("obj") is None


@pytest.mark.parametrize("writer", [0, 1])
def test_shared_with_pymemcache_backend(both, writer):
    w, r = both[writer], both[1 - writer]
    w.set("page", "<html>", 60)
    w.set_many({"a": 1, "b": [2]})
    assert r.get("page") == "<html>"
    assert r.get_many(["a", "b"]) == {"a": 1, "b": [2]}
    assert r.incr("a", 10) == 11
    assert w.get("a") == 11
    r.delete("page")
    assert w.get("page") is None


def test_configured_through_settings(segment):
    settings.CACHES["plkv"] = {
        "BACKEND": "plkv.django.PlkvCache",
        "LOCATION": segment,
        "OPTIONS": {"release_gil": False},
    }
    cache = caches["plkv"]
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert cache._cache.segment == segment
    assert cache._cache.release_gil is False
