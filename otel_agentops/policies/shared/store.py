"""Bytes under a key with a time to live, in Redis: what the response cache keeps when it is shared.

Keys are ``<prefix>cache:<key>`` (``agentops:cache:...`` by default). When Redis does not answer, `get`
is a miss and `set` does nothing (counted as state fallbacks ``cache.get`` / ``cache.set``): the call then
goes to the provider, which is what it would do without a cache.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from otel_agentops.policies.shared.backend import Backend, StateUnavailable


class RedisStore:
    __slots__ = ("_backend", "_prefix")

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._prefix = f"{backend.prefix}cache:"

    def get(self, key: str) -> bytes | None:
        try:
            return self._backend.run("cache.get", lambda client: _bytes(client.get(self._prefix + key)))
        except StateUnavailable:
            return None

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        name, milliseconds = self._prefix + key, max(1, math.ceil(ttl_seconds * 1000))
        with contextlib.suppress(StateUnavailable):
            self._backend.run("cache.set", lambda client: client.set(name, value, px=milliseconds))


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
