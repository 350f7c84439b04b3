# SPDX-License-Identifier: MIT
"""plkv.Client against pymemcache's Client talking to plkvd on the same
store: the same calls give the same results, and each sees the other's
writes."""

import pickle

import pytest
from pymemcache import serde as pm_serde
from pymemcache.client.base import Client as PmClient

import plkv

CAS = "<cas>"


def scenario(c):
    """Every method, as a user would call it; CAS values masked."""
    r = []
    add = r.append
    add(c.set("a", b"1"))
    add(c.get("a"))
    add(c.get("missing"))
    add(c.get("missing", b"dflt"))
    add(c.add("a", b"2"))
    add(c.add("b", b"2"))
    add(c.replace("a", b"3"))
    add(c.replace("zz", b"3"))
    add(c.append("a", b"x"))
    add(c.prepend("a", b"y"))
    add(c.append("zz", b"x"))
    add(c.prepend("zz", b"x"))
    add(c.get("a"))
    value, cas = c.gets("a")
    add((value, cas.isdigit()))
    add(c.cas("a", b"new", cas))
    add(c.cas("a", b"newer", cas))
    add(c.cas("zz", b"x", cas))
    add(c.cas("a", b"zero", 0))
    add(c.cas("zz", b"zero", "0"))
    add(c.get("a"))
    add(c.gets("zz"))
    add(c.gets("zz", b"d", b"c"))
    add(sorted(c.get_many(["a", "b", "zz"]).items()))
    add(sorted((k, v[0], CAS) for k, v in c.gets_many(["a", "b"]).items()))
    add(c.get_many([]))
    add(c.get_multi(["b"]))
    add(c.set("n", 10))
    add(c.incr("n", 5))
    add(c.decr("n", 100))
    add(c.incr("zz", 1))
    add(c.decr("zz", 1))
    add(c.incr("n", 7, noreply=True))
    add(c.get("n"))
    add(c.set("n64", b"18446744073709551615"))
    add(c.incr("n64", 2))
    add(c.touch("a", 100))
    add(c.touch("zz", 100))
    add(c.delete("b"))
    add(c.delete("b"))
    add(c.delete("b", noreply=True))
    add(c.set_many({"m1": b"1", "m2": b"2"}))
    add(c.set_multi({"m3": b"3"}, expire=100))
    add(sorted(c.get_many(["m1", "m2", "m3"]).items()))
    add(c.delete_many(["m1", "m2", "zz"]))
    add(c.delete_multi(["m3"]))
    add(c.get_many(["m1", "m2", "m3"]))
    add(c.set("expired", b"v", expire=-1))
    add(c.get("expired"))
    add(c.add("expired", b"again"))
    add(c.set("text", "text"))
    add(c.get("text"))
    add(c.set("int", 42))
    add(c.get("int"))
    add(c.set("quiet", b"x", noreply=True))
    add(c.add("quiet", b"y", noreply=True))
    add(c.replace("nope", b"y", noreply=True))
    add(c.get("quiet"))
    add(c.set("big", b"x" * 200000))
    add(len(c.get("big")))
    add(c.set("empty", b""))
    add(c.get("empty"))
    add(c.flush_all())
    add(c.get("a"))
    add(c.flush_all(delay=0, noreply=True))
    add(c.version().startswith(b"1.6.18-plkv-"))
    stats = c.stats()
    add(all(isinstance(stats[k], int)
            for k in (b"curr_items", b"get_hits", b"cmd_get", b"evictions")))
    add(stats[b"version"].__class__)
    return r


def test_same_results_as_pymemcache_on_plkvd(mc, pm):
    ours = scenario(mc)
    theirs = scenario(pm)
    assert ours == theirs


@pytest.mark.parametrize("writer", ["plkv", "pymemcache"])
def test_each_sees_the_others_writes(mc, pm, writer):
    w, r = (mc, pm) if writer == "plkv" else (pm, mc)
    assert w.set("k", b"v1", flags=0)
    assert r.get("k") == b"v1"
    assert w.append("k", b"+")
    assert r.get("k") == b"v1+"
    _, cas = r.gets("k")
    assert w.cas("k", b"v2", cas)
    assert r.gets("k")[0] == b"v2"
    assert r.cas("k", b"v3", cas) is False
    assert w.set("n", b"1")
    assert r.incr("n", 41) == 42
    assert w.get("n") == b"42"
    assert w.set_many({"x": b"1", "y": b"2"}) == []
    assert r.get_many(["x", "y", "z"]) == {"x": b"1", "y": b"2"}
    assert w.delete("x")
    assert r.get("x") is None
    assert w.flush_all()
    assert r.get("y") is None


class RecordingSerde:
    """Pickles, and remembers the flags it was handed back."""

    def __init__(self):
        self.seen = []

    def serialize(self, key, value):
        if isinstance(value, bytes):
            return value, 1
        return pickle.dumps(value), 2

    def deserialize(self, key, value, flags):
        self.seen.append((key, flags))
        return pickle.loads(value) if flags == 2 else value


def test_serde_and_flags_cross_the_socket(segment, plkvd):
    ours = plkv.Client(segment, serde=RecordingSerde(), default_noreply=False)
    s = RecordingSerde()
    theirs = PmClient(plkvd.path, serde=s, default_noreply=False)
    assert ours.set("obj", {"a": [1, 2]})
    assert theirs.get("obj") == {"a": [1, 2]}
    assert s.seen == [("obj", 2)]
    assert theirs.set("raw", b"bytes")
    assert ours.get("raw") == b"bytes"
    assert ours.serde.seen == [("raw", 1)]
    # explicit flags win over the serializer's
    assert ours.set("forced", b"x", flags=77)
    assert theirs.get("forced") == b"x"
    assert s.seen[-1] == ("forced", 77)
    theirs.close()


def test_pymemcache_pickle_serde(segment, plkvd):
    ours = plkv.Client(segment, serde=pm_serde.pickle_serde)
    theirs = PmClient(plkvd.path, serde=pm_serde.pickle_serde,
                      default_noreply=False)
    values = {"s": "ünïcode", "i": 7, "f": 1.5, "l": [1, {"x": None}],
              "b": b"\x00\xff"}
    ours.set_many(values)
    assert theirs.get_many(list(values)) == values
    theirs.set("t", (1, 2))
    assert ours.get("t") == (1, 2)
    theirs.close()


def test_legacy_serializer_functions(segment):
    c = plkv.Client(segment,
                    serializer=lambda k, v: (repr(v).encode(), 5),
                    deserializer=lambda k, v, f: (v.decode(), f))
    c.set("k", [1])
    assert c.get("k") == ("[1]", 5)


def test_gat_and_gats_touch(mc, plkvd):
    assert mc.set("k", b"v", expire=0)
    assert mc.gat("k", 1000) == b"v"
    ttl = int(plkvd.raw("mg k t").split()[1][1:])
    assert 990 <= ttl <= 1000
    value, cas = mc.gats("k", 2000)
    assert value == b"v" and cas == mc.gets("k")[1]
    assert 1990 <= int(plkvd.raw("mg k t").split()[1][1:]) <= 2000
    assert mc.gat("missing", 10) is None
    assert mc.gat("missing", 10, default=b"d") == b"d"
    assert mc.gats("missing", 10) == (None, None)
    assert mc.gat("k", -1) == b"v"
    assert mc.get("k") is None


def test_key_prefix_and_unicode_keys(segment, plkvd):
    ours = plkv.Client(segment, key_prefix=b"app:", default_noreply=False)
    theirs = PmClient(plkvd.path, default_noreply=False)
    ours.set("k", b"v")
    assert theirs.get("app:k") == b"v"
    assert ours.get_many(["k"]) == {"k": b"v"}
    assert ours.check_key("k") == b"app:k"
    uni = plkv.Client(segment, allow_unicode_keys=True)
    uni.set("ключ", b"v")
    assert uni.get("ключ") == b"v"
    assert uni.get("ключ".encode()) == b"v"
    theirs.close()


def test_dict_protocol_and_context_manager(segment):
    with plkv.Client(segment) as c:
        c["k"] = b"v"
        assert c["k"] == b"v"
        del c["k"]
        with pytest.raises(KeyError):
            c["k"]
    assert c.closed


def test_close_then_use_reopens(mc):
    mc.set("k", b"v")
    mc.close()
    assert mc.closed
    assert mc.get("k") == b"v"
    assert not mc.closed
    mc.quit()
    assert mc.get("k") == b"v"


def test_missing_store_and_bad_names(segment):
    with pytest.raises(FileNotFoundError):
        plkv.Client(segment + "-absent")
    with pytest.raises(ValueError):
        plkv.Client("x" * 64)
    with pytest.raises(plkv.MemcacheServerError):
        plkv.Client("bad/name")
    with pytest.raises(ValueError):
        plkv.Client(segment + "-tiny", create=True, size=1024)
    with pytest.raises(TypeError):
        plkv.Client(segment, key_prefix=5)


def test_exceptions_are_pymemcaches_too():
    from pymemcache import exceptions as pm
    for name in ("MemcacheError", "MemcacheClientError",
                 "MemcacheIllegalInputError", "MemcacheServerError",
                 "MemcacheUnknownCommandError", "MemcacheUnknownError",
                 "MemcacheUnexpectedCloseError"):
        assert issubclass(getattr(plkv.errors, name), getattr(pm, name))
    assert issubclass(plkv.errors.MemcacheIllegalInputError,
                      plkv.errors.MemcacheClientError)


def test_stats_groups(mc):
    mc.set("k", b"v")
    assert mc.stats()[b"curr_items"] == 1
    slabs = mc.stats("slabs")
    assert slabs[b"active_slabs"] >= 1
    assert any(k.endswith(b":chunk_size") for k in mc.stats(b"items")) or \
        any(k.startswith(b"items:") for k in mc.stats("items"))
    assert mc.stats("settings")[b"item_size_max"] == 1 << 20
    with pytest.raises(plkv.MemcacheClientError):
        mc.stats("nonsense")


def test_check_reports_a_sound_store(mc):
    for i in range(1000):
        mc.set("k%d" % i, b"v" * (i % 300))
    assert mc.check() is True
