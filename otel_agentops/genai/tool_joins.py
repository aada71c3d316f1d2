"""Joining tool executions to the model's tool calls without the app passing the id along.

When an LLM call ends with tool calls, their ids are remembered under the trace; the next `execute_tool`
span for that tool in the same trace claims the oldest unclaimed id, so a backend can join the LLM span that
asked and the tool span that ran (`gen_ai.tool.call.id` on both sides). Keyed by trace rather than by a
context variable so that tools run in thread pools join too. Bounded: the oldest traces are forgotten.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable

from opentelemetry import trace

_MAX_TRACES = 1024
_pending: OrderedDict[int, dict[str, deque[str]]] = OrderedDict()
_lock = threading.Lock()


def _trace_id() -> int:
    return trace.get_current_span().get_span_context().trace_id


def remember(trace_id: int, calls: Iterable[tuple[str, str]]) -> None:
    """Record (tool name, call id) pairs the model asked for in this trace."""
    if not trace_id:
        return
    with _lock:
        by_name = _pending.get(trace_id)
        if by_name is None:
            by_name = _pending[trace_id] = {}
            while len(_pending) > _MAX_TRACES:
                _pending.popitem(last=False)
        for name, call_id in calls:
            by_name.setdefault(name, deque()).append(call_id)


def claim(name: str) -> str | None:
    trace_id = _trace_id()
    if not trace_id:
        return None
    with _lock:
        ids = _pending.get(trace_id, {}).get(name)
        return ids.popleft() if ids else None


def clear() -> None:
    with _lock:
        _pending.clear()
