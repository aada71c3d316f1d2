"""Fail-open: telemetry code that breaks must never break the host app's call."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("otel_agentops")

_seen: set[tuple[str, type[BaseException]]] = set()
_seen_lock = threading.Lock()


def report_internal_error(where: str, exc: BaseException) -> None:
    """Log an internal failure once per (place, exception type) at debug level.

    Once, because an extractor broken by an SDK upgrade would otherwise log on every call of a busy
    app; debug, because the user's call went through untouched and there is nothing for them to fix.
    """
    key = (where, type(exc))
    with _seen_lock:
        if key in _seen:
            return
        _seen.add(key)
    logger.debug("otel-agentops: %s failed; telemetry for this call is incomplete", where, exc_info=exc)


def reset_reported() -> None:
    """Forget what was reported (tests)."""
    with _seen_lock:
        _seen.clear()
