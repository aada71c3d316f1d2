"""Where a call goes: `server.address` / `server.port` and the provider name, from the client's base URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from otel_agentops.genai import semconv

_DEFAULT_PORTS = {"https": 443, "http": 80}
_MAX_CLIENTS = 256

# Provider name from (client, host, port); each provider module knows its own hosts and client classes.
ProviderOf = Callable[[Any, str | None, int | None], str]


class Endpoints:
    """Per-client cache: the base URL is parsed once, and again only when the client's base URL changes."""

    __slots__ = ("_cache", "_provider_of")

    def __init__(self, provider_of: ProviderOf) -> None:
        self._provider_of = provider_of
        self._cache: dict[int, tuple[Any, type, str, dict[str, Any]]] = {}

    def __call__(self, instance: Any) -> tuple[Any, str, dict[str, Any]]:
        """(client, provider name, server attributes) for the client behind an SDK resource."""
        client = getattr(instance, "_client", None)
        base_url = getattr(client, "base_url", None)
        cached = self._cache.get(id(client))
        # The URL object and the client's class too: an id can be reused by a new client after the old
        # one is freed, and the provider name may depend on the class (Anthropic on Bedrock or Vertex).
        if cached is not None and cached[0] is base_url and cached[1] is type(client):
            return client, cached[2], cached[3]
        attrs: dict[str, Any] = {}
        host = getattr(base_url, "host", None) or None
        port = None
        if host:
            port = getattr(base_url, "port", None) or _DEFAULT_PORTS.get(getattr(base_url, "scheme", ""))
            attrs[semconv.SERVER_ADDRESS] = host
            if port:
                attrs[semconv.SERVER_PORT] = port
        provider = self._provider_of(client, host, port)
        if len(self._cache) >= _MAX_CLIENTS:
            self._cache.clear()
        self._cache[id(client)] = (base_url, type(client), provider, attrs)
        return client, provider, attrs


@lru_cache(maxsize=128)
def url_attributes(url: str) -> Mapping[str, Any]:
    """`server.address` / `server.port` of a base URL string (read-only, parsed once per URL); empty for a
    URL without a host or one that does not parse."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return MappingProxyType({})
    if not host:
        return MappingProxyType({})
    attrs: dict[str, Any] = {semconv.SERVER_ADDRESS: host}
    if port:
        attrs[semconv.SERVER_PORT] = port
    return MappingProxyType(attrs)


class UrlEndpoints(Endpoints):
    """`Endpoints` for SDKs whose resources hold no httpx client (mistralai, cohere): `url_of(instance)` gives
    the base URL string."""

    __slots__ = ("_name", "_url_of")

    def __init__(self, provider: str, url_of: Callable[[Any], str | None]) -> None:
        super().__init__(lambda _client, _host, _port: provider)
        self._name = provider
        self._url_of = url_of

    def __call__(self, instance: Any) -> tuple[Any, str, dict[str, Any]]:
        return instance, self._name, dict(url_attributes(self._url_of(instance) or ""))
