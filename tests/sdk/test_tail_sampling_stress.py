"""100k spans from several threads: the tail sampler's buffers stay within bounds, whole traces go on."""

from __future__ import annotations

import threading
import tracemalloc
from collections import Counter

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import Status, StatusCode

from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.sdk.tail_sampling import TailSamplingProcessor

TOTAL_SPANS = 100_000
THREADS = 4
MAX_TRACES, MAX_SPANS = 200, 2_000


class Counting(SpanProcessor):
    def __init__(self) -> None:
        self.per_trace: Counter[int] = Counter()

    def on_end(self, span: ReadableSpan) -> None:
        self.per_trace[span.context.trace_id] += 1


class Probe(SpanProcessor):
    """Runs right after the sampler on every span end and records the worst state it saw."""

    def __init__(self, sampler: TailSamplingProcessor) -> None:
        self.sampler = sampler
        self.max_buffered = self.max_pending = self.max_queued = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.max_buffered = max(self.max_buffered, self.sampler.buffered_spans)
        self.max_pending = max(self.max_pending, self.sampler.pending_traces)
        self.max_queued = max(self.max_queued, self.sampler.queued_spans)


def produce(tracer: trace.Tracer, budget: int, seed: int, ended: Counter[int], errors: set[int]) -> None:
    """Traces of 5 spans, every 7th failing, every 5th never ending its root, every 50th with 100 spans."""
    made, number = 0, 0
    while made < budget:
        number += 1
        size = 100 if number % 50 == 0 else 5
        root = tracer.start_span("root")
        trace_id = root.get_span_context().trace_id
        context = trace.set_span_in_context(root)
        for index in range(size - 1):
            child = tracer.start_span("child", context=context)
            if number % 7 == seed % 7 and index == 0:
                child.set_status(Status(StatusCode.ERROR))
                errors.add(trace_id)
            child.end()
            ended[trace_id] += 1
        if number % 5 != 0:  # a leaked root: the trace is decided on overflow or after the wait
            root.end()
            ended[trace_id] += 1
        made += size


def test_bounded_buffers_and_whole_traces_under_load():
    downstream = Counting()
    sampler = TailSamplingProcessor(
        downstream,
        SamplingSettings(ratio=0.5, decision_wait=0.2, max_traces=MAX_TRACES, max_spans=MAX_SPANS),
    )
    probe = Probe(sampler)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(sampler)
    provider.add_span_processor(probe)
    tracer = provider.get_tracer("stress")
    ended: list[Counter[int]] = [Counter() for _ in range(THREADS)]
    errors: list[set[int]] = [set() for _ in range(THREADS)]
    threads = [
        threading.Thread(target=produce, args=(tracer, TOTAL_SPANS // THREADS, n, ended[n], errors[n]))
        for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    provider.shutdown()  # decides what is left, hands everything on

    assert probe.max_buffered <= MAX_SPANS
    assert probe.max_pending <= MAX_TRACES
    assert probe.max_queued < 2 * MAX_SPANS
    assert sampler.buffered_spans == sampler.pending_traces == sampler.queued_spans == 0
    all_ended = sum(ended, Counter())
    assert sum(all_ended.values()) >= TOTAL_SPANS * 0.95
    # Kept traces go on whole: every span a kept trace ended, or (late spans aside) none of them.
    kept = downstream.per_trace
    assert all(kept[trace_id] == all_ended[trace_id] for trace_id in kept)
    assert set().union(*errors) <= set(kept)
    assert 0.3 < len(kept) / len(all_ended) < 0.75  # half of the rest, plus the failed ones


def test_memory_stays_bounded_when_roots_never_end():
    """tracemalloc: with nothing else holding spans, memory is what the sampler holds, whatever the load."""
    sampler = TailSamplingProcessor(
        SpanProcessor(), SamplingSettings(ratio=1.0, max_traces=MAX_TRACES, max_spans=MAX_SPANS)
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(sampler)
    tracer = provider.get_tracer("stress")
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(3_000):  # 33k spans (tracemalloc is slow): 15 times what the sampler may hold
            root = tracer.start_span("root")  # never ended: only overflow decides these traces
            context = trace.set_span_in_context(root)
            for _ in range(10):
                tracer.start_span("child", context=context, attributes={"gen_ai.usage.cost": 0.001}).end()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
        provider.shutdown()
    # ~3 KB a span: 2,000 buffered plus up to 4,000 queued is ~18 MB; 33k spans held would be ~100 MB.
    assert peak < 25 * 2**20, peak
