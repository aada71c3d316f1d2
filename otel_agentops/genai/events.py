"""Structured log records through the OpenTelemetry Logs API, for content capture in the event modes.

With ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=event_only`` (or ``span_and_event``) every LLM
call emits one ``gen_ai.client.inference.operation.details`` record carrying the call's attributes and its
(redacted) content, and every failed call one ``agentops.error`` record; both carry the span's trace and
span ids, so a log backend links them to the trace.
"""

from __future__ import annotations

from typing import Any

from opentelemetry._logs import Logger, SeverityNumber, get_logger
from opentelemetry.context import Context

from otel_agentops.version import __version__

DETAILS_EVENT = "gen_ai.client.inference.operation.details"
ERROR_EVENT = "agentops.error"


class CallEvents:
    __slots__ = ("_logger",)

    def __init__(self, scope: str, logger_provider: Any = None) -> None:
        self._logger: Logger = get_logger(scope, __version__, logger_provider)

    def details(self, context: Context, attributes: dict[str, Any]) -> None:
        self._logger.emit(
            context=context,
            event_name=DETAILS_EVENT,
            severity_number=SeverityNumber.INFO,
            attributes=attributes,
        )

    def error(self, context: Context, attributes: dict[str, Any], description: str) -> None:
        self._logger.emit(
            context=context,
            event_name=ERROR_EVENT,
            severity_number=SeverityNumber.ERROR,
            body=description,
            attributes=attributes,
        )
