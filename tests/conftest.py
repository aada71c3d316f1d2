"""Shared fixtures: real SDK providers with in-memory exporters, the fake provider, instrumentation."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_agentops
from otel_agentops.fake_provider import FakeProvider
from otel_agentops.genai.failsafe import reset_reported

# tests/litellm_provider runs in .venv-litellm only (LiteLLM pins openai<3; this venv tests openai 3).
collect_ignore = [] if importlib.util.find_spec("litellm") else ["litellm_provider"]


class Telemetry:
    """What the instrumentation exported during one test."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        # Simple, not batch: a test counts spans, and the batch processor may drop under load.
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.log_exporter = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))

    def log_records(self) -> list[Any]:
        return [data.log_record for data in self.log_exporter.get_finished_logs()]

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        points = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake_provider(fake: FakeProvider) -> Iterator[FakeProvider]:
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def instrument(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Telemetry]]:
    """instrument(**env) sets the environment, instruments with this test's providers, returns telemetry."""
    reset_reported()

    def do(**env: str) -> Telemetry:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        otel_agentops.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            logger_provider=telemetry.logger_provider,
        )
        return telemetry

    yield do
    otel_agentops.uninstrument()


@pytest.fixture
def instrumented(instrument: Callable[..., Telemetry]) -> Telemetry:
    return instrument()
