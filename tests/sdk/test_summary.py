"""The run summary, computed from a real MeterProvider's data and printed at exit."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import textwrap

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

from otel_agentops.genai import semconv
from otel_agentops.sdk.summary import (
    Percentiles,
    RunSummary,
    SummaryMetricReader,
    build_summary,
    format_summary,
)

CHAT = {semconv.OPERATION_NAME: "chat", semconv.PROVIDER_NAME: "openai", semconv.REQUEST_MODEL: "gpt-4o-mini"}
EMBED = {
    semconv.OPERATION_NAME: "embeddings",
    semconv.PROVIDER_NAME: "openai",
    semconv.REQUEST_MODEL: "text-embedding-3-small",
}
NO_CALLS = "── otel-agentops run summary: no LLM calls were recorded in {} s ──"


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def reader(out):
    reader = SummaryMetricReader(out=out)
    yield reader
    reader.shutdown()  # a no-op when the provider already did it; keeps pytest's atexit quiet


def provider_for(reader: SummaryMetricReader, **kwargs) -> MeterProvider:
    return MeterProvider(metric_readers=[reader], shutdown_on_exit=False, **kwargs)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


def assert_percentiles(latency: Percentiles | None, values: list[float]) -> None:
    assert latency is not None
    assert latency.relative_error is not None
    for estimate, q in ((latency.p50, 0.50), (latency.p95, 0.95), (latency.p99, 0.99)):
        true = nearest_rank(values, q)
        assert abs(estimate - true) <= latency.relative_error * true, (q, estimate, true)
    assert latency.max == max(values)


def test_latency_percentiles_within_the_documented_precision(reader):
    provider = provider_for(reader)
    duration = provider.get_meter("test").create_histogram(semconv.METRIC_OPERATION_DURATION, unit="s")
    values = [ms / 1000 for ms in range(1, 101)]
    for n, value in enumerate(values):
        duration.record(value, CHAT if n % 4 else EMBED)
    summary = reader.current_summary()
    assert summary.calls == 100
    assert summary.calls_by_operation == {"chat": 75, "embeddings": 25}
    assert summary.calls_by_provider == {"openai": 100}
    assert summary.calls_by_model == {"gpt-4o-mini": 75, "text-embedding-3-small": 25}
    assert_percentiles(summary.latency, values)
    # The module docstring promises scale 5 (2 ** (1 / 32) - 1, about 2.2 %) for a 1 to 100 ms spread.
    assert summary.latency.relative_error == pytest.approx(2 ** (1 / 32) - 1)
    provider.shutdown()


def test_points_at_different_scales_are_merged(reader):
    provider = provider_for(reader)
    duration = provider.get_meter("test").create_histogram(semconv.METRIC_OPERATION_DURATION, unit="s")
    narrow = [0.200 + n / 10_000 for n in range(200)]  # keeps a fine scale
    wide = [0.001 * 1.1**n for n in range(100)]  # 1 ms to 12 s: a coarser one
    for value in narrow:
        duration.record(value, CHAT)
    for value in wide:
        duration.record(value, EMBED)
    summary = reader.current_summary()
    assert summary.calls == 300
    assert_percentiles(summary.latency, narrow + wide)
    assert summary.latency.relative_error == pytest.approx(2 ** (1 / 16) - 1)
    provider.shutdown()


def test_explicit_buckets_from_a_view_still_give_percentiles(reader):
    view = View(
        instrument_name=semconv.METRIC_OPERATION_DURATION,
        aggregation=ExplicitBucketHistogramAggregation(boundaries=semconv.DURATION_BUCKETS),
    )
    provider = provider_for(reader, views=[view])
    duration = provider.get_meter("test").create_histogram(semconv.METRIC_OPERATION_DURATION, unit="s")
    for ms in range(1, 101):
        duration.record(ms / 1000, CHAT)
    latency = reader.current_summary().latency
    assert latency is not None
    assert latency.relative_error is None
    assert 0.04 <= latency.p50 <= 0.08  # the bucket holding the true 50 ms
    assert 0.08 <= latency.p99 <= 0.1
    assert latency.max == 0.1
    provider.shutdown()


def record_a_run(meter) -> None:
    duration = meter.create_histogram(semconv.METRIC_OPERATION_DURATION, unit="s")
    tokens = meter.create_histogram(semconv.METRIC_TOKEN_USAGE, unit="{token}")
    cost = meter.create_histogram(semconv.METRIC_COST, unit="USD")
    first_chunk = meter.create_histogram(semconv.METRIC_TIME_TO_FIRST_CHUNK, unit="s")
    errors = meter.create_counter(semconv.METRIC_ERRORS)
    tools = meter.create_counter(semconv.METRIC_TOOL_CALLS)
    for n in range(9):
        duration.record(0.1 + n / 100, CHAT)
        tokens.record(100 + n, {**CHAT, semconv.TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT})
        tokens.record(20, {**CHAT, semconv.TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT})
        cost.record(0.0001, CHAT)
        first_chunk.record(0.040 + n / 1000, CHAT)
    rate_limited = {**CHAT, semconv.ERROR_TYPE: "openai.RateLimitError"}
    duration.record(0.5, rate_limited)
    errors.add(1, rate_limited)
    errors.add(2, {semconv.ERROR_TYPE: "otel_agentops.CircuitOpenError"})
    unpriced = meter.create_counter(semconv.METRIC_UNPRICED_CALLS)
    for _ in range(2):
        duration.record(0.05, EMBED)
        unpriced.add(1, EMBED)
        tokens.record(8, {**EMBED, semconv.TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT})
    for name, count in (("get_weather", 3), ("search_docs", 1)):
        tools.add(count, {semconv.TOOL_NAME: name, semconv.TOOL_CALL_ORIGIN: "requested"})
    tools.add(2, {semconv.TOOL_NAME: "get_weather", semconv.TOOL_CALL_ORIGIN: "executed"})
    meter.create_counter("agentops.cache.hits").add(3)
    meter.create_counter("agentops.cache.misses").add(7)
    meter.create_counter("agentops.retry.attempts").add(2, CHAT)


def test_run_summary_fields(reader):
    provider = provider_for(reader)
    record_a_run(provider.get_meter("test"))
    summary = reader.current_summary()
    assert summary.calls == 12
    assert summary.calls_by_operation == {"chat": 10, "embeddings": 2}
    assert summary.errors == 1
    assert summary.error_rate == pytest.approx(1 / 12)
    assert summary.errors_by_type == {"openai.RateLimitError": 1, "otel_agentops.CircuitOpenError": 2}
    assert summary.input_tokens == sum(100 + n for n in range(9)) + 16
    assert summary.output_tokens == 180
    assert summary.cost_total == pytest.approx(0.0009)
    assert summary.priced_calls == 9
    assert summary.unpriced_calls == 2
    assert summary.cost_per_call == pytest.approx(0.0001)
    assert summary.first_chunk is not None
    assert summary.first_chunk.p50 == pytest.approx(0.044, rel=summary.first_chunk.relative_error)
    assert summary.tool_calls == {"get_weather": 3, "search_docs": 1}
    assert summary.tools_executed == {"get_weather": 2}
    assert (summary.cache_hits, summary.cache_misses, summary.retry_attempts) == (3, 7, 2)
    provider.shutdown()


def test_summary_leaves_out_what_was_not_recorded(reader):
    provider = provider_for(reader)
    provider.get_meter("test").create_histogram(semconv.METRIC_OPERATION_DURATION).record(0.2, CHAT)
    summary = reader.current_summary()
    assert summary.errors_by_type == {}
    assert summary.first_chunk is None
    assert (summary.input_tokens, summary.output_tokens, summary.cost_total) == (None, None, None)
    assert summary.unpriced_calls is None  # never counted: unknown, not zero
    assert (summary.cache_hits, summary.cache_misses, summary.retry_attempts) == (None, None, None)
    text = format_summary(RunSummary(**{**summary.__dict__, "wall_seconds": 2.0}))
    assert text == (
        "── otel-agentops run summary ──────────────────────────\n"
        "calls        1 (chat 1) in 2.00 s, 0.5/s\n"
        "providers    openai 1\n"
        "models       gpt-4o-mini 1\n"
        "errors       0\n"
        "latency      p50 200 ms  p95 200 ms  p99 200 ms  max 200 ms"
    )
    provider.shutdown()


def test_format_summary_example():
    summary = RunSummary(
        wall_seconds=3.41,
        calls=12,
        calls_by_operation={"embeddings": 2, "chat": 10},
        errors=1,
        errors_by_type={"openai.RateLimitError": 1},
        latency=Percentiles(p50=0.212, p95=0.480, p99=0.501, max=0.503),
        first_chunk=Percentiles(p50=0.048, p95=0.1, p99=0.1, max=0.1),
        input_tokens=1234,
        output_tokens=456,
        cost_total=0.001234,
        priced_calls=10,
        unpriced_calls=2,
        tool_calls={"search_docs": 1, "get_weather": 3},
    )
    assert format_summary(summary) == (
        "── otel-agentops run summary ──────────────────────────\n"
        "calls        12 (chat 10, embeddings 2) in 3.41 s, 3.5/s\n"
        "errors       1 (8.3 %): openai.RateLimitError 1\n"
        "latency      p50 212 ms  p95 480 ms  p99 501 ms  max 503 ms\n"
        "first chunk  p50 48 ms\n"
        "tokens       in 1,234  out 456\n"
        "cost         $0.001234 total, $0.000123 per call (2 unpriced)\n"
        "tool calls   get_weather 3, search_docs 1"
    )


def test_format_summary_policy_lines_and_unpriced_only():
    summary = RunSummary(
        wall_seconds=1.0,
        calls=1500,
        calls_by_provider={"openai": 1000, "anthropic": 500},
        latency=Percentiles(p50=1.5, p95=2.0, p99=2.5, max=3.0),
        unpriced_calls=1500,
        cache_hits=3,
        cache_misses=7,
        retry_attempts=4,
    )
    assert format_summary(summary) == (
        "── otel-agentops run summary ──────────────────────────\n"
        "calls        1,500 in 1.00 s, 1500.0/s\n"
        "providers    openai 1,000, anthropic 500\n"
        "errors       0\n"
        "latency      p50 1.500 s  p95 2.000 s  p99 2.500 s  max 3.000 s\n"
        "cost         n/a (1,500 unpriced)\n"
        "cache        hits 3  misses 7 (30.0 % hits)\n"
        "retries      4"
    )


def test_no_calls_is_one_line():
    assert format_summary(build_summary(MetricsData(resource_metrics=[]), 2.5)) == NO_CALLS.format("2.50")


def test_prints_once_at_provider_shutdown(reader, out):
    provider = provider_for(reader)
    provider.get_meter("test").create_histogram(semconv.METRIC_OPERATION_DURATION).record(0.2, CHAT)
    assert provider.force_flush()
    assert out.getvalue() == ""
    provider.shutdown()
    printed = out.getvalue()
    assert printed.startswith("── otel-agentops run summary ──")
    assert "calls        1 (chat 1) in " in printed
    reader.shutdown()
    assert out.getvalue() == printed


def test_prints_the_no_calls_line_when_nothing_was_recorded(reader, out):
    provider_for(reader).shutdown()
    assert out.getvalue().count("no LLM calls were recorded") == 1
    assert out.getvalue().endswith(" s ──\n")


@pytest.mark.skipif(
    not hasattr(MeterProvider, "remove_metric_reader"), reason="SDK without remove_metric_reader"
)
def test_removed_reader_prints_its_last_collection(reader, out):
    provider = provider_for(reader)
    provider.get_meter("test").create_histogram(semconv.METRIC_OPERATION_DURATION).record(0.2, CHAT)
    reader.force_flush()
    # The SDK drops the reader's collect callback before calling its shutdown().
    provider.remove_metric_reader(reader)
    assert "calls        1 (chat 1) in " in out.getvalue()
    provider.shutdown()


def test_an_unattached_reader_prints_nothing(reader, out):
    reader.shutdown()
    assert out.getvalue() == ""


def test_writes_to_the_current_stdout_by_default(capsys):
    reader = SummaryMetricReader()
    provider_for(reader).shutdown()
    assert "no LLM calls were recorded" in capsys.readouterr().out


def run_python(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        check=True,
    )


@pytest.mark.parametrize(
    ("shutdown_on_exit", "shutdown_explicitly"),
    [(True, False), (False, False), (True, True)],
    ids=["provider-atexit", "reader-atexit", "explicit-shutdown"],
)
def test_summary_prints_exactly_once_in_a_real_process(shutdown_on_exit, shutdown_explicitly):
    script = f"""
        from opentelemetry.sdk.metrics import MeterProvider
        from otel_agentops.genai import semconv
        from otel_agentops.sdk.summary import SummaryMetricReader

        provider = MeterProvider(metric_readers=[SummaryMetricReader()], shutdown_on_exit={shutdown_on_exit})
        duration = provider.get_meter("app").create_histogram(semconv.METRIC_OPERATION_DURATION, unit="s")
        for ms in range(1, 11):
            duration.record(ms / 1000, {{semconv.OPERATION_NAME: "chat"}})
        if {shutdown_explicitly}:
            provider.shutdown()
        print("app done")
    """
    result = run_python(script)
    assert result.stderr == ""
    assert result.stdout.count("otel-agentops run summary") == 1
    assert "calls        10 (chat 10) in " in result.stdout
    assert "latency      p50 5" in result.stdout
    assert result.stdout.endswith("app done\n") == shutdown_explicitly


def test_console_and_summary_through_the_sdk_configurator():
    script = """
        from opentelemetry import metrics, trace
        from opentelemetry.sdk._configuration import _OTelSDKConfigurator
        from otel_agentops.genai import semconv

        _OTelSDKConfigurator().configure()
        tracer = trace.get_tracer("app")
        attributes = {semconv.OPERATION_NAME: "chat", semconv.PROVIDER_NAME: "openai"}
        with tracer.start_as_current_span("invoke_agent support-agent"):
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes):
                pass
        duration = metrics.get_meter("app").create_histogram(semconv.METRIC_OPERATION_DURATION, unit="s")
        duration.record(0.2, attributes)
    """
    result = run_python(
        script,
        OTEL_SERVICE_NAME="support-agent",
        OTEL_TRACES_EXPORTER="agentops_console",
        OTEL_METRICS_EXPORTER="agentops_summary",
        OTEL_LOGS_EXPORTER="none",
    )
    assert result.stderr == ""
    # Both print from atexit hooks, so which comes first is up to the order the providers were made in.
    lines = result.stdout.splitlines()
    tree = next(n for n, line in enumerate(lines) if line.startswith("trace "))
    assert " (support-agent) " in lines[tree]
    assert lines[tree + 1].startswith("└─ invoke_agent support-agent  ")
    assert lines[tree + 2].startswith("   └─ chat gpt-4o-mini  ") and lines[tree + 2].endswith("  openai")
    assert result.stdout.count("otel-agentops run summary") == 1
    assert "calls        1 (chat 1) in " in result.stdout
