# SPDX-License-Identifier: MIT
"""plkv: a memcached store in shared memory, used as a library.

``plkv.Client`` has the methods, arguments, return values and exceptions of
pymemcache's ``pymemcache.client.base.Client``, but each call runs the
store's code in the calling thread on a shared memory segment instead of
sending a request over a socket.  Every process (each web worker) opens the
same segment by name and sees the others' writes at once; plkvd serves the
same segment to memcached clients elsewhere.

    >>> import plkv
    >>> mc = plkv.Client("web", create=True)
    >>> mc.set("greeting", b"hello")
    True
    >>> mc.get("greeting")
    b'hello'

See Documentation/python.rst in the plkv sources.
"""

from . import errors
from ._plkv import Client as _Client, LIBRARY_VERSION, destroy
from .errors import (  # noqa: F401 (re-exported, as pymemcache does)
    MemcacheClientError,
    MemcacheError,
    MemcacheIllegalInputError,
    MemcacheServerError,
    MemcacheUnexpectedCloseError,
    MemcacheUnknownCommandError,
    MemcacheUnknownError,
)

__all__ = ["Client", "destroy", "errors", "LIBRARY_VERSION"] + [
    n for n in dir(errors) if n.startswith("Memcache")]
__version__ = "0.1.0"


def _parse_float(value):
    return float(value.replace(b":", b"."))


def _parse_bool_int(value):
    return int(value) != 0


# pymemcache's conversions of "stats" values; everything else is an int
# where it parses as one, else bytes.
_STAT_TYPES = {
    b"version": bytes,
    b"libplkv": bytes,
    b"rusage_user": _parse_float,
    b"rusage_system": _parse_float,
    b"hash_is_expanding": _parse_bool_int,
    b"slab_reassign_running": _parse_bool_int,
    b"inter": bytes,
    b"growth_factor": float,
    b"stat_key_prefix": bytes,
    b"umask": lambda v: int(v, 8),
    b"detail_enabled": _parse_bool_int,
    b"cas_enabled": _parse_bool_int,
    b"auth_enabled_sasl": lambda v: v == b"yes",
    b"maxconns_fast": _parse_bool_int,
    b"slab_reassign": _parse_bool_int,
    b"slab_automove": _parse_bool_int,
}


class _LegacySerde:
    """pymemcache's LegacyWrappingSerde: serializer(key, value) and
    deserializer(key, value, flags) functions as one serde object."""

    def __init__(self, serializer, deserializer):
        self._serializer = serializer
        self._deserializer = deserializer

    def serialize(self, key, value):
        if self._serializer:
            return self._serializer(key, value)
        return value, 0

    def deserialize(self, key, value, flags):
        if self._deserializer:
            return self._deserializer(key, value, flags)
        return value


class Client(_Client):
    """A process's handle on the plkv store named ``segment``.

    Arguments as pymemcache's Client, except that the first names a store
    instead of a server:

    segment: the store's name (None: $PLKV_SEGMENT, else "plkv").
    create: create the store if it doesn't exist (size, item_size_max and
        backend then apply), else FileNotFoundError.
    size: the store's bytes when created (default 64 MiB).
    serde, serializer, deserializer, key_prefix, default_noreply,
    allow_unicode_keys, encoding, ignore_exc: as pymemcache's.
    backend: "user" or "kmod" (None: $PLKV_BACKEND, else kmod where
        /dev/plkv exists).
    any_owner: attach to a store another user owns (refused by default).
    release_gil: None releases the GIL only around check(), which walks
        the whole store; True around every library call; False never.

    connect_timeout, timeout, no_delay, socket_module, socket_keepalive and
    tls_context are accepted and ignored: there is no connection.  A call
    never times out; a process that died holding a lock is recovered by
    the next caller that needs it.
    """

    def __init__(self, segment=None, *, serde=None, serializer=None,
                 deserializer=None, connect_timeout=None, timeout=None,
                 no_delay=False, socket_module=None, socket_keepalive=None,
                 tls_context=None, **kwargs):
        if serde is None and (serializer or deserializer):
            serde = _LegacySerde(serializer, deserializer)
        super().__init__(segment, serde=serde, **kwargs)

    def stats(self, *args):
        """The store's statistics, memcached's names as bytes keys; args:
        nothing, or one group ("slabs", "items", "settings")."""
        if len(args) > 1:
            raise MemcacheClientError("stats takes at most one group")
        group = args[0] if args else None
        if isinstance(group, bytes):
            group = group.decode("ascii")
        result = {}
        for name, value in self._stats(group):
            try:
                result[name] = _STAT_TYPES.get(name, int)(value)
            except ValueError:
                result[name] = value
        return result

    def quit(self):
        """As pymemcache's: close; the next call reopens."""
        self.close()

    disconnect_all = close = _Client.close

    def __setitem__(self, key, value):
        self.set(key, value, noreply=True)

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __delitem__(self, key):
        self.delete(key, noreply=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<plkv.Client segment=%r%s>" % (
            self.segment, " closed" if self.closed else "")
