"""`invoke_agent`, `execute_tool` and `invoke_workflow` spans: one object per operation, ended exactly once.

Shared by the decorators / context managers of `otel_agentops.agents.api`, the env-configured function
spans and the framework and MCP instrumentations, so every agent-level span has the same attributes,
metrics and error handling.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_agentops.config import Settings
from otel_agentops.genai import semconv, tool_joins
from otel_agentops.genai.content import content_json
from otel_agentops.genai.conversation import conversation_id
from otel_agentops.genai.errors import error_type
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.tool_use import tool_call_count
from otel_agentops.version import __version__

AGENT = "invoke_agent"
TOOL = "execute_tool"
WORKFLOW = "invoke_workflow"
SCOPE_NAME = "otel_agentops"


class AgentTelemetry:
    __slots__ = ("capture", "duration", "tool_calls", "tracer")

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE_NAME, __version__, meter_provider)
        self.tool_calls = tool_call_count(meter)
        self.duration = meter.create_histogram(
            semconv.METRIC_AGENT_OPERATION_DURATION,
            unit="s",
            description="Duration of agent runs, tool executions and workflows",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        self.capture = Settings.from_env().content_capture.on_span

    def start(
        self,
        operation: str,
        name: str,
        *,
        agent_id: str | None = None,
        tool_call_id: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> OperationSpan:
        return OperationSpan(self, operation, name, agent_id, tool_call_id, attributes)


class OperationSpan:
    """Use as a context manager (attaches the span as current inside the block) or call `end()`."""

    __slots__ = ("_ended", "_error_type", "_start", "_telemetry", "_token", "name", "operation", "span")

    def __init__(
        self,
        telemetry: AgentTelemetry,
        operation: str,
        name: str,
        agent_id: str | None,
        tool_call_id: str | None,
        extra: dict[str, Any] | None,
    ) -> None:
        self._telemetry = telemetry
        self.operation = operation
        self.name = name
        attributes: dict[str, Any] = {semconv.OPERATION_NAME: operation}
        if operation == TOOL:
            attributes[semconv.TOOL_NAME] = name
            attributes[semconv.TOOL_TYPE] = "function"
            if tool_call_id is None:
                tool_call_id = tool_joins.claim(name)
            if tool_call_id:
                attributes[semconv.TOOL_CALL_ID] = tool_call_id
        elif operation == AGENT:
            attributes[semconv.AGENT_NAME] = name
            if agent_id:
                attributes[semconv.AGENT_ID] = agent_id
        else:
            attributes[semconv.WORKFLOW_NAME] = name
        conversation = conversation_id()
        if conversation:
            attributes[semconv.CONVERSATION_ID] = conversation
        if extra:
            attributes.update(extra)
        self.span: Span = telemetry.tracer.start_span(
            f"{operation} {name}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        self._start = time.perf_counter()
        self._ended = False
        self._error_type: str | None = None
        self._token: object | None = None

    def __enter__(self) -> OperationSpan:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        self.end(exc)

    @property
    def context(self) -> otel_context.Context:
        return trace.set_span_in_context(self.span)

    def record_arguments(self, arguments: Any) -> None:
        self._content(semconv.TOOL_CALL_ARGUMENTS, arguments)

    def record_result(self, result: Any) -> None:
        self._content(semconv.TOOL_CALL_RESULT, result)

    def _content(self, key: str, value: Any) -> None:
        # Tool arguments and results are content: only with the opt-in, and always through the redactor.
        if not self._telemetry.capture or self.operation != TOOL:
            return
        try:
            self.span.set_attribute(key, content_json(value))
        except Exception as exc:
            report_internal_error("tool content capture", exc)

    def mark_error(self, kind: str) -> None:
        """A failure reported without an exception (e.g. an MCP result with isError): `error.type` at end."""
        self._error_type = kind

    def end(self, error: BaseException | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        telemetry = self._telemetry
        labels = {semconv.OPERATION_NAME: self.operation, _NAME_KEYS[self.operation]: self.name}
        try:
            kind = error_type(error) if error is not None else self._error_type
            if kind is not None:
                self.span.set_attribute(semconv.ERROR_TYPE, kind)
                self.span.set_status(Status(StatusCode.ERROR, kind))
                labels[semconv.ERROR_TYPE] = kind
            telemetry.duration.record(time.perf_counter() - self._start, labels)
            if self.operation == TOOL:
                telemetry.tool_calls.add(self.name, "executed")
        except Exception as exc:
            report_internal_error("ending an agent span", exc)
        finally:
            self.span.end()


_NAME_KEYS = {AGENT: semconv.AGENT_NAME, TOOL: semconv.TOOL_NAME, WORKFLOW: semconv.WORKFLOW_NAME}


class _Current:
    """The telemetry the decorators use: the instrumentor's providers once instrumented, else the globals."""

    telemetry: AgentTelemetry | None = None


def current() -> AgentTelemetry:
    telemetry = _Current.telemetry
    if telemetry is None:
        telemetry = _Current.telemetry = AgentTelemetry()
    return telemetry


def use(telemetry: AgentTelemetry | None) -> None:
    _Current.telemetry = telemetry
