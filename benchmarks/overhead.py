"""Per-call overhead of the instrumentation against the bare openai SDK (quick version).

Each configuration runs in its own fresh process; the SDK talks to an in-process transport that returns
a canned response (no sockets), so the SDK's own work is the baseline. Prints the median per-call time
of several repetitions and the overhead in microseconds.

    .venv/bin/python benchmarks/overhead.py [--calls 2000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
CHUNKS = [
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}],
    }
    for i in range(20)
] + [
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
    }
]
SSE = ("".join(f"data: {json.dumps(c)}\n\n" for c in CHUNKS) + "data: [DONE]\n\n").encode()
BODY = json.dumps(CHAT).encode()


def _client():
    import httpx2
    import openai

    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content:
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=SSE)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=BODY)

    return openai.OpenAI(
        api_key="sk-bench",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(handler)),
    )


POLICY_ENV = {
    "OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "4",
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "5",
    "OTEL_AGENTOPS_RATE_LIMIT_RPM": "100000000",
    "OTEL_AGENTOPS_RATE_LIMIT_TPM": "100000000000",
    "OTEL_AGENTOPS_FALLBACK_MODELS": "gpt-4o-mini>gpt-4o",
}
CONFIGS = ("bare", "agentops", "agentops+policies")


def _setup(config: str) -> None:
    if config == "bare":
        return
    if config == "agentops+policies":
        os.environ.update(POLICY_ENV)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=1_000_000))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    import otel_agentops

    otel_agentops.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)


def child(config: str, mode: str, calls: int, repeats: int) -> None:
    _setup(config)
    client = _client()
    messages = [{"role": "user", "content": "Hello"}]

    def once() -> None:
        if mode == "stream":
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
                pass
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0.1)

    for _ in range(200):  # warm-up: imports, caches, price lookup
        once()
    results = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            once()
        results.append((time.perf_counter() - start) / calls * 1e6)
    print(json.dumps({"config": config, "mode": mode, "median_us": statistics.median(results)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "MODE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.calls, args.repeats)
        return 0
    rows = {}
    for mode in ("chat", "stream"):
        for config in CONFIGS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    config,
                    mode,
                    "--calls",
                    str(args.calls),
                    "--repeats",
                    str(args.repeats),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows[(config, mode)] = json.loads(out.strip().splitlines()[-1])["median_us"]
    print("| mode | bare SDK µs | otel-agentops µs | overhead µs | + all policies, not triggered µs |")
    print("|---|---|---|---|---|")
    for mode in ("chat", "stream"):
        bare, ours, policies = (rows[(config, mode)] for config in CONFIGS)
        print(f"| {mode} | {bare:.1f} | {ours:.1f} | {ours - bare:+.1f} | {policies - ours:+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
