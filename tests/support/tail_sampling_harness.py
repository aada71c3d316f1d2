"""Deterministic traces for the tail-sampler tests: chosen trace ids, fixed start and end times."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import Status, StatusCode

from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.sdk.tail_sampling import TailSamplingProcessor

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def trace_id_at(fraction: float) -> int:
    """A trace id whose ratio position (its lower 64 bits, as TraceIdRatioBased reads it) is `fraction`."""
    return (0x5EED << 64) | int(fraction * 2**64)


class ChosenIds(IdGenerator):
    """Trace ids from `next_trace_id` (set before each root), random span ids."""

    def __init__(self) -> None:
        self.next_trace_id = 0
        self._random = RandomIdGenerator()

    def generate_trace_id(self) -> int:
        return self.next_trace_id

    def generate_span_id(self) -> int:
        return self._random.generate_span_id()


class Harness:
    """A real TracerProvider whose only processor is the tail sampler, exporting to memory."""

    def __init__(
        self,
        settings: SamplingSettings,
        *,
        head_sampler: Sampler | None = None,
        downstream: SpanProcessor | None = None,
    ) -> None:
        self.exporter = InMemorySpanExporter()
        self.originals = InMemorySpanExporter()  # what the SDK ended, untouched by the sampler
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.sampler = TailSamplingProcessor(
            downstream or SimpleSpanProcessor(self.exporter), settings, meter_provider=self.meter_provider
        )
        self.ids = ChosenIds()
        self.provider = TracerProvider(id_generator=self.ids, sampler=head_sampler, shutdown_on_exit=False)
        self.provider.add_span_processor(SimpleSpanProcessor(self.originals))
        self.provider.add_span_processor(self.sampler)
        self.tracer = self.provider.get_tracer("tests")

    def root(self, fraction: float, start: int = T0) -> trace.Span:
        self.ids.next_trace_id = trace_id_at(fraction)
        return self.tracer.start_span("root", start_time=start)

    def child(
        self,
        parent: trace.Span,
        name: str = "chat",
        *,
        start: int = T0,
        seconds: float = 0.1,
        error: bool = False,
        cost: float | None = None,
    ) -> trace.Span:
        span = self.tracer.start_span(name, context=trace.set_span_in_context(parent), start_time=start)
        if cost is not None:
            span.set_attribute("gen_ai.usage.cost", cost)
        if error:
            span.set_status(Status(StatusCode.ERROR, "boom"))
        span.end(end_time=start + int(seconds * SECOND))
        return span

    def trace(
        self,
        fraction: float,
        *,
        seconds: float = 1.0,
        children: int = 2,
        error: bool = False,
        costs: tuple[float, ...] = (),
    ) -> int:
        """A whole trace: `children` children (the first failing if `error`), costs on the first ones."""
        root = self.root(fraction)
        for index in range(children):
            cost = costs[index] if index < len(costs) else None
            self.child(root, f"child-{index}", error=error and index == 0, cost=cost)
        root.end(end_time=T0 + int(seconds * SECOND))
        return trace_id_at(fraction)

    def flush(self) -> None:
        assert self.sampler.force_flush(10_000)

    def exported(self) -> list[ReadableSpan]:
        self.flush()
        return list(self.exporter.get_finished_spans())

    def kept(self) -> set[int]:
        return {span.context.trace_id for span in self.exported()}

    def decisions(self) -> Counter[tuple[str, str, str]]:
        counts: Counter[tuple[str, str, str]] = Counter()
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == "agentops.sampling.decisions":
                        for point in metric.data.data_points:
                            a = point.attributes
                            key = (
                                a["agentops.sampling.decision"],
                                a["agentops.sampling.reason"],
                                a["agentops.sampling.trigger"],
                            )
                            counts[key] += point.value
        return counts

    def metric_total(self, name: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            key = str(point.attributes.get("error.type"))
                            totals[key] = totals.get(key, 0) + point.value
        return totals

    def close(self) -> None:
        self.provider.shutdown()


@contextmanager
def harness(settings: SamplingSettings, **kwargs: Any) -> Iterator[Harness]:
    h = Harness(settings, **kwargs)
    try:
        yield h
    finally:
        h.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
