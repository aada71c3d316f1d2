"""One benchmark worker: a configuration's process, driven by `benchmarks/run.py` over stdin/stdout.

Runs in our virtual environment or in a peer's (so only the standard library, ``openai``, ``httpx2``,
``opentelemetry-sdk`` and, when installed, ``anthropic`` at module level). The SDK clients talk to an
``httpx2.MockTransport`` returning canned bytes: no sockets, so the SDK's own work is the baseline.

    python benchmarks/workload.py serve --setup agentops     # JSON commands on stdin, replies on stdout
    python benchmarks/workload.py memory --setup bare --calls 100000 --cap 30
    python benchmarks/workload.py pipeline --spans 100000    # batch processor into a no-op exporter

``--setup`` is one of bare, agentops, official, openllmetry, official-v2; the rest of a configuration
(content capture, policies) comes from the environment the runner gives the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

REPLY = "@@bench "  # prefix of the lines the runner reads (libraries may print to stdout too)

# ---------------------------------------------------------------- canned responses

USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}
    ],
    "usage": USAGE,
}
TOOL_CALLS = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup_order", "arguments": '{"order_id":"ORD-1042"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "search_docs", "arguments": '{"query":"refund policy"}'},
                    },
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 180, "completion_tokens": 40, "total_tokens": 220},
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look an order up by its id",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the help centre",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    },
]
TOOL_MESSAGES = [
    {"role": "system", "content": "You are a support agent. Use the tools."},
    {"role": "user", "content": "Where is order ORD-1042, and can I get a refund?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id":"ORD-1041"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_0", "content": '{"status":"shipped"}'},
    {"role": "user", "content": "Sorry, I meant ORD-1042."},
]


def _stream_bytes(content_chunks: int) -> bytes:
    chunks: list[dict[str, Any]] = [
        {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}],
        }
        for i in range(content_chunks)
    ]
    chunks[0]["choices"][0]["delta"]["role"] = "assistant"
    chunks.append(
        {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
    )
    chunks.append(
        {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": content_chunks,
                "total_tokens": 12 + content_chunks,
            },
        }
    )
    return ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()


STREAM_CHUNKS = 20  # content chunks; the stream also has a finish chunk and a usage chunk
LONG_STREAM_CHUNKS = 200

# ~4 KB of ordinary prose with one e-mail address in it (something for redaction to find)
_SENTENCE = (
    "The customer wrote in about a delayed parcel that was supposed to arrive last Tuesday, and asked "
    "whether the courier could leave it with a neighbour if nobody is at home during the day. "
)
PROMPT_4K = (_SENTENCE * 22)[:3900] + " Please reply to jane.doe@example.com with the tracking details."
# Distinct prompts "chat_4k_fresh" cycles through: 2 MB of text, twice what redaction's memo keeps.
FRESH_PROMPTS = 512

ANTHROPIC_MODEL = "claude-haiku-4-5"
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": ANTHROPIC_MODEL,
    "content": [{"type": "text", "text": "Hello there"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 3},
}


def _anthropic_stream_bytes(content_chunks: int) -> bytes:
    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    opening = {
        **ANTHROPIC_MESSAGE,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    parts = [
        event("message_start", {"message": opening}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    parts += [
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": f"w{i} "}})
        for i in range(content_chunks)
    ]
    parts += [
        event("content_block_stop", {"index": 0}),
        event(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": content_chunks},
            },
        ),
        event("message_stop", {}),
    ]
    return "".join(parts).encode()


# ---------------------------------------------------------------- scenarios


def _openai_client(body: bytes, content_type: str = "application/json", *, is_async: bool = False) -> Any:
    import httpx2
    import openai

    headers = {"content-type": content_type}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    transport = httpx2.MockTransport(handler)
    if is_async:
        return openai.AsyncOpenAI(
            api_key="sk-bench", max_retries=0, http_client=openai.DefaultAsyncHttpxClient(transport=transport)
        )
    return openai.OpenAI(
        api_key="sk-bench", max_retries=0, http_client=openai.DefaultHttpxClient(transport=transport)
    )


def _anthropic_client(body: bytes, content_type: str = "application/json") -> Any:
    import anthropic
    import httpx2

    headers = {"content-type": content_type}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    return anthropic.Anthropic(
        api_key="sk-ant-bench",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


Run = Callable[[int], None]

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello"},
]


def scenario(name: str) -> tuple[Run, int]:
    """`run(n)` makes n calls; also returns the chunks per call (0 when not streaming)."""
    if name == "chat":
        client = _openai_client(json.dumps(CHAT).encode())
        create = client.chat.completions.create

        def run(n: int) -> None:
            for _ in range(n):
                create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.1, max_tokens=256)

        return run, 0
    if name == "chat_4k":
        client = _openai_client(json.dumps(CHAT).encode())
        create = client.chat.completions.create
        messages = [{"role": "user", "content": PROMPT_4K}]

        def run(n: int) -> None:
            for _ in range(n):
                create(model="gpt-4o-mini", messages=messages, temperature=0.1)

        return run, 0
    if name == "chat_4k_fresh":
        # A different 4 KB prompt on every call (more of them than redaction's memo holds): the cost of
        # redacting text never seen before, where "chat_4k" repeats one prompt as a system prompt or a
        # conversation's history would be.
        client = _openai_client(json.dumps(CHAT).encode())
        create = client.chat.completions.create
        prompts = [
            [{"role": "user", "content": f"Ticket {i}: {PROMPT_4K}"[:4096]}] for i in range(FRESH_PROMPTS)
        ]
        turn = iter(range(1 << 62))

        def run(n: int) -> None:
            for _ in range(n):
                create(model="gpt-4o-mini", messages=prompts[next(turn) % FRESH_PROMPTS], temperature=0.1)

        return run, 0
    if name == "tools":
        client = _openai_client(json.dumps(TOOL_CALLS).encode())
        create = client.chat.completions.create

        def run(n: int) -> None:
            for _ in range(n):
                create(model="gpt-4o-mini", messages=TOOL_MESSAGES, tools=TOOLS, tool_choice="auto")

        return run, 0
    if name in ("stream", "stream_long"):
        chunks = STREAM_CHUNKS if name == "stream" else LONG_STREAM_CHUNKS
        client = _openai_client(_stream_bytes(chunks), "text/event-stream")
        create = client.chat.completions.create
        options = {"include_usage": True}

        def run(n: int) -> None:
            for _ in range(n):
                for _chunk in create(
                    model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=options
                ):
                    pass

        return run, chunks + 2
    if name == "async":
        client = _openai_client(json.dumps(CHAT).encode(), is_async=True)
        create = client.chat.completions.create
        loop = asyncio.new_event_loop()

        async def calls(n: int) -> None:
            for _ in range(n):
                await create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.1, max_tokens=256)

        def run(n: int) -> None:
            loop.run_until_complete(calls(n))

        return run, 0
    if name == "anthropic":
        client = _anthropic_client(json.dumps(ANTHROPIC_MESSAGE).encode())
        create = client.messages.create
        messages = [{"role": "user", "content": "Hello"}]

        def run(n: int) -> None:
            for _ in range(n):
                create(model=ANTHROPIC_MODEL, max_tokens=256, messages=messages, system="Be brief.")

        return run, 0
    if name == "anthropic_stream":
        client = _anthropic_client(_anthropic_stream_bytes(STREAM_CHUNKS), "text/event-stream")
        create = client.messages.create
        messages = [{"role": "user", "content": "Hello"}]

        def run(n: int) -> None:
            for _ in range(n):
                for _event in create(model=ANTHROPIC_MODEL, max_tokens=256, messages=messages, stream=True):
                    pass

        return run, STREAM_CHUNKS + 5
    raise ValueError(f"unknown scenario {name}")


# ---------------------------------------------------------------- the SDK pipeline every configuration gets


class Pipeline:
    """TracerProvider → [counting processor, BatchSpanProcessor → no-op exporter]; MeterProvider with an
    in-memory reader collected at the end. Drops = spans ended - spans the exporter received."""

    def __init__(self, *, redacting: bool = False) -> None:
        """``redacting``: the exporter behind the batch processor is otel-agentops' safety net (as our
        configurator sets it up), which lets content be redacted in the export worker."""
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        pipeline = self

        class Counting(SpanProcessor):
            agentops_reads_no_content = True  # counts spans, never reads their content

            def on_end(self, span: Any) -> None:
                pipeline.ended += 1
                pipeline.last_span = span

        class Discard(SpanExporter):
            def export(self, spans: Any) -> Any:
                pipeline.exported += len(spans)
                return SpanExportResult.SUCCESS

        self.ended = 0
        self.exported = 0
        self.last_span: Any = None
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(Counting())
        exporter: SpanExporter = Discard()
        if redacting:
            from otel_agentops.sdk.redacting_export import RedactingSpanExporter

            exporter = RedactingSpanExporter(exporter)
        self.batch = BatchSpanProcessor(exporter)  # the defaults (OTEL_BSP_* unset): what users get
        self.tracer_provider.add_span_processor(self.batch)
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        # Global too, as an app (or opentelemetry-instrument) would set them: anthropic 2.x traces itself
        # with the global provider, and the one-span-per-call check below must see that.
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def finish(self) -> dict[str, Any]:
        self.tracer_provider.force_flush()
        data = self.reader.get_metrics_data()
        names = sorted(
            {
                metric.name
                for resource in (data.resource_metrics if data else ())
                for scope in resource.scope_metrics
                for metric in scope.metrics
            }
        )
        return {
            "spans_ended": self.ended,
            "spans_exported": self.exported,
            "spans_dropped": self.ended - self.exported,
            "metrics": names,
        }


def setup(kind: str, *, redacting: bool = False) -> Pipeline | None:
    if kind == "bare":
        return None
    pipeline = Pipeline(redacting=redacting)
    providers = {"tracer_provider": pipeline.tracer_provider, "meter_provider": pipeline.meter_provider}
    if kind == "agentops":
        import otel_agentops

        done = otel_agentops.instrument(**providers)
        if "agentops_openai" not in done:
            raise RuntimeError(f"otel_agentops.instrument() did not instrument openai: {done}")
    elif kind == "official":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(**providers)
    elif kind == "official-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(**providers)
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(**providers)
    else:
        raise ValueError(f"unknown setup {kind}")
    return pipeline


def versions() -> dict[str, str]:
    from importlib import metadata

    names = (
        "openai",
        "anthropic",
        "httpx2",
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-instrumentation-genai-openai",
        "opentelemetry-instrumentation-openai-v2",
        "opentelemetry-util-genai",
        "opentelemetry-instrumentation-openai",
        "otel-agentops",
        "wrapt",
    )
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _pin(cpu: int | None) -> None:
    """Every thread of this process (the batch processor's worker too) onto one CPU."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(tid, {cpu})


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(REPLY + json.dumps(message) + "\n")
    sys.stdout.flush()


def _span_facts(span: Any) -> dict[str, Any]:
    if span is None:
        return {}
    attributes = dict(span.attributes or {})
    content = " ".join(
        str(attributes[key])
        for key in ("gen_ai.input.messages", "gen_ai.prompt.0.content", "gen_ai.system_instructions")
        if key in attributes
    )
    facts: dict[str, Any] = {
        "name": span.name,
        "attributes": len(attributes),
        "content_captured": bool(content),
    }
    if "jane.doe" in content or "[REDACTED" in content:  # the 4 KB prompt, which holds an e-mail address
        facts["email_redacted"] = "jane.doe@example.com" not in content
    return facts


# ---------------------------------------------------------------- modes


def serve(args: argparse.Namespace) -> None:
    """Commands, one JSON object a line: warmup, run, finish. Replies one line each."""
    started = time.perf_counter()
    pipeline = setup(args.setup)  # unpinned: workers start in parallel; pinned once the threads exist
    _pin(args.cpu)
    runs: dict[str, tuple[Run, int]] = {}
    _reply({"ready": True, "setup_s": time.perf_counter() - started, "versions": versions()})
    for line in sys.stdin:
        command = json.loads(line)
        what = command["cmd"]
        if what == "warmup":
            name = command["scenario"]
            try:
                runs[name] = scenario(name)
            except Exception as exc:  # e.g. anthropic not installed in a peer's venv
                _reply({"error": f"{type(exc).__name__}: {exc}"})
                continue
            run, chunks = runs[name]
            before = pipeline.ended if pipeline else 0
            run(command["calls"])  # imports, caches, price lookups, lazy SDK state
            start = time.process_time()
            run(command["calls"])
            per_call = (time.process_time() - start) / command["calls"]
            spans = (pipeline.ended - before) / (2 * command["calls"]) if pipeline else 0.0
            facts = _span_facts(pipeline.last_span) if pipeline else {}
            _reply({"per_call_s": per_call, "chunks": chunks, "spans_per_call": spans, "span": facts})
        elif what == "run":
            run, _chunks = runs[command["scenario"]]
            calls = command["calls"]
            wall, cpu = time.perf_counter(), time.process_time()
            run(calls)
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            _reply({"cpu_us": cpu / calls * 1e6, "wall_us": wall / calls * 1e6})
        elif what == "finish":
            result = pipeline.finish() if pipeline else {}
            result["rss_mb"] = rss_bytes() / 2**20
            _reply(result)
            return


def memory(args: argparse.Namespace) -> None:
    """RSS after warm-up and after `--calls` non-streaming chats (or `--cap` seconds), sampled on the way."""
    pipeline = setup(args.setup)
    run, _ = scenario("chat")

    def settle() -> None:
        """Spans waiting in the batch queue are not growth: hand them to the exporter, then collect."""
        if pipeline is not None:
            pipeline.tracer_provider.force_flush()
        gc.collect()

    run(args.warmup)
    settle()
    baseline = rss_bytes()
    samples = [(0, 0.0)]
    done = 0
    step = 250  # calls between checks of the time cap
    every = max(step, args.calls // 20 // step * step)  # calls between RSS samples kept (~20)
    start = time.perf_counter()
    while done < args.calls and time.perf_counter() - start < args.cap:
        run(step)
        done += step
        if done % every == 0:
            samples.append((done, (rss_bytes() - baseline) / 2**20))
    elapsed = time.perf_counter() - start
    settle()
    samples.append((done, (rss_bytes() - baseline) / 2**20))
    growth = rss_bytes() - baseline
    result: dict[str, Any] = {
        "calls": done,
        "seconds": elapsed,
        "rss_after_warmup_mb": baseline / 2**20,
        "rss_growth_mb": growth / 2**20,
        "samples_mb": samples,
    }
    # Growth over the second half only: allocator and cache warm-up land in the first.
    half = [mb for calls, mb in samples if calls >= done / 2]
    result["rss_growth_second_half_mb"] = (samples[-1][1] - half[0]) if half else 0.0
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
        run(500)
        settle()
        before = tracemalloc.take_snapshot()
        run(args.tracemalloc)
        settle()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = after.compare_to(before, "lineno")
        net = sum(stat.size_diff for stat in stats)
        result["tracemalloc"] = {
            "calls": args.tracemalloc,
            "net_bytes_per_call": net / args.tracemalloc,
            "top": [
                {"where": str(stat.traceback[0]), "bytes": stat.size_diff, "count": stat.count_diff}
                for stat in sorted(stats, key=lambda s: -s.size_diff)[:5]
                if stat.size_diff > 0
            ],
        }
    if pipeline is not None:
        result["pipeline"] = pipeline.finish()
    _reply(result)


def pipeline_throughput(args: argparse.Namespace) -> None:
    """Spans per second: a GenAI-like span made and ended in a tight loop, pinned to one core (the app
    thread and the batch worker share it), with no processor, then BatchSpanProcessor → no-op exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    _pin(args.cpu)
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "api.openai.com",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cost": 0.0001,
    }

    class Discard(SpanExporter):
        def __init__(self) -> None:
            self.count = 0

        def export(self, spans: Any) -> Any:
            self.count += len(spans)
            return SpanExportResult.SUCCESS

    def once(processor: Any) -> dict[str, float]:
        provider = TracerProvider()
        if processor is not None:
            provider.add_span_processor(processor)
        tracer = provider.get_tracer("bench")
        start = time.perf_counter()
        for _ in range(args.spans):
            tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes).end()
        caller = time.perf_counter() - start
        provider.force_flush()
        total = time.perf_counter() - start
        provider.shutdown()
        return {"caller": args.spans / caller, "total": args.spans / total}

    results: dict[str, Any] = {"spans": args.spans}
    bare = [once(None) for _ in range(args.repeats)]
    results["no_processor_spans_per_s"] = statistics.median(r["caller"] for r in bare)
    batch = []
    drops = []
    for _ in range(args.repeats):
        exporter = Discard()
        batch.append(once(BatchSpanProcessor(exporter)))
        drops.append(args.spans - exporter.count)
    results["batch_caller_spans_per_s"] = statistics.median(r["caller"] for r in batch)
    results["batch_end_to_end_spans_per_s"] = statistics.median(r["total"] for r in batch)
    results["batch_dropped"] = drops
    results.update(_safety_net_cost(args, attributes, Discard))
    _reply(results)


def _safety_net_cost(args: argparse.Namespace, attributes: dict[str, Any], discard: Any) -> dict[str, Any]:
    """CPU µs per span of the redaction safety net (``RedactingSpanExporter``), which otel-agentops'
    pipeline runs on every exported span in the batch worker: finished spans handed to its ``export``,
    timed alone. Spans like the ones above; our own spans carrying a 4 KB content attribute we wrote (the
    net knows them and passes over); another instrumentation's span with an unknown 4 KB value (scanned)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    try:
        from otel_agentops.redaction import get_redactor
        from otel_agentops.sdk.redacting_export import RedactingSpanExporter
    except ImportError as exc:
        return {"safety_net_skipped": str(exc)}
    redactor = get_redactor()
    turns = itertools.count()

    def our_content() -> dict[str, Any]:
        # As a call writes it: a new message each time, redacted by content_json.
        part = {"type": "text", "content": f"Ticket {next(turns)}: {PROMPT_4K}"}
        return {"gen_ai.input.messages": redactor.content_json([{"role": "user", "parts": [part]}])}

    variants: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
        "genai_span": ("bench", dict),
        "our_4k_content": ("otel_agentops", our_content),
        "foreign_4k_value": ("bench", lambda: {"app.request.body": f"Ticket {next(turns)}: {PROMPT_4K}"}),
    }
    count = min(args.spans, 2000)
    results: dict[str, Any] = {}
    for name, (scope, extra) in variants.items():
        per_span = []
        for _ in range(max(3, args.repeats)):
            finished = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(finished))
            tracer = provider.get_tracer(scope)
            for _ in range(count):
                tracer.start_span(
                    "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={**attributes, **extra()}
                ).end()
            spans = finished.get_finished_spans()
            net = RedactingSpanExporter(discard(), all_spans=True)
            start = time.process_time()
            net.export(spans)
            per_span.append((time.process_time() - start) / len(spans) * 1e6)
        results[name] = statistics.median(per_span)
    return {"safety_net_us_per_span": results}


def instructions(args: argparse.Namespace) -> None:
    """Under ``valgrind --tool=callgrind --instr-atstart=no``: instrumentation is switched on (through a
    tiny C helper calling the callgrind client requests) for exactly `--calls` calls after the warm-up."""
    import ctypes

    helper = ctypes.CDLL(args.helper)
    pipeline = setup(args.setup)
    for name in args.scenarios.split(","):
        run, _ = scenario(name)
        run(args.warmup)
        helper.bench_start()
        run(args.calls)
        helper.bench_stop(name.encode())  # one dump per scenario, labelled with its name
    if pipeline is not None:
        pipeline.finish()
    _reply({"calls": args.calls})


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--setup", required=True)
    p.add_argument("--cpu", type=int)
    p = sub.add_parser("memory")
    p.add_argument("--setup", required=True)
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--cap", type=float, default=30.0)
    p.add_argument("--warmup", type=int, default=2000)
    p.add_argument("--tracemalloc", type=int, default=0, help="calls to trace (0: skip)")
    p = sub.add_parser("pipeline")
    p.add_argument("--spans", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cpu", type=int)
    p = sub.add_parser("instructions")
    p.add_argument("--setup", required=True)
    p.add_argument("--scenarios", default="chat")
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--helper", required=True, help="the shared library with bench_start/bench_stop")
    args = parser.parse_args()
    modes = {"serve": serve, "memory": memory, "pipeline": pipeline_throughput, "instructions": instructions}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
