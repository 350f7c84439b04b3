# SPDX-License-Identifier: MIT
"""A Django cache backend on a plkv store.

    CACHES = {
        "default": {
            "BACKEND": "plkv.django.PlkvCache",
            "LOCATION": "web",             # the store's name
            "OPTIONS": {"create": True},   # plkv.Client arguments
        }
    }

It is Django's own PyMemcacheCache (pickle serde, unicode keys, replies
waited for) with plkv.Client in place of pymemcache's HashClient: every
worker process on the host shares the one store without a socket.
"""

from django.core.cache.backends.memcached import PyMemcacheCache

import plkv


class PlkvCache(PyMemcacheCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = plkv.Client

    @property
    def client_servers(self):
        # One store, not a server list: the first LOCATION names it.
        return self._servers[0] if self._servers and self._servers[0] else None

    def close(self, **kwargs):
        # A shared mapping, not a connection: keep it across requests.
        pass
