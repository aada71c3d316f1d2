"""ConsoleTreeSpanExporter with a real TracerProvider; times and ids are fixed so output is exact."""

from __future__ import annotations

import io
import logging
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk._configuration import _import_exporters
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from otel_agentops.genai import semconv
from otel_agentops.sdk.console import ConsoleTreeSpanExporter, format_duration
from otel_agentops.sdk.summary import SummaryMetricReader

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
T0 = 1_700_000_000_000_000_000


def at(millis: float) -> int:
    return T0 + int(millis * 1_000_000)


class SequentialIds(IdGenerator):
    """Trace ids TRACE, TRACE + 1, ...; span ids 1, 2, ..."""

    def __init__(self) -> None:
        self._trace = TRACE
        self._span = 0

    def generate_trace_id(self) -> int:
        trace_id, self._trace = self._trace, self._trace + 1
        return trace_id

    def generate_span_id(self) -> int:
        self._span += 1
        return self._span


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def make_provider(exporter, *, batch: bool = False, ids: IdGenerator | None = None) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: "support-agent"}),
        id_generator=ids or SequentialIds(),
        shutdown_on_exit=False,
    )
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000) if batch else None
    provider.add_span_processor(processor or SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def tracer(out):
    provider = make_provider(ConsoleTreeSpanExporter(out=out))
    yield provider.get_tracer("test")
    provider.shutdown()


def start(tracer, name: str, begin: float, parent=None, **attributes):
    context = trace.set_span_in_context(parent) if parent is not None else None
    return tracer.start_span(name, context=context, start_time=at(begin), attributes=attributes or None)


def done(tracer, name: str, begin: float, end: float, parent=None, **attributes):
    span = start(tracer, name, begin, parent, **attributes)
    span.end(end_time=at(end))
    return span


def chat(**extra):
    return {
        semconv.OPERATION_NAME: "chat",
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: "gpt-4o-mini",
        semconv.RESPONSE_MODEL: "gpt-4o-mini",
        **extra,
    }


def agent_run(tracer) -> None:
    root = start(tracer, "invoke_agent support-agent", 0)
    first = chat(
        **{
            semconv.USAGE_INPUT_TOKENS: 120,
            semconv.USAGE_OUTPUT_TOKENS: 18,
            semconv.USAGE_COST: 0.0000288,
            semconv.REQUEST_TOOL_CALLS: ("get_weather",),
        }
    )
    done(tracer, "chat gpt-4o-mini", 1, 413, root, **first)
    tool = start(tracer, "execute_tool get_weather", 420, root)
    done(tracer, "GET", 421, 429, tool)
    tool.end(end_time=at(431))
    second = chat(
        **{
            semconv.USAGE_INPUT_TOKENS: 160,
            semconv.USAGE_OUTPUT_TOKENS: 25,
            semconv.USAGE_COST: 0.000038,
            semconv.RESPONSE_TIME_TO_FIRST_CHUNK: 0.052,
        }
    )
    done(tracer, "chat gpt-4o-mini", 850, 1230, root, **second)
    root.end(end_time=at(1234))


AGENT_TREE = """\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 1.234 s
└─ invoke_agent support-agent  1.234 s
   ├─ chat gpt-4o-mini  412 ms  openai  tokens 120→18  $0.000029  tools: get_weather
   ├─ execute_tool get_weather  11 ms
   │  └─ GET  8 ms
   └─ chat gpt-4o-mini  380 ms  openai  tokens 160→25  $0.000038  ttfc 52 ms
"""


def test_prints_the_whole_tree_when_the_root_ends(tracer, out):
    root = start(tracer, "invoke_agent support-agent", 0)
    done(tracer, "chat gpt-4o-mini", 1, 413, root, **chat())
    assert out.getvalue() == ""
    root.end(end_time=at(500))
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 500 ms\n"
        "└─ invoke_agent support-agent  500 ms\n"
        "   └─ chat gpt-4o-mini  412 ms  openai\n"
    )


def test_agent_run_tree_with_genai_details(tracer, out):
    agent_run(tracer)
    assert out.getvalue() == AGENT_TREE


def test_other_genai_details_and_no_content(tracer, out):
    attributes = {
        semconv.OPERATION_NAME: "chat",
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: "gpt-4o",
        semconv.RESPONSE_MODEL: "gpt-4o-2024-08-06",
        semconv.USAGE_INPUT_TOKENS: 10,
        semconv.USAGE_OUTPUT_TOKENS: 5,
        semconv.COST_UNPRICED: True,
        semconv.REQUEST_TOOL_CALLS: ("get_weather", "search_docs"),
        "agentops.cache.hit": True,
        "agentops.retry.attempts": 3,
        semconv.INPUT_MESSAGES: '[{"role": "user", "content": "my secret"}]',
        semconv.OUTPUT_MESSAGES: '[{"role": "assistant", "content": "your secret"}]',
    }
    done(tracer, "chat gpt-4o", 0, 300, **attributes)
    embeddings = {
        semconv.OPERATION_NAME: "embeddings",
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: "text-embedding-3-small",
        semconv.USAGE_INPUT_TOKENS: 8,
        semconv.USAGE_COST: 0.0,
        "agentops.retry.attempts": 1,
        semconv.BATCH_SIZE: 16,
        semconv.BALANCING_ENDPOINT: "http://10.0.0.2:8000/v1",
    }
    done(tracer, "embeddings text-embedding-3-small", 0, 0.25, **embeddings)
    routed = {
        semconv.OPERATION_NAME: "chat",
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: "auto",
        semconv.ROUTING_MODEL: "gpt-4o-mini",
        semconv.ROUTING_TIER: "simple",
        semconv.FALLBACK_MODEL: "gpt-4o",
    }
    done(tracer, "chat auto", 0, 1, **routed)
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 300 ms\n"
        "└─ chat gpt-4o → gpt-4o-2024-08-06  300 ms  openai  tokens 10→5  cost: unpriced"
        "  tools: get_weather, search_docs  cache hit  attempts 3\n"
        "trace 4bf92f3577b34da6a3ce929d0e0e4737 (support-agent) 0.25 ms\n"
        "└─ embeddings text-embedding-3-small  0.25 ms  openai  tokens in 8  $0"
        "  via http://10.0.0.2:8000/v1  batch of 16\n"
        "trace 4bf92f3577b34da6a3ce929d0e0e4738 (support-agent) 1 ms\n"
        "└─ chat auto  1 ms  openai  routed simple → gpt-4o-mini  fallback → gpt-4o\n"
    )


def test_error_spans(tracer, out):
    root = start(tracer, "invoke_agent support-agent", 0)
    # The mark follows the span status; error.type alone only names the failure.
    done(tracer, "chat gpt-4o-mini", 1, 2, root, **chat(**{semconv.ERROR_TYPE: "openai.RateLimitError"}))
    call = start(tracer, "chat gpt-4o-mini", 3, root, **chat(**{semconv.ERROR_TYPE: "openai.RateLimitError"}))
    call.set_status(Status(StatusCode.ERROR, "429"))
    call.end(end_time=at(5))
    tool = start(tracer, "execute_tool search_docs", 6, root)
    tool.set_status(Status(StatusCode.ERROR, "index missing"))
    tool.end(end_time=at(8))
    root.set_status(Status(StatusCode.ERROR))
    root.end(end_time=at(9))
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 9 ms\n"
        "└─ invoke_agent support-agent  9 ms  ✗\n"
        "   ├─ chat gpt-4o-mini  1 ms  openai\n"
        "   ├─ chat gpt-4o-mini  2 ms  openai  ✗ openai.RateLimitError\n"
        "   └─ execute_tool search_docs  2 ms  ✗ index missing\n"
    )


def test_remote_parent_is_a_local_root(tracer, out):
    remote = SpanContext(TRACE, 0xABC, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    server = start(tracer, "POST /agent", 0, NonRecordingSpan(remote))
    done(tracer, "chat gpt-4o-mini", 10, 110, server, **chat())
    assert out.getvalue() == ""
    server.end(end_time=at(120))
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 120 ms\n"
        "└─ POST /agent  120 ms\n"
        "   └─ chat gpt-4o-mini  100 ms  openai\n"
    )


def test_late_span_after_the_trace_was_printed(tracer, out):
    root = start(tracer, "invoke_agent support-agent", 0)
    background = start(tracer, "execute_tool slow_tool", 10, root)
    root.end(end_time=at(20))
    background.end(end_time=at(60))
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 20 ms\n"
        "└─ invoke_agent support-agent  20 ms\n"
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 late span: execute_tool slow_tool  50 ms\n"
    )


def test_oldest_trace_is_printed_partially_beyond_max_traces(out):
    provider = make_provider(ConsoleTreeSpanExporter(out=out, max_traces=2))
    tracer = provider.get_tracer("test")
    roots = [start(tracer, f"invoke_agent agent{n}", 0) for n in range(3)]
    for n, root in enumerate(roots):
        done(tracer, f"chat model{n}", 1, 2, root)
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 1 ms (incomplete)\n└─ chat model0  1 ms\n"
    )
    roots[0].end(end_time=at(3))
    assert out.getvalue().endswith(
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 late span: invoke_agent agent0  3 ms\n"
    )
    provider.shutdown()
    assert out.getvalue().endswith(
        "trace 4bf92f3577b34da6a3ce929d0e0e4737 (support-agent) 1 ms (incomplete)\n"
        "└─ chat model1  1 ms\n"
        "trace 4bf92f3577b34da6a3ce929d0e0e4738 (support-agent) 1 ms (incomplete)\n"
        "└─ chat model2  1 ms\n"
    )


def test_orphans_are_grouped_under_their_trace_at_shutdown(out):
    exporter = ConsoleTreeSpanExporter(out=out)
    provider = make_provider(exporter)
    tracer = provider.get_tracer("test")
    root = start(tracer, "invoke_agent support-agent", 0)
    tool = start(tracer, "execute_tool get_weather", 5, root)
    done(tracer, "GET", 6, 9, tool)
    done(tracer, "chat gpt-4o-mini", 1, 4, root, **chat())
    assert out.getvalue() == ""
    provider.shutdown()
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 8 ms (incomplete)\n"
        "├─ chat gpt-4o-mini  3 ms  openai\n"
        "└─ GET  3 ms\n"
    )
    assert exporter.export([]) is SpanExportResult.FAILURE


def test_batch_span_processor_and_force_flush(out):
    provider = make_provider(ConsoleTreeSpanExporter(out=out), batch=True)
    agent_run(provider.get_tracer("test"))
    assert out.getvalue() == ""
    assert provider.force_flush()
    assert out.getvalue() == AGENT_TREE
    provider.shutdown()
    assert out.getvalue() == AGENT_TREE


def test_spans_beyond_max_spans_per_trace_are_counted(out):
    provider = make_provider(ConsoleTreeSpanExporter(out=out, max_spans_per_trace=2))
    tracer = provider.get_tracer("test")
    root = start(tracer, "invoke_agent support-agent", 0)
    for n in range(4):
        done(tracer, f"execute_tool tool{n}", n, n + 1, root)
    root.end(end_time=at(10))
    provider.shutdown()
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 10 ms\n"
        "└─ invoke_agent support-agent  10 ms\n"
        "   ├─ execute_tool tool0  1 ms\n"
        "   └─ execute_tool tool1  1 ms\n"
        "… 2 more spans not shown (max_spans_per_trace=2)\n"
    )


def test_colours_only_on_a_tty():
    out = TtyStringIO()
    provider = make_provider(ConsoleTreeSpanExporter(out=out))
    tracer = provider.get_tracer("test")
    root = start(tracer, "invoke_agent support-agent", 0)
    call = start(tracer, "chat gpt-4o-mini", 1, root, **chat(**{semconv.ERROR_TYPE: "timeout"}))
    call.set_status(Status(StatusCode.ERROR))
    call.end(end_time=at(2))
    root.end(end_time=at(3))
    provider.shutdown()
    assert out.getvalue() == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 3 ms\n"
        "\x1b[2m└─ \x1b[0minvoke_agent support-agent  3 ms\n"
        "\x1b[2m   └─ \x1b[0mchat gpt-4o-mini  1 ms  openai  \x1b[31m✗ timeout\x1b[0m\n"
    )


def test_export_never_raises_and_logs_once(caplog):
    captured = InMemorySpanExporter()
    provider = make_provider(captured)
    done(provider.get_tracer("test"), "invoke_agent support-agent", 0, 1)
    spans = captured.get_finished_spans()
    closed = io.StringIO()
    closed.close()
    exporter = ConsoleTreeSpanExporter(out=closed)
    with caplog.at_level(logging.DEBUG, logger="otel_agentops.sdk.console"):
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(caplog.records) == 1
    provider.shutdown()


def test_concurrent_traces_print_whole_and_once(out):
    provider = make_provider(ConsoleTreeSpanExporter(out=out), ids=RandomIdGenerator())
    tracer = provider.get_tracer("test")

    def run() -> None:
        for _ in range(50):
            root = start(tracer, "invoke_agent a", 0)
            for n in range(3):
                done(tracer, f"chat m{n}", n, n + 1, root)
            root.end(end_time=at(5))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    provider.shutdown()
    lines = out.getvalue().splitlines()
    assert len(lines) == 8 * 50 * 5
    for block in range(0, len(lines), 5):
        assert lines[block].startswith("trace ")
        assert lines[block + 1 : block + 5] == [
            "└─ invoke_agent a  5 ms",
            "   ├─ chat m0  1 ms",
            "   ├─ chat m1  1 ms",
            "   └─ chat m2  1 ms",
        ]
    assert len({line for line in lines if line.startswith("trace ")}) == 400


def test_no_argument_instance_writes_to_the_current_stdout(capsys):
    provider = make_provider(ConsoleTreeSpanExporter())
    done(provider.get_tracer("test"), "invoke_agent support-agent", 0, 1)
    provider.shutdown()
    assert capsys.readouterr().out == (
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 (support-agent) 1 ms\n└─ invoke_agent support-agent  1 ms\n"
    )


def test_entry_points_resolve_through_the_sdk_configurator():
    traces, metrics, _ = _import_exporters(["agentops_console"], ["agentops_summary"], [])
    assert traces == {"agentops_console": ConsoleTreeSpanExporter}
    assert metrics == {"agentops_summary": SummaryMetricReader}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.00025, "0.25 ms"), (0.0123, "12 ms"), (0.412, "412 ms"), (0.9996, "1.000 s"), (12.3456, "12.346 s")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_policy_events_are_printed_under_their_span():
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleTreeSpanExporter(out=out)))
    tracer = provider.get_tracer("test")
    attributes = {semconv.OPERATION_NAME: "chat", semconv.RETRY_ATTEMPTS: 2}
    span = tracer.start_span("chat gpt-4o-mini", start_time=0, attributes=attributes)
    span.add_event(
        "agentops.retry",
        {
            "agentops.retry.attempt": 1,
            "agentops.retry.delay": 0.4123,
            semconv.ERROR_TYPE: "openai.RateLimitError",
        },
    )
    span.add_event("gen_ai.choice", {"index": 0})  # not ours: not printed
    span.end(end_time=1_500_000_000)
    assert out.getvalue().splitlines()[1:] == [
        "└─ chat gpt-4o-mini  1.500 s  attempts 2",
        "   · agentops.retry  attempt 1, delay 0.412, error.type openai.RateLimitError",
    ]
