"""The tool-call counter is an observable counter over in-process counts: same points, bounded memory."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_agentops.genai import semconv, tool_use
from otel_agentops.genai.tool_use import tool_call_count


def _points(reader: InMemoryMetricReader) -> dict[frozenset, int]:
    data = reader.get_metrics_data()
    return {
        frozenset(point.attributes.items()): point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == semconv.METRIC_TOOL_CALLS
        for point in metric.data.data_points
    }


def _meter() -> tuple[InMemoryMetricReader, object]:
    reader = InMemoryMetricReader()
    return reader, MeterProvider(metric_readers=[reader]).get_meter("otel_agentops")


def test_counts_by_tool_and_origin_cumulatively_and_shared_per_meter() -> None:
    reader, meter = _meter()
    count = tool_call_count(meter)
    assert tool_call_count(meter) is count  # the LLM calls and the agent decorators share it
    count.add("lookup_order", "requested")
    count.add("lookup_order", "requested")
    count.add("lookup_order", "executed")
    name, origin = semconv.TOOL_NAME, semconv.TOOL_CALL_ORIGIN
    assert _points(reader) == {
        frozenset({(name, "lookup_order"), (origin, "executed")}): 1,
        frozenset({(name, "lookup_order"), (origin, "requested")}): 2,
    }
    count.add("refund", "requested")
    assert _points(reader) == {
        frozenset({(name, "lookup_order"), (origin, "executed")}): 1,
        frozenset({(name, "lookup_order"), (origin, "requested")}): 2,
        frozenset({(name, "refund"), (origin, "requested")}): 1,
    }


def test_invented_tool_names_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(tool_use, "MAX_TOOLS", 3)
    reader, meter = _meter()
    count = tool_call_count(meter)
    for i in range(10):
        count.add(f"tool_{i}", "requested")
    count.add("tool_0", "requested")  # known before the bound: still its own
    points = _points(reader)
    assert points[frozenset({("otel.metric.overflow", True)})] == 7
    assert points[frozenset({(semconv.TOOL_NAME, "tool_0"), (semconv.TOOL_CALL_ORIGIN, "requested")})] == 2
    assert len(points) == 4
