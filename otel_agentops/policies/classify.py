"""Which failures are worth retrying, and what the server said about when.

Works on the exceptions of the Stainless-generated SDKs (openai, anthropic, groq, ...) by duck typing
(`status_code`, `response.headers`), on botocore's `ClientError` (whose `response` is a dict with
`ResponseMetadata`) and on the standard connection / timeout errors, so that it needs no import of any SDK.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from typing import Any

# 408 timeout, 409 conflict (lock contention), 429 rate limited; every 5xx incl. Anthropic's 529 overloaded.
_TRANSIENT_STATUS = frozenset({408, 409, 429})
_CONNECTION_NAMES = (
    "ConnectionError",
    "TimeoutError",
    "Timeout",
    "APIConnectionError",
    "APITimeoutError",
    # botocore's: ConnectionClosedError does not derive from any ConnectionError
    "HTTPClientError",
    "ConnectionClosedError",
    "EndpointConnectionError",
    "ReadTimeoutError",
)


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    else:
        status = getattr(response, "status_code", None)
        if not isinstance(status, int):
            status = getattr(response, "status", None)  # aiohttp (google-genai's async client)
    if not isinstance(status, int):
        code = getattr(exc, "code", None)  # google-genai's APIError, whatever transport it came from
        status = code if isinstance(code, int) and 100 <= code <= 599 else None
    return status


def headers_of(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        return response.get("ResponseMetadata", {}).get("HTTPHeaders")
    return getattr(response, "headers", None)


def is_transient(exc: BaseException) -> bool:
    """Connection errors, timeouts, 408/409/429 and 5xx; `x-should-retry` from the server wins."""
    if not isinstance(exc, Exception):  # KeyboardInterrupt, CancelledError, SystemExit: never
        return False
    headers = headers_of(exc)
    if headers is not None:
        should_retry = headers.get("x-should-retry")
        if should_retry == "true":
            return True
        if should_retry == "false":
            return False
    status = status_of(exc)
    if status is not None:
        return status in _TRANSIENT_STATUS or status >= 500
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in _CONNECTION_NAMES for cls in type(exc).__mro__)


def retry_after(exc: BaseException, now: float) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or HTTP date)."""
    headers = headers_of(exc)
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)
