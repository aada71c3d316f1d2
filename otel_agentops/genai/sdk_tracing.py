"""Client libraries that trace themselves (anthropic, mistralai): inside one of our LLM calls, their tracer
yields to our span instead of adding a second span for the same request.

The provider wraps the SDK's tracer in `DeferringTracer`; inside a call (`IN_GENAI_CALL` in the context)
the SDK's span is then a non-recording view of ours, so what it propagates (e.g. a `traceparent` header)
names our span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_agentops.genai.call import IN_GENAI_CALL


class DeferringTracer(trace.Tracer):
    """A client's SDK tracer that, inside one of our LLM calls, yields to our span instead of adding one."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    @staticmethod
    def _ours(context: otel_context.Context | None) -> trace.Span | None:
        span = getattr(otel_context.get_value(IN_GENAI_CALL, context), "span", None)
        if span is not None and span is trace.get_current_span(context):
            return span  # type: ignore[return-value]
        return None

    def start_span(
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> trace.Span:
        ours = self._ours(context)
        if ours is not None:
            return trace.NonRecordingSpan(ours.get_span_context())
        return self._inner.start_span(name, context, *args, **kwargs)

    @contextmanager  # type: ignore[override]
    def start_as_current_span(
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        ours = self._ours(context)
        if ours is not None:
            yield trace.NonRecordingSpan(ours.get_span_context())
            return
        with self._inner.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span
