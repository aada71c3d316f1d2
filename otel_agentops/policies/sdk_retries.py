"""Switching a client's own retries off for one call, so our retry budget is the only one.

The Stainless-generated SDKs (openai, anthropic, groq, ...) retry by themselves (`max_retries=2` by
default, honouring Retry-After up to a minute or two); retried again from outside, every attempt of ours
would be up to three requests. Their `client.with_options(max_retries=0)` gives a copy that shares the
connection pool; the resource is rebuilt on it once per resource and cached.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from otel_agentops.genai.failsafe import report_internal_error

_twins: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def without_sdk_retries(wrapped: Callable[..., Any], instance: Any) -> Callable[..., Any]:
    client = getattr(instance, "_client", None)
    if getattr(client, "max_retries", 0) == 0 or not hasattr(client, "with_options"):
        return wrapped
    function = getattr(wrapped, "__func__", None)
    if function is None:
        return wrapped
    try:
        twin = _twins.get(instance)
        if twin is None:
            twin = _twins[instance] = type(instance)(client.with_options(max_retries=0))
    except Exception as exc:  # an SDK whose resources are built differently: keep its retries
        report_internal_error("switching SDK retries off", exc)
        return wrapped
    return function.__get__(twin)  # type: ignore[no-any-return]
