"""Throughput of the tail sampler: spans per second through it into a no-op exporting processor.

Spans are made beforehand with a real TracerProvider (traces of 10 spans, GenAI-like attributes, 1 in 20
traces failed, ratio 0.5) so only the sampler is timed. The process is pinned to one core, so the app
thread and the sampler's worker share it, as they would in a busy single-core container. Prints the
rate of the caller's ``on_end`` path alone and of the whole hand-on (``force_flush`` waited for), and
the memory one buffered span costs (tracemalloc).

    .venv/bin/python benchmarks/tail_sampling.py [--spans 200000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_agentops.config.sampling import SamplingSettings
from otel_agentops.sdk.tail_sampling import TailSamplingProcessor

SPANS_PER_TRACE = 10


class Discard(SpanProcessor):
    def __init__(self) -> None:
        self.received = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.received += 1


def make_spans(count: int) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    for trace_number in range(count // SPANS_PER_TRACE):
        with tracer.start_as_current_span("invoke_agent bench"):
            for step in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                    span.set_attributes(
                        {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini",
                            "gen_ai.usage.input_tokens": 120,
                            "gen_ai.usage.output_tokens": 40,
                            "gen_ai.usage.cost": 0.0001,
                        }
                    )
                    if trace_number % 20 == 0 and step == 0:
                        span.set_status(Status(StatusCode.ERROR))
    return list(exporter.get_finished_spans())


def run_once(spans: list[ReadableSpan]) -> tuple[float, float, int]:
    sink = Discard()
    sampler = TailSamplingProcessor(sink, SamplingSettings(ratio=0.5, max_spans=len(spans)))
    on_end = sampler.on_end
    start = time.perf_counter()
    for span in spans:
        on_end(span)
    caller = time.perf_counter() - start
    sampler.force_flush()
    total = time.perf_counter() - start
    sampler.shutdown()
    return len(spans) / caller, len(spans) / total, sink.received


def bytes_per_buffered_span(spans: list[ReadableSpan]) -> float:
    """What buffering costs beyond the spans themselves (which the SDK made anyway): roots held back."""
    children = [span for span in spans if span.parent is not None][:20_000]
    sampler = TailSamplingProcessor(Discard(), SamplingSettings(max_spans=len(children)))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for span in children:
        sampler.on_end(span)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    sampler.shutdown()
    return (after - before) / len(children)


def span_size() -> float:
    """Memory one SDK span with 6 attributes holds: what a buffer keeps alive per span."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fresh = make_spans(2_000)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del fresh
    return (after - before) / 2_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    spans = make_spans(args.spans)
    results = [run_once(spans) for _ in range(args.repeats)]
    caller = statistics.median(r[0] for r in results)
    total = statistics.median(r[1] for r in results)
    kept = results[0][2]
    print(f"tail sampler, one core, {len(spans)} spans in traces of {SPANS_PER_TRACE}, ratio 0.5")
    print(f"  caller's on_end path   {caller:>10,.0f} spans/s")
    print(f"  end to end (handed on) {total:>10,.0f} spans/s   ({kept} spans kept)")
    print(f"  buffering overhead     {bytes_per_buffered_span(spans):>10,.0f} bytes per buffered span")
    print(f"  a buffered span itself {span_size():>10,.0f} bytes (SDK span, 6 attributes)")


if __name__ == "__main__":
    main()
