"""Wrappers that run an app function inside an `invoke_agent` or `execute_tool` span."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agentops.genai import semconv
from otel_agentops.genai.errors import error_type
from otel_agentops.genai.telemetry import SCOPE_NAME
from otel_agentops.version import __version__

AGENT = "invoke_agent"
TOOL = "execute_tool"

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class AgentTelemetry:
    __slots__ = ("tool_calls", "tracer")

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE_NAME, __version__, meter_provider)
        self.tool_calls = meter.create_counter(
            semconv.METRIC_TOOL_CALLS, unit="{call}", description="Tool calls, by tool name and origin"
        )

    def span_wrapper(self, operation: str, name: str, target: Callable[..., Any]) -> Wrapper:
        """A wrapt wrapper for `target` (sync or async) that runs each call in its own span."""
        attributes: dict[str, Any] = {semconv.OPERATION_NAME: operation}
        if operation == AGENT:
            attributes[semconv.AGENT_NAME] = name
        else:
            attributes[semconv.TOOL_NAME] = name
            attributes[semconv.TOOL_TYPE] = "function"
        span_name = f"{operation} {name}"
        tracer = self.tracer
        counter = self.tool_calls if operation == TOOL else None
        counter_attrs = {semconv.TOOL_NAME: name, semconv.TOOL_CALL_ORIGIN: "executed"}

        @contextmanager
        def in_span() -> Iterator[None]:
            with tracer.start_as_current_span(
                span_name,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                if counter is not None:
                    counter.add(1, counter_attrs)
                try:
                    yield
                except BaseException as exc:
                    _record_error(span, exc)
                    raise

        def run(wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            with in_span():
                return wrapped(*args, **kwargs)

        async def run_async(
            wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            with in_span():
                return await wrapped(*args, **kwargs)

        if inspect.iscoroutinefunction(target):
            return lambda wrapped, _instance, args, kwargs: run_async(wrapped, args, kwargs)
        return lambda wrapped, _instance, args, kwargs: run(wrapped, args, kwargs)


def _record_error(span: trace.Span, exc: BaseException) -> None:
    span.set_attribute(semconv.ERROR_TYPE, error_type(exc))
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
