"""The GenAI client instruments, created once per meter."""

from __future__ import annotations

from opentelemetry.metrics import Meter

from otel_agentops.genai import semconv
from otel_agentops.genai.tool_use import tool_call_count


class GenAIMetrics:
    __slots__ = (
        "cost",
        "duration",
        "errors",
        "time_to_first_chunk",
        "token_usage",
        "tool_calls",
        "unpriced_calls",
    )

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        self.token_usage = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(semconv.TOKEN_BUCKETS),
        )
        self.time_to_first_chunk = meter.create_histogram(
            semconv.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streaming response",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        self.cost = meter.create_histogram(
            semconv.METRIC_COST,
            unit="USD",
            description="Cost of GenAI operations from the offline price data",
            explicit_bucket_boundaries_advisory=list(semconv.COST_BUCKETS),
        )
        # Unpriced calls are counted, not recorded as a cost of 0, so no sum or average is silently low.
        self.unpriced_calls = meter.create_counter(
            semconv.METRIC_UNPRICED_CALLS, unit="{call}", description="Calls whose model has no known price"
        )
        self.errors = meter.create_counter(
            semconv.METRIC_ERRORS, unit="{error}", description="Failed GenAI operations by error type"
        )
        self.tool_calls = tool_call_count(meter)
