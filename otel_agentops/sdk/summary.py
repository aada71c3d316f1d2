"""The run summary printed at process exit (``OTEL_METRICS_EXPORTER=agentops_summary``).

Everything in it is computed from the SDK's own metric data, collected once at the end, so the summary
can never disagree with what was exported elsewhere and needs no bookkeeping on the hot path.

Percentile precision: histograms are collected by this reader (only; other readers keep their own
aggregation) as base-2 exponential histograms with up to ``_MAX_BUCKETS`` buckets. A bucket at scale
``s`` spans ``(b**i, b**(i+1)]`` with ``b = 2**(2**-s)``; a percentile is interpolated linearly inside
the bucket holding its rank and clamped to the recorded min/max, so its relative error is at most
``b - 1`` (reported as ``Percentiles.relative_error``). The SDK lowers the scale until the recorded range
fits in the buckets: with 320 buckets a 1 to 100 ms spread keeps scale 5 (error ≤ 2.2 %) and a 1 ms to 10 s
spread scale 4 (≤ 4.4 %). If a View forces explicit buckets on a histogram, the same interpolation runs
over those buckets and the error is bounded only by their width (``relative_error`` is ``None``).
"""

from __future__ import annotations

import atexit
import logging
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from opentelemetry import trace
from opentelemetry.sdk.metrics import (
    Counter as CounterInstrument,
)
from opentelemetry.sdk.metrics import (
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    MetricReader,
    MetricsData,
    NumberDataPoint,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation

from otel_agentops.genai import semconv
from otel_agentops.sdk.console import format_duration

__all__ = ["Percentiles", "RunSummary", "SummaryMetricReader", "build_summary", "format_summary"]

_logger = logging.getLogger(__name__)

# Twice the SDK default: one more scale step, i.e. half the percentile error, for ~2.5 KB per series.
_MAX_BUCKETS = 320

_HEADER = "── otel-agentops run summary ──────────────────────────"
_LABEL_WIDTH = 13

_HistogramPoint = HistogramDataPoint | ExponentialHistogramDataPoint


@dataclass(frozen=True)
class Percentiles:
    """Latency-style percentiles in the histogram's unit (seconds for durations)."""

    p50: float
    p95: float
    p99: float
    max: float
    # Upper bound of |estimate - true| / true; None when explicit buckets were merged instead.
    relative_error: float | None = None


@dataclass(frozen=True)
class RunSummary:
    wall_seconds: float
    calls: int = 0
    calls_by_operation: Mapping[str, int] = field(default_factory=dict)
    calls_by_provider: Mapping[str, int] = field(default_factory=dict)
    calls_by_model: Mapping[str, int] = field(default_factory=dict)
    errors: int = 0
    errors_by_type: Mapping[str, int] = field(default_factory=dict)
    latency: Percentiles | None = None
    first_chunk: Percentiles | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    # Sum and count of the cost histogram: calls that had a price.
    cost_total: float | None = None
    priced_calls: int = 0
    # None when no data point carries agentops.cost.unpriced: unknown is not the same as zero.
    unpriced_calls: int | None = None
    # Tool calls the model asked for, and those the app ran (agent/tool spans); kept apart, since adding
    # them up would count every executed call twice.
    tool_calls: Mapping[str, int] = field(default_factory=dict)
    tools_executed: Mapping[str, int] = field(default_factory=dict)
    cache_hits: int | None = None
    cache_misses: int | None = None
    retry_attempts: int | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def throughput(self) -> float:
        """Calls per wall-clock second."""
        return self.calls / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def cost_per_call(self) -> float | None:
        """Average over the priced calls; unpriced ones would drag it towards a made-up zero."""
        if self.cost_total is None or not self.priced_calls:
            return None
        return self.cost_total / self.priced_calls


# --- building the summary from metric data ---


def _points_by_metric(metrics_data: MetricsData) -> dict[str, list[Any]]:
    # Merged across resources and scopes: the summary is about the process, not about who recorded.
    points: dict[str, list[Any]] = {}
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def _weight(point: Any) -> float:
    """What one data point contributes to a tally: calls for a histogram, the total for a counter."""
    return point.value if isinstance(point, NumberDataPoint) else point.count


def _tally(points: Iterable[Any], attribute: str) -> dict[str, int]:
    tally: Counter[str] = Counter()
    for point in points:
        key = (point.attributes or {}).get(attribute)
        if key is not None:
            tally[str(key)] += int(_weight(point))
    return dict(tally)


def _total(points: Sequence[Any]) -> int | None:
    return int(sum(_weight(point) for point in points)) if points else None


def _bucket_lower(index: int, scale: int) -> float:
    return 2.0 ** (index * 2.0**-scale)


def _exponential_bins(
    points: Sequence[ExponentialHistogramDataPoint],
) -> tuple[dict[tuple[float, float], int], int]:
    """Merges the points at their coarsest scale (an index at scale s maps to index >> d at s - d)."""
    scale = min(point.scale for point in points)
    positive: Counter[int] = Counter()
    negative: Counter[int] = Counter()
    zero = 0
    for point in points:
        shift = point.scale - scale
        zero += point.zero_count
        for merged, buckets in ((positive, point.positive), (negative, point.negative)):
            for offset, count in enumerate(buckets.bucket_counts):
                if count:
                    merged[(buckets.offset + offset) >> shift] += count
    bins: dict[tuple[float, float], int] = {}
    for index, count in positive.items():
        bins[(_bucket_lower(index, scale), _bucket_lower(index + 1, scale))] = count
    for index, count in negative.items():
        bins[(-_bucket_lower(index + 1, scale), -_bucket_lower(index, scale))] = count
    if zero:
        bins[(0.0, 0.0)] = zero
    return bins, scale


def _explicit_bins(
    points: Sequence[HistogramDataPoint], low: float, high: float
) -> dict[tuple[float, float], int]:
    # The open-ended outer buckets are closed with the observed min and max.
    bins: Counter[tuple[float, float]] = Counter()
    for point in points:
        edges = [low, *point.explicit_bounds, high]
        for position, count in enumerate(point.bucket_counts):
            if count:
                bins[(edges[position], edges[position + 1])] += count
    return dict(bins)


def _percentiles(points: Sequence[Any]) -> Percentiles | None:
    """p50/p95/p99 and max over all points of one histogram, whatever their attributes."""
    points = [point for point in points if isinstance(point, _HistogramPoint) and point.count]
    if not points:
        return None
    mins = [point.min for point in points if math.isfinite(point.min)]
    maxes = [point.max for point in points if math.isfinite(point.max)]
    low = min(mins) if mins else -math.inf
    high = max(maxes) if maxes else math.inf
    exponential = [point for point in points if isinstance(point, ExponentialHistogramDataPoint)]
    relative_error: float | None = None
    if len(exponential) == len(points):
        bins, scale = _exponential_bins(exponential)
        relative_error = _bucket_lower(1, scale) - 1
    else:
        bins = _explicit_bins([point for point in points if isinstance(point, HistogramDataPoint)], low, high)
    # Clamping to the observed range makes the extreme buckets (where p99 lives) much tighter.
    ordered = sorted(((max(lo, low), min(hi, high)), count) for (lo, hi), count in bins.items())
    total = sum(count for _, count in ordered)

    def quantile(q: float) -> float:
        rank = q * total
        seen = 0
        for (lo, hi), count in ordered:
            if seen + count >= rank:
                return lo + (hi - lo) * (rank - seen) / count
            seen += count
        return ordered[-1][0][1]

    top = high if math.isfinite(high) else ordered[-1][0][1]
    return Percentiles(quantile(0.50), quantile(0.95), quantile(0.99), top, relative_error)


def _selected(points: Iterable[Any], keep: Callable[[Mapping[str, Any]], bool]) -> list[Any]:
    return [point for point in points if keep(point.attributes or {})]


def _executed(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(semconv.TOOL_CALL_ORIGIN) == "executed"


def _token_sum(points: Iterable[Any], token_type: str) -> int | None:
    typed = _selected(points, lambda attributes: attributes.get(semconv.TOKEN_TYPE) == token_type)
    return int(sum(point.sum for point in typed)) if typed else None


def build_summary(metrics_data: MetricsData, wall_seconds: float) -> RunSummary:
    """Summarises one (cumulative) collection. Pure: the same data always gives the same summary."""
    points = _points_by_metric(metrics_data)
    durations = points.get(semconv.METRIC_OPERATION_DURATION, [])
    failed = _selected(durations, lambda attributes: semconv.ERROR_TYPE in attributes)
    error_counter = points.get(semconv.METRIC_ERRORS, [])

    priced = points.get(semconv.METRIC_COST, [])
    unpriced = points.get(semconv.METRIC_UNPRICED_CALLS, [])

    models = _tally(durations, semconv.REQUEST_MODEL)
    if not models:
        models = _tally(durations, semconv.RESPONSE_MODEL)
    token_points = points.get(semconv.METRIC_TOKEN_USAGE, [])
    tool_points = points.get(semconv.METRIC_TOOL_CALLS, [])
    return RunSummary(
        wall_seconds=wall_seconds,
        calls=_total(durations) or 0,
        calls_by_operation=_tally(durations, semconv.OPERATION_NAME),
        calls_by_provider=_tally(durations, semconv.PROVIDER_NAME),
        calls_by_model=models,
        errors=_total(failed) or 0,
        # The counter also sees errors that never became a call (e.g. a rejection before sending).
        errors_by_type=_tally(error_counter or failed, semconv.ERROR_TYPE),
        latency=_percentiles(durations),
        first_chunk=_percentiles(points.get(semconv.METRIC_TIME_TO_FIRST_CHUNK, [])),
        input_tokens=_token_sum(token_points, semconv.TOKEN_TYPE_INPUT),
        output_tokens=_token_sum(token_points, semconv.TOKEN_TYPE_OUTPUT),
        cost_total=float(sum(point.sum for point in priced)) if priced else None,
        priced_calls=_total(priced) or 0,
        unpriced_calls=_total(unpriced),
        tool_calls=_tally(_selected(tool_points, lambda a: not _executed(a)), semconv.TOOL_NAME),
        tools_executed=_tally(_selected(tool_points, _executed), semconv.TOOL_NAME),
        cache_hits=_total(points.get(semconv.METRIC_CACHE_HITS, [])),
        cache_misses=_total(points.get(semconv.METRIC_CACHE_MISSES, [])),
        retry_attempts=_total(points.get(semconv.METRIC_RETRY_ATTEMPTS, [])),
    )


# --- formatting ---


def _ranked(tally: Mapping[str, int]) -> str:
    ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {count:,}" for name, count in ordered)


def _summary_lines(summary: RunSummary) -> Iterator[tuple[str, str]]:
    calls = f"{summary.calls:,}"
    if summary.calls_by_operation:
        calls += f" ({_ranked(summary.calls_by_operation)})"
    yield "calls", f"{calls} in {summary.wall_seconds:.2f} s, {summary.throughput:.1f}/s"
    if summary.calls_by_provider:
        yield "providers", _ranked(summary.calls_by_provider)
    if summary.calls_by_model:
        yield "models", _ranked(summary.calls_by_model)
    errors = f"{summary.errors:,}"
    if summary.errors:
        errors += f" ({summary.error_rate * 100:.1f} %)"
    if summary.errors_by_type:
        errors += f": {_ranked(summary.errors_by_type)}"
    yield "errors", errors
    if summary.latency:
        marks = {"p50": summary.latency.p50, "p95": summary.latency.p95, "p99": summary.latency.p99}
        marks["max"] = summary.latency.max
        yield "latency", "  ".join(f"{name} {format_duration(value)}" for name, value in marks.items())
    if summary.first_chunk:
        yield "first chunk", f"p50 {format_duration(summary.first_chunk.p50)}"
    if summary.input_tokens is not None or summary.output_tokens is not None:
        yield "tokens", f"in {summary.input_tokens or 0:,}  out {summary.output_tokens or 0:,}"
    unpriced = f"{summary.unpriced_calls:,} unpriced" if summary.unpriced_calls else ""
    per_call = summary.cost_per_call
    if summary.cost_total is not None and per_call is not None:
        cost = f"${summary.cost_total:.6f} total, ${per_call:.6f} per call"
        yield "cost", f"{cost} ({unpriced})" if unpriced else cost
    elif unpriced:
        yield "cost", f"n/a ({unpriced})"
    if summary.tool_calls:
        yield "tool calls", _ranked(summary.tool_calls)
    if summary.tools_executed:
        yield "tools run", _ranked(summary.tools_executed)
    if summary.cache_hits is not None or summary.cache_misses is not None:
        hits, misses = summary.cache_hits or 0, summary.cache_misses or 0
        cache = f"hits {hits:,}  misses {misses:,}"
        if hits + misses:
            cache += f" ({hits / (hits + misses) * 100:.1f} % hits)"
        yield "cache", cache
    if summary.retry_attempts is not None:
        yield "retries", f"{summary.retry_attempts:,}"


def format_summary(summary: RunSummary) -> str:
    """The printable summary, without a trailing newline."""
    if not summary.calls:
        return f"── otel-agentops run summary: no LLM calls were recorded in {summary.wall_seconds:.2f} s ──"
    return "\n".join(
        [_HEADER, *(f"{label:<{_LABEL_WIDTH}}{text}" for label, text in _summary_lines(summary))]
    )


# --- the reader ---

_CUMULATIVE = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (
        CounterInstrument,
        UpDownCounter,
        Histogram,
        _Gauge,
        ObservableCounter,
        ObservableUpDownCounter,
        ObservableGauge,
    )
}


class SummaryMetricReader(MetricReader):
    """Collects once, at MeterProvider shutdown or at process exit (whichever comes first), and prints.

    ``MeterProvider`` registers its own ``atexit`` shutdown, which calls this reader's ``shutdown``
    while the collect callback is still set, so in the usual setup that is where the summary comes
    from. Our own ``atexit`` hook covers a provider built with ``shutdown_on_exit=False``.
    """

    def __init__(self, *, out: TextIO | None = None) -> None:
        super().__init__(
            preferred_temporality=_CUMULATIVE,
            preferred_aggregation={Histogram: ExponentialBucketHistogramAggregation(max_size=_MAX_BUCKETS)},
        )
        self._out = out
        self._started = time.monotonic()
        self._latest: MetricsData | None = None
        self._lock = threading.Lock()
        self._printed = False
        atexit.register(self._at_exit)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._latest = metrics_data

    def current_summary(self, timeout_millis: float = 10_000) -> RunSummary:
        """Collects now and summarises, without printing (the exit summary is still printed once)."""
        # MeterProvider.remove_metric_reader() drops the collect callback before calling shutdown();
        # then the last collection (from a force_flush) is all there is.
        if self._collect is not None:
            self.collect(timeout_millis=timeout_millis)
        data = self._latest if self._latest is not None else MetricsData(resource_metrics=[])
        return build_summary(data, time.monotonic() - self._started)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        atexit.unregister(self._at_exit)
        self._print_once(timeout_millis)

    def _at_exit(self) -> None:
        self._print_once(10_000)

    def _print_once(self, timeout_millis: float) -> None:
        with self._lock:
            if self._printed:
                return
            self._printed = True
        if self._collect is None and self._latest is None:
            # Never attached to a MeterProvider, or detached before any collection: "no LLM calls" would
            # be a guess, so say nothing.
            _logger.debug("run summary skipped: the reader never saw any metric data")
            return
        _flush_traces(timeout_millis)
        try:
            summary = self.current_summary(timeout_millis)
            out = self._out if self._out is not None else sys.stdout
            out.write(format_summary(summary) + "\n")
            out.flush()
        except Exception:
            # Raising here would surface as a MeterProvider.shutdown traceback at exit; the app is done.
            _logger.warning("could not print the otel-agentops run summary", exc_info=True)


def _flush_traces(timeout_millis: float) -> None:
    """Let the traces of the run (e.g. the console trees) come out before the summary that ends it.

    At exit the MeterProvider shuts down before the TracerProvider (atexit runs in reverse order of
    registration), so without this the batched traces would print after the summary.
    """
    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is None:
        return
    try:
        flush(int(min(timeout_millis, 5_000)))
    except Exception:
        _logger.debug("could not flush traces before the run summary", exc_info=True)
