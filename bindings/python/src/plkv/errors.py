# SPDX-License-Identifier: MIT
"""plkv's exceptions: pymemcache's names and hierarchy.

Where pymemcache is installed, each class also derives from pymemcache's
class of the same name, so code that catches
``pymemcache.exceptions.MemcacheError`` catches plkv's too.
"""

try:
    from pymemcache import exceptions as _pm
except ImportError:  # pragma: no cover - pymemcache is optional
    _pm = None


def _bases(*ours, name):
    theirs = getattr(_pm, name, None) if _pm else None
    return ours + ((theirs,) if theirs else ())


class MemcacheError(*(_bases(name="MemcacheError") or (Exception,))):
    """Base exception class."""


class MemcacheClientError(*_bases(MemcacheError, name="MemcacheClientError")):
    """A request the store refuses: a malformed key or value, or a value
    incr/decr can't use."""


class MemcacheUnknownCommandError(
        *_bases(MemcacheClientError, name="MemcacheUnknownCommandError")):
    """Kept for pymemcache compatibility; plkv has no command parser."""


class MemcacheIllegalInputError(
        *_bases(MemcacheClientError, name="MemcacheIllegalInputError")):
    """A key or value that is not legal for memcached, refused before the
    store is touched."""


class MemcacheServerError(*_bases(MemcacheError, name="MemcacheServerError")):
    """The store could not do it: a value over the item size limit, out of
    memory without eviction, a store that can't be opened."""


class MemcacheUnknownError(*_bases(MemcacheError, name="MemcacheUnknownError")):
    """Kept for pymemcache compatibility; plkv never raises it."""


class MemcacheUnexpectedCloseError(
        *_bases(MemcacheServerError, name="MemcacheUnexpectedCloseError")):
    """Kept for pymemcache compatibility: there is no connection to lose."""
