# SPDX-License-Identifier: MIT
"""plkv.Client as Flask-Caching's memcached client (CACHE_TYPE
"MemcachedCache" takes a client object in CACHE_MEMCACHED_SERVERS)."""

import pytest

flask = pytest.importorskip("flask")
flask_caching = pytest.importorskip("flask_caching")

from pymemcache import serde  # noqa: E402
from pymemcache.client.base import Client as PmClient  # noqa: E402

import plkv  # noqa: E402


def test_flask_caching_on_plkv(segment, plkvd):
    app = flask.Flask(__name__)
    client = plkv.Client(segment, serde=serde.pickle_serde,
                         default_noreply=False)
    cache = flask_caching.Cache(app, config={
        "CACHE_TYPE": "MemcachedCache",
        "CACHE_MEMCACHED_SERVERS": client,
        "CACHE_KEY_PREFIX": "flask:",
    })
    calls = []

    @app.route("/square/<int:n>")
    @cache.cached(timeout=60)
    def square(n):
        calls.append(n)
        return str(n * n)

    with app.test_client() as web:
        assert web.get("/square/7").data == b"49"
        assert web.get("/square/7").data == b"49"
    assert calls == [7]

    with app.app_context():
        cache.set("obj", {"k": [1]})
        assert cache.get("obj") == {"k": [1]}
        assert cache.add("obj", 2) is False
        cache.set_many({"a": 1, "b": 2})
        assert cache.get_many("a", "b") == [1, 2]
        assert cache.has("a")
        cache.delete_many("a", "b")
        assert cache.get("a") is None
        # the same entry through pymemcache on plkvd
        other = PmClient(plkvd.path, serde=serde.pickle_serde)
        assert other.get("flask:obj") == {"k": [1]}
        other.close()
        cache.clear()
        assert cache.get("obj") is None
