"""The export pipeline with the OTLP endpoint down: the app is not held up, memory and shutdown are bounded,
and every lost span is counted."""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from support.dead_endpoints import BlackHole, closed_port
from support.otlp_receiver import OtlpReceiver

from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.sdk.export_guard import GuardedBatchSpanProcessor
from otel_agentops.sdk.tail_sampling import TailSamplingProcessor

QUEUE, BATCH, SPANS = 256, 64, 2_000
EXPORT_TIMEOUT_S = 5  # the exporter's own timeout: longer than the app's loop, so one export stays stuck
SHUTDOWN_TIMEOUT_MS = 1_000  # OTEL_BSP_EXPORT_TIMEOUT


class Watched(SpanExporter):
    """Counts the export calls that started and finished, around the real exporter."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.started = self.finished = 0

    def export(self, spans: list[ReadableSpan]) -> SpanExportResult:
        self.started += 1
        try:
            return self.exporter.export(spans)
        finally:
            self.finished += 1

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        if "timeout_millis" in inspect.signature(self.exporter.shutdown).parameters:
            self.exporter.shutdown(timeout_millis=timeout_millis)
        else:
            self.exporter.shutdown()


def make_exporter(protocol: str, port: int) -> SpanExporter:
    if protocol == "grpc":
        return GrpcExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=EXPORT_TIMEOUT_S)
    return HttpExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=EXPORT_TIMEOUT_S)


@contextmanager
def dead_endpoint(kind: str) -> Iterator[int]:
    if kind == "closed":
        yield closed_port()
    else:
        with BlackHole() as hole:
            yield hole.port


class Pipeline:
    """Tail sampler → guarded batch processor → watched OTLP exporter, on a real TracerProvider."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.reader])
        self.exporter = Watched(exporter)
        self.batch = GuardedBatchSpanProcessor(
            self.exporter,
            max_queue_size=QUEUE,
            max_export_batch_size=BATCH,
            schedule_delay_millis=60_000,  # export on size only: exactly one batch goes out, and hangs
            export_timeout_millis=SHUTDOWN_TIMEOUT_MS,
            meter_provider=meter_provider,
        )
        self.sampler = TailSamplingProcessor(
            self.batch, SamplingSettings(ratio=1.0), meter_provider=meter_provider
        )
        self.provider = TracerProvider(shutdown_on_exit=False)
        self.provider.add_span_processor(self.sampler)
        self.tracer = self.provider.get_tracer("faults")

    def dropped(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == "agentops.export.dropped_spans":
                        for point in metric.data.data_points:
                            totals[point.attributes["error.type"]] = point.value
        return totals


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("kind", ["closed", "black-hole"])
def test_a_dead_endpoint_holds_up_nothing_and_loses_only_counted_spans(protocol, kind, caplog):
    with dead_endpoint(kind) as port, caplog.at_level(logging.WARNING, logger="otel_agentops.sdk"):
        pipeline = Pipeline(make_exporter(protocol, port))
        for number in range(SPANS):
            with pipeline.tracer.start_as_current_span(f"request {number}"):
                pass
            if number == BATCH:
                # The first batch is on its way to the dead endpoint, where it stays (retrying or hanging).
                wait_for(lambda: pipeline.exporter.started == 1)
        wait_for(lambda: pipeline.sampler.queued_spans == 0)
        # Every span ended while that one export was stuck: the app's span end never waited for it.
        assert (pipeline.exporter.started, pipeline.exporter.finished) == (1, 0)
        # Memory: one batch in flight, a full queue, the rest dropped and counted.
        assert pipeline.dropped() == {"queue_full": SPANS - QUEUE - BATCH}
        [warning] = [r for r in caplog.records if "cannot keep up" in r.getMessage()]
        assert "agentops.export.dropped_spans" in warning.getMessage()

        # force_flush honours its timeout instead of exporting the whole queue on this thread.
        started = time.monotonic()
        assert pipeline.provider.force_flush(300) is False
        assert time.monotonic() - started < 2.0

        started = time.monotonic()
        pipeline.provider.shutdown()
        elapsed = time.monotonic() - started
        # Bounded by OTEL_BSP_EXPORT_TIMEOUT (1 s here), not the SDK's fixed 30 s or the exporter's 5 s.
        assert elapsed < SHUTDOWN_TIMEOUT_MS / 1000 + 1.0, elapsed
        assert pipeline.dropped()["shutdown"] == QUEUE


def test_a_healthy_endpoint_gets_everything_and_nothing_is_counted():
    with OtlpReceiver() as receiver:
        reader = InMemoryMetricReader()
        batch = GuardedBatchSpanProcessor(
            GrpcExporter(endpoint=receiver.grpc_endpoint, insecure=True),
            meter_provider=MeterProvider(metric_readers=[reader]),
        )
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(batch)
        tracer = provider.get_tracer("healthy")
        for number in range(100):
            with tracer.start_as_current_span(f"request {number}"):
                pass
        assert provider.force_flush(10_000)
        provider.shutdown()
        assert len(receiver.spans("grpc")) == 100
        data = reader.get_metrics_data()
        names = {
            metric.name
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for metric in sm.metrics
        }
        assert "agentops.export.dropped_spans" not in names


def test_failed_exports_are_counted_once_logged_once(caplog):
    class Refusing(SpanExporter):
        def export(self, spans):
            return SpanExportResult.FAILURE

    reader = InMemoryMetricReader()
    batch = GuardedBatchSpanProcessor(
        Refusing(), max_export_batch_size=10, meter_provider=MeterProvider(metric_readers=[reader])
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(batch)
    tracer = provider.get_tracer("refused")
    with caplog.at_level(logging.WARNING, logger="otel_agentops.sdk"):
        for _ in range(3):
            for number in range(10):
                with tracer.start_as_current_span(f"request {number}"):
                    pass
            assert provider.force_flush(5_000)
        provider.shutdown()
    points = [
        point
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "agentops.export.dropped_spans"
        for point in metric.data.data_points
    ]
    assert [(p.attributes["error.type"], p.value) for p in points] == [("export_failed", 30)]
    assert len([r for r in caplog.records if "could not export" in r.getMessage()]) == 1
    assert batch.span_exporter.__class__ is Refusing


def test_shutdown_waits_for_an_export_that_finishes_in_time():
    release = threading.Event()

    class Slow(SpanExporter):
        exported = 0

        def export(self, spans):
            release.wait(0.2)
            Slow.exported += len(spans)
            return SpanExportResult.SUCCESS

    batch = GuardedBatchSpanProcessor(Slow(), export_timeout_millis=5_000)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(batch)
    tracer = provider.get_tracer("slow")
    for number in range(10):
        with tracer.start_as_current_span(f"request {number}"):
            pass
    provider.shutdown()
    assert Slow.exported == 10
