# SPDX-License-Identifier: MIT
"""Bad input raises what pymemcache raises for it (plkv's exception
classes derive from pymemcache's, so one pytest.raises fits both), and
the store is left as it was."""

import pytest
from pymemcache import exceptions as pm

import plkv

BAD = [
    # (what, call, pymemcache's exception)
    ("key with a space", lambda c: c.set("a b", b"v"),
     pm.MemcacheIllegalInputError),
    ("key with a tab", lambda c: c.get("a\tb"), pm.MemcacheIllegalInputError),
    ("key with a newline", lambda c: c.get_many(["ok", "a\nb"]),
     pm.MemcacheIllegalInputError),
    ("key of 251 bytes", lambda c: c.set("k" * 251, b"v"),
     pm.MemcacheIllegalInputError),
    ("key of 251 bytes in a multi-get", lambda c: c.get_many(["k" * 251]),
     pm.MemcacheIllegalInputError),
    ("non-ASCII key", lambda c: c.get("ключ"), pm.MemcacheIllegalInputError),
    ("key with NUL", lambda c: c.delete("a\0b"), pm.MemcacheIllegalInputError),
    ("non-ASCII str value without serde", lambda c: c.set("k", "é"),
     pm.MemcacheIllegalInputError),
    ("expire not an int", lambda c: c.set("k", b"v", expire="10"),
     pm.MemcacheIllegalInputError),
    ("touch expire not an int", lambda c: c.touch("k", 1.5),
     pm.MemcacheIllegalInputError),
    ("cas not digits", lambda c: c.cas("k", b"v", "12a"),
     pm.MemcacheIllegalInputError),
    ("cas of another type", lambda c: c.cas("k", b"v", 1.0),
     pm.MemcacheIllegalInputError),
    ("incr by a str", lambda c: c.incr("num", "1"),
     pm.MemcacheIllegalInputError),
    ("incr by a negative number", lambda c: c.incr("num", -1),
     pm.MemcacheClientError),
    ("incr of a non-number", lambda c: c.incr("text", 1),
     pm.MemcacheClientError),
    ("value over the item size limit", lambda c: c.set("k", b"x" * (2 << 20)),
     pm.MemcacheServerError),
    ("append past the item size limit",
     lambda c: c.append("text", b"x" * (1 << 20)), pm.MemcacheServerError),
    ("flush_all delay not an int", lambda c: c.flush_all("1"),
     pm.MemcacheIllegalInputError),
]


def prepare(c):
    c.set("num", b"1")
    c.set("text", b"abc")


@pytest.mark.parametrize("what,call,exc", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_like_pymemcache(mc, pm, what, call, exc):
    prepare(mc)
    with pytest.raises(exc) as ours:
        call(mc)
    assert isinstance(ours.value, plkv.MemcacheError)
    with pytest.raises(exc):
        call(pm)
    # nothing was stored, nothing changed
    assert mc.get_many(["k", "num", "text"]) == {"num": b"1", "text": b"abc"}


@pytest.mark.parametrize("key", ["", "a\x01b", "a\x7fb", b"\x1f"])
def test_keys_the_store_refuses(mc, key):
    with pytest.raises(plkv.MemcacheIllegalInputError):
        mc.set(key, b"v")
    with pytest.raises(plkv.MemcacheIllegalInputError):
        mc.get(key)


def test_key_of_250_bytes_with_prefix(segment):
    c = plkv.Client(segment, key_prefix=b"p:")
    assert c.set("k" * 248, b"v")
    assert c.get("k" * 248) == b"v"
    with pytest.raises(plkv.MemcacheIllegalInputError, match="too long"):
        c.get("k" * 249)


def test_key_type_errors(mc):
    with pytest.raises(TypeError):
        mc.get(5)
    with pytest.raises(TypeError):
        mc.get()
    with pytest.raises(TypeError):
        mc.get("k", None, "extra")
    with pytest.raises(TypeError):
        mc.set("k", b"v", bogus=1)


def test_negative_exptime_stores_an_expired_item(mc, pm):
    for c in (mc, pm):
        assert c.set("gone", b"v", expire=-1)
        assert c.get("gone") is None
        assert c.add("gone", b"w")
        assert c.get("gone") == b"w"


def test_values_as_buffers_and_str(mc):
    mc.set("ba", bytearray(b"raw"))
    mc.set("mv", memoryview(b"view"))
    mc.set("f", 1.5)
    assert mc.get_many(["ba", "mv", "f"]) == {
        "ba": b"raw", "mv": b"view", "f": b"1.5"}


def test_flags_out_of_range(mc):
    with pytest.raises(plkv.MemcacheIllegalInputError):
        mc.set("k", b"v", flags=1 << 32)
    with pytest.raises(plkv.MemcacheIllegalInputError):
        mc.set("k", b"v", flags=-1)


def test_serde_errors_propagate_and_ignore_exc(segment):
    class Broken:
        def serialize(self, key, value):
            return value, 0

        def deserialize(self, key, value, flags):
            raise ValueError("cannot decode")

    strict = plkv.Client(segment, serde=Broken())
    lenient = plkv.Client(segment, serde=Broken(), ignore_exc=True)
    strict.set("k", b"v")
    with pytest.raises(ValueError):
        strict.get("k")
    assert lenient.get("k", b"dflt") == b"dflt"
    assert lenient.gets("k") == (None, None)
    assert lenient.get_many(["k"]) == {}
    with pytest.raises(plkv.MemcacheIllegalInputError):
        lenient.get("bad key")


def test_large_values_round_trip(mc):
    for size in (0, 1, 2047, 2048, 2049, 65535, 65536, 500000, 1000000):
        value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        assert mc.set("v%d" % size, value)
    for size in (0, 1, 2047, 2048, 2049, 65535, 65536, 500000, 1000000):
        value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        assert mc.get("v%d" % size) == value
        assert mc.gets("v%d" % size)[0] == value
    got = mc.get_many(["v%d" % s for s in (2049, 65536, 500000, 1000000)])
    assert sorted(len(v) for v in got.values()) == [2049, 65536, 500000,
                                                    1000000]


def test_bytes_keys_are_taken_as_they_are(mc, pm):
    assert mc.set(b"caf\xc3\xa9", b"v")
    assert pm.get(b"caf\xc3\xa9") == b"v"
    assert pm.set(b"\xff", b"w")
    assert mc.get(b"\xff") == b"w"
