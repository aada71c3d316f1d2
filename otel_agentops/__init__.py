"""otel-agentops: OpenTelemetry instrumentation that makes LLM and agent apps production-ready.

Zero-code: `opentelemetry-instrument python app.py`. In code, for apps that configure OpenTelemetry
themselves: `otel_agentops.instrument()` after setting up the providers, `otel_agentops.uninstrument()`
to restore the original client methods.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from otel_agentops.agents.api import agent, conversation, tool, workflow
from otel_agentops.policies.errors import CircuitOpenError, RateLimitExceeded
from otel_agentops.version import __version__

__all__ = [
    "CircuitOpenError",
    "RateLimitExceeded",
    "__version__",
    "agent",
    "conversation",
    "instrument",
    "tool",
    "uninstrument",
    "workflow",
]

_active: dict[str, Any] = {}


def instrument(
    *,
    providers: Iterable[str] | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
) -> list[str]:
    """Instrument every supported client library that is installed; returns the entry-point names done.

    `providers` limits it to some entry-point names (e.g. ``["agentops_openai"]``, see
    `otel_agentops.instrumentors`); names listed in
    ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` are skipped as under ``opentelemetry-instrument``.
    """
    from otel_agentops.instrumentors import INSTRUMENTORS, load

    disabled = {
        name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
    }
    done = []
    for name in providers if providers is not None else INSTRUMENTORS:
        if name in disabled or name in _active:
            continue
        instrumentor = load(name)()
        if instrumentor.is_instrumented_by_opentelemetry:  # already done by opentelemetry-instrument
            continue
        # Our instrumentors check their library's presence themselves and say so at debug level; the base
        # class would log an ERROR for every supported library the app does not have installed.
        instrumentor.instrument(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
            skip_dep_check=True,
        )
        if instrumentor.is_instrumented_by_opentelemetry and getattr(instrumentor, "patched_anything", True):
            _active[name] = instrumentor
            done.append(name)
        else:
            instrumentor.uninstrument()
    return done


def uninstrument() -> None:
    """Restore every method `instrument()` patched."""
    while _active:
        _name, instrumentor = _active.popitem()
        instrumentor.uninstrument()
