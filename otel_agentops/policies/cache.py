"""The response cache: the same request answered from memory (or Redis) instead of the provider.

Key: a SHA-256 of the canonical request: provider, SDK method, the client (see `client_identity`) and
every argument (model, messages, tools, temperature...; only `timeout` is left out), with the SDKs' "not
given" sentinels dropped and mappings sorted, so two requests that could get different answers, or two
clients with other credentials or deployments, never share an entry. A request with an argument that has no
canonical form (a file, a client object) is not cached.

What is stored: only a parsed response model (pydantic, as every supported SDK returns) or a plain JSON
dict (boto3); raw HTTP responses, streams and stream managers are not, and errors never are. A hit returns
a deep copy, so an app that edits its response cannot change what the next caller gets. Streaming requests
(`stream=True`) bypass the cache (recorded as `agentops.cache.bypass=stream`): replaying chunk timing
faithfully is not possible from a stored answer, and a stream handed back as one object would change the
return type.

In Redis an entry is JSON (`{"type": "module:Class", "data": ...}`); on read the class must be a pydantic
model of a client library we instrument, so a shared cache cannot make the app import or build anything
else.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import logging
import secrets
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from cachetools import TTLCache

from otel_agentops.config.scaling import CacheSettings
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.policies import clock as _clock
from otel_agentops.policies.rebind import client_of

logger = logging.getLogger(__name__)

MISS: Any = object()
_IGNORED_ARGUMENTS = frozenset({"timeout"})
# Class names of the SDKs' "argument not given" sentinels (openai/anthropic/groq NotGiven and Omit...).
_SENTINELS = frozenset({"NotGiven", "Omit", "_NotGiven", "NotGivenType"})
# Packages whose response models may be rebuilt from a shared (Redis) entry.
_SDK_PACKAGES = frozenset(
    {"openai", "anthropic", "groq", "google", "mistralai", "cohere", "ollama", "litellm", "botocore"}
)


class _NoCanonicalForm(Exception):
    pass


_object_tokens: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def client_identity(instance: Any) -> Any:
    """What makes a client's answers its own: for Stainless SDKs (openai, anthropic, groq...) the base URL
    and default headers and query (API key, organisation, project, custom headers: an Azure deployment is in
    the URL), so equal clients share entries, across processes too. Other SDKs keep credentials where we do
    not read them: their entries belong to the client object (a random token per object), and a module
    function (LiteLLM) has its credentials in its arguments."""
    if instance is None:
        return None
    client = client_of(instance)
    if client is not None:
        try:
            return [
                str(client.base_url),
                str(getattr(client, "api_key", "")),
                dict(getattr(client, "auth_headers", None) or {}),
                dict(client.default_headers),
                dict(client.default_query),
            ]
        except Exception as exc:
            report_internal_error("reading the client for the cache key", exc)
    try:
        token = _object_tokens.get(instance)
        if token is None:
            token = _object_tokens[instance] = secrets.token_hex(16)
    except TypeError:  # not weakly referenceable: no identity we can keep, no caching
        raise _NoCanonicalForm(type(instance).__name__) from None
    return token


def request_key(
    provider: str, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], client: Any = None
) -> str | None:
    """The cache key of a request, or None when the request cannot be cached."""
    try:
        canonical = {
            "provider": provider,
            "method": method,
            "client": _canonical(client),
            "args": [_canonical(arg) for arg in args],
            "kwargs": {
                key: _canonical(value)
                for key, value in kwargs.items()
                if key not in _IGNORED_ARGUMENTS and type(value).__name__ not in _SENTINELS
            },
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (_NoCanonicalForm, TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {
            str(key): _canonical(item) for key, item in value.items() if type(item).__name__ not in _SENTINELS
        }
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    dump = getattr(value, "model_dump", None)  # pydantic request objects (google-genai configs, ...)
    if callable(dump):
        return _canonical(dump(mode="json", exclude_unset=True))
    raise _NoCanonicalForm(type(value).__name__)


def cacheable(result: Any) -> bool:
    return callable(getattr(result, "model_copy", None)) or isinstance(result, dict)


# Requests that change state on the provider (OpenAI Responses API): a hit would skip that change.
STATEFUL_ARGUMENTS = ("conversation", "background")


def _copy(result: Any) -> Any:
    model_copy = getattr(result, "model_copy", None)
    return model_copy(deep=True) if callable(model_copy) else copy.deepcopy(result)


class ResponseCache:
    """LRU + TTL in this process (cachetools), or entries with a TTL in Redis."""

    def __init__(self, settings: CacheSettings, store: Any = None) -> None:
        self.settings = settings
        self._store = store  # a shared store (get/set bytes with a TTL), or None for memory
        self._memory: TTLCache[str, Any] = TTLCache(
            # a lambda, not the bound method: tests swap _clock.CLOCK after the cache exists
            maxsize=settings.max_entries,
            ttl=settings.ttl,
            timer=lambda: _clock.CLOCK.monotonic(),  # noqa: PLW0108
        )
        # cachetools caches are not thread-safe; the lock is held for dictionary operations only.
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        return self._store is not None

    def get(self, key: str) -> Any:
        """A copy of the stored response, or MISS."""
        if self._store is not None:
            raw = self._store.get(key)
            if raw is not None:
                decoded = _decode(raw)
                if decoded is not MISS:
                    return decoded
            return MISS
        with self._lock:
            found = self._memory.get(key, MISS)
        return found if found is MISS else _copy(found)

    def put(self, key: str, result: Any) -> None:
        if not cacheable(result):
            return
        if self._store is not None:
            encoded = _encode(result)
            if encoded is not None:
                self._store.set(key, encoded, self.settings.ttl)
            return
        try:
            stored = _copy(result)
        except (TypeError, copy.Error):  # e.g. a boto3 dict holding an unread StreamingBody
            return
        with self._lock:
            self._memory[key] = stored


def _encode(result: Any) -> bytes | None:
    try:
        if isinstance(result, dict):
            return json.dumps({"type": "dict", "data": result}).encode()
        cls = type(result)
        data = result.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return json.dumps({"type": f"{cls.__module__}:{cls.__qualname__}", "data": data}).encode()
    except (TypeError, ValueError):
        return None  # not JSON-clean (e.g. datetimes in a boto3 dict): kept out of the shared cache
    except Exception as exc:
        report_internal_error("encoding a cache entry", exc)
        return None


def _decode(raw: bytes) -> Any:
    try:
        entry = json.loads(raw)
        kind, data = entry["type"], entry["data"]
        if kind == "dict":
            return data if isinstance(data, dict) else MISS
        module_name, _, qualname = kind.partition(":")
        if module_name.partition(".")[0] not in _SDK_PACKAGES:
            return MISS
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        validate = getattr(cls, "model_validate", None)
        return MISS if validate is None else validate(data)
    except Exception as exc:
        report_internal_error("decoding a cache entry", exc)
        return MISS
