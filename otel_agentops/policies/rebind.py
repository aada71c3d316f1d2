"""The same SDK method on a copy of its client with other options: another base URL (load balancing) or
the SDK's own retries switched off (our retry policy then owns the whole budget).

The Stainless-generated SDKs (openai, anthropic, groq, ...) retry by themselves (`max_retries=2` by
default); retried again from outside, every attempt of ours would be up to three requests. Their
`client.with_options(...)` gives a copy that shares the connection pool; the resource is rebuilt on that
copy once per (resource, options) and cached, so a call costs a dictionary lookup.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from otel_agentops.genai.failsafe import report_internal_error

Options = tuple[tuple[str, Any], ...]

_twins: weakref.WeakKeyDictionary[Any, dict[Options, Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def client_of(instance: Any) -> Any:
    """The SDK client a resource (e.g. `client.chat.completions`) sends through, or None."""
    client = getattr(instance, "_client", None)
    return client if hasattr(client, "with_options") else None


def with_client_options(wrapped: Callable[..., Any], instance: Any, **options: Any) -> Callable[..., Any]:
    """`wrapped` bound to a twin of `instance` whose client has `options`; `wrapped` itself if the SDK
    cannot do that (its calls then go out unchanged)."""
    client = client_of(instance)
    function = getattr(wrapped, "__func__", None)
    if client is None or function is None or not options:
        return wrapped
    key = tuple(options.items()) if len(options) == 1 else tuple(sorted(options.items()))
    try:
        by_options = _twins.get(instance)
        twin = None if by_options is None else by_options.get(key)
        if twin is None:
            twin = type(instance)(client.with_options(**options))
            with _lock:
                _twins.setdefault(instance, {})[key] = twin
    except Exception as exc:  # an SDK whose resources are built differently
        report_internal_error("rebinding an SDK resource", exc)
        return wrapped
    return function.__get__(twin)  # type: ignore[no-any-return]


def sdk_retries_on(instance: Any) -> bool:
    return getattr(client_of(instance), "max_retries", 0) != 0


_NO_RETRIES: Options = (("max_retries", 0),)


def without_sdk_retries(wrapped: Callable[..., Any], instance: Any) -> Callable[..., Any]:
    """`with_client_options(wrapped, instance, max_retries=0)` when the SDK retries by itself, else
    `wrapped`: what every call under our retry policy asks, so the twin made before is found without
    building the options again."""
    client = client_of(instance)
    if getattr(client, "max_retries", 0) == 0:
        return wrapped
    function = getattr(wrapped, "__func__", None)
    try:
        by_options = _twins.get(instance)
    except TypeError:  # not weakly referenceable: with_client_options reports it and gives `wrapped`
        by_options = None
    twin = None if by_options is None else by_options.get(_NO_RETRIES)
    if twin is None or function is None:
        return with_client_options(wrapped, instance, max_retries=0)
    return function.__get__(twin)  # type: ignore[no-any-return]
