"""Client libraries that trace themselves (anthropic, mistralai): inside one of our LLM calls, their tracer
yields to our span instead of adding a second span for the same request.

The provider wraps the SDK's tracer in `DeferringTracer` and marks each call's context with
`defer_sdk_spans(call)`; the SDK's span is then a non-recording view of ours, so what it propagates (e.g. a
`traceparent` header) names our span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace

if TYPE_CHECKING:
    from otel_agentops.genai.call import GenAICall

LLM_SPAN_KEY = otel_context.create_key("otel-agentops-llm-span")


class DeferringTracer(trace.Tracer):
    """A client's SDK tracer that, inside one of our LLM calls, yields to our span instead of adding one."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    @staticmethod
    def _ours(context: otel_context.Context | None) -> trace.Span | None:
        span = otel_context.get_value(LLM_SPAN_KEY, context)
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


def defer_sdk_spans(call: GenAICall) -> otel_context.Context:
    """The call's context, marked so that a `DeferringTracer` yields to the call's span."""
    return otel_context.set_value(LLM_SPAN_KEY, call.span, call.context)
