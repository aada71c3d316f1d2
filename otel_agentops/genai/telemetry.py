"""What every call shares, fixed when a provider is instrumented: tracer, instruments and settings."""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics, trace

from otel_agentops.config import Settings, policies, scaling
from otel_agentops.genai.content import content_json
from otel_agentops.genai.events import CallEvents
from otel_agentops.genai.metrics import GenAIMetrics
from otel_agentops.policies.chain import PolicyChain
from otel_agentops.redaction import get_redactor
from otel_agentops.version import __version__

SCOPE_NAME = "otel_agentops"


class Telemetry:
    __slots__ = (
        "capture_content",
        "capture_on_event",
        "capture_on_span",
        "events",
        "metrics",
        "policies",
        "redactor",
        "settings",
        "tracer",
    )

    def __init__(
        self,
        settings: Settings,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        logger_provider: Any = None,
    ) -> None:
        self.settings = settings
        self.capture_on_span = settings.content_capture.on_span
        self.capture_on_event = settings.content_capture.on_event
        self.capture_content = self.capture_on_span or self.capture_on_event
        self.events = CallEvents(SCOPE_NAME, logger_provider) if self.capture_on_event else None
        self.redactor = get_redactor()
        self.tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE_NAME, __version__, meter_provider)
        self.metrics = GenAIMetrics(meter)
        policy_settings = policies.load()
        scaling_settings = scaling.load()
        # None when nothing is configured: the wrappers then call the SDK directly, at no cost.
        self.policies = (
            PolicyChain(policy_settings, meter, scaling_settings)
            if policy_settings.enabled or scaling_settings.enabled
            else None
        )

    def content_json(self, value: object) -> str:
        return content_json(value, self.redactor)

    def error_description(self, error: BaseException) -> str:
        # Error messages echo requests and server replies: keys, e-mail addresses, prompt fragments.
        return self.redactor.redact_text(str(error))
