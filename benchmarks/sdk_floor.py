"""The OpenTelemetry SDK work a GenAI chat call's telemetry needs, done directly: no instrumentation at all.

What the semantic conventions ask of a non-streaming chat call: one CLIENT span with the request and
response attributes, a `gen_ai.client.operation.duration` point (with an exemplar) and two
`gen_ai.client.token.usage` points; otel-agentops adds a `gen_ai.usage.cost` point. Through the same
pipeline as `workload.py` (BatchSpanProcessor into a no-op exporter, in-memory metric reader), this is the
floor any instrumentation that emits them pays per call, whatever its own code costs.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/floor.out \\
        .venv/bin/python benchmarks/sdk_floor.py \\
        --helper ~/.cache/otel-agentops/bench-callgrind/libbenchcallgrind.so
    grep -H totals /tmp/floor.out.*      # instructions for --calls calls, one dump per variant

Without ``--helper`` it prints CPU µs per call instead (noisier).
"""

from __future__ import annotations

import argparse
import ctypes
import time
from collections.abc import Callable
from pathlib import Path

import workload
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

REQUEST = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "server.address": "api.openai.com",
    "server.port": 443,
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.request.temperature": 0.1,
    "gen_ai.request.max_tokens": 256,
}
RESPONSE = {
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 3,
    "gen_ai.usage.cost": 0.0000036,
}
METRIC = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "server.address": "api.openai.com",
    "server.port": 443,
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
}


def calls(with_cost: bool) -> Callable[[], None]:
    pipeline = workload.Pipeline()
    tracer = pipeline.tracer_provider.get_tracer("floor")
    meter = pipeline.meter_provider.get_meter("floor")
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    cost = meter.create_histogram("gen_ai.usage.cost", unit="USD")
    no_exemplar = Context()

    def one() -> None:
        span = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=REQUEST)
        span.set_attributes(RESPONSE)
        span.end()
        duration.record(0.001, dict(METRIC), context=trace.set_span_in_context(span))
        tokens.record(12, {**METRIC, "gen_ai.token.type": "input"}, context=no_exemplar)
        tokens.record(3, {**METRIC, "gen_ai.token.type": "output"}, context=no_exemplar)
        if with_cost:
            cost.record(0.0000036, dict(METRIC), context=no_exemplar)

    return one


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--helper", type=Path, help="the callgrind client-request library (see run.py)")
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    helper = ctypes.CDLL(str(args.helper)) if args.helper else None
    for label, with_cost in (("semconv", False), ("semconv+cost", True)):
        one = calls(with_cost)
        for _ in range(args.calls):
            one()
        if helper is not None:
            helper.bench_start()
        started = time.process_time()
        for _ in range(args.calls):
            one()
        elapsed = time.process_time() - started
        if helper is not None:
            helper.bench_stop(label.encode())
        else:
            print(f"{label}: {elapsed / args.calls * 1e6:.1f} µs CPU per call")


if __name__ == "__main__":
    main()
