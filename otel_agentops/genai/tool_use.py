"""The tool-call counter (`agentops.tool.calls`-style, by tool name and origin), counted in process.

A response with tool calls adds one point per tool; through a synchronous counter each point costs the SDK
~65 k instructions (attribute cleaning and hashing, the aggregation lock), as much as the rest of our work
for the call. The counts are cumulative by nature, which is what an observable counter reports: the hot path
only bumps a dictionary entry, and the SDK reads the totals when it collects. The LLM calls and the agent
decorators share one count per meter, as they shared one counter.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otel_agentops.genai import semconv

# Distinct (tool, origin) pairs kept; a model inventing tool names must not grow memory without bound.
# Further pairs are counted together under the SDK's own overflow attribute, as its cardinality limit does.
MAX_TOOLS = 2000
_OVERFLOW = ("", "")
_OVERFLOW_ATTRIBUTES = {"otel.metric.overflow": True}


class ToolCallCount:
    __slots__ = ("__weakref__", "_counts", "_lock")

    def __init__(self, meter: Meter) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        meter.create_observable_counter(
            semconv.METRIC_TOOL_CALLS,
            callbacks=[self._observe],
            unit="{call}",
            description="Tool calls, by tool name and origin",
        )

    def add(self, name: str, origin: str) -> None:
        key = (name, origin)
        with self._lock:
            counts = self._counts
            if key not in counts and len(counts) >= MAX_TOOLS:
                key = _OVERFLOW
            counts[key] = counts.get(key, 0) + 1

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = list(self._counts.items())
        return [
            Observation(
                count,
                _OVERFLOW_ATTRIBUTES
                if key is _OVERFLOW
                else {semconv.TOOL_NAME: key[0], semconv.TOOL_CALL_ORIGIN: key[1]},
            )
            for key, count in counts
        ]


_BY_METER: weakref.WeakKeyDictionary[Any, ToolCallCount] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def tool_call_count(meter: Meter) -> ToolCallCount:
    """The count of `meter` (one observable counter per meter, whoever asks first creates it)."""
    with _REGISTRY_LOCK:
        count = _BY_METER.get(meter)
        if count is None:
            count = _BY_METER[meter] = ToolCallCount(meter)
        return count
