"""What the Mistral and Cohere tests check the same way: the request attributes every span has, the price
reference, time to first chunk, metric points, how a stream ended."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from otel_agentops.fake_provider import FakeProvider, Reply, ToolCall
from otel_agentops.genai import semconv

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CONTENT_KEYS = (
    semconv.INPUT_MESSAGES,
    semconv.OUTPUT_MESSAGES,
    semconv.SYSTEM_INSTRUCTIONS,
    semconv.TOOL_DEFINITIONS,
)


class Expected:
    """The attributes every span of one provider carries, and its price reference (genai-prices itself)."""

    def __init__(self, provider: str, price_id: str, model: str) -> None:
        self.provider = provider
        self.price_id = price_id
        self.model = model

    def base(self, fake: FakeProvider, operation: str = "chat", model: str | None = None) -> dict[str, Any]:
        return {
            semconv.OPERATION_NAME: operation,
            semconv.PROVIDER_NAME: self.provider,
            semconv.REQUEST_MODEL: model or self.model,
            semconv.SERVER_ADDRESS: "127.0.0.1",
            semconv.SERVER_PORT: fake.port,
        }

    def pop_base(
        self,
        attributes: dict[str, Any],
        fake: FakeProvider,
        operation: str = "chat",
        model: str | None = None,
    ) -> None:
        for key, value in self.base(fake, operation, model).items():
            assert attributes.pop(key) == value, key

    def span_attributes(
        self,
        telemetry: Any,
        fake: FakeProvider,
        status: str = "UNSET",
        operation: str = "chat",
        model: str | None = None,
    ) -> dict[str, Any]:
        """The only span's attributes once its name, kind, status and base attributes are checked."""
        span = telemetry.span()
        assert span.name == f"{operation} {model or self.model}"
        assert span.kind.name == "CLIENT"
        assert span.status.status_code.name == status
        attributes = dict(span.attributes)
        self.pop_base(attributes, fake, operation, model)
        return attributes

    def price(self, input_tokens: int, output_tokens: int, model: str | None = None) -> float:
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        return float(calc_price(usage, model or self.model, provider_id=self.price_id).total_price)


def pop_ttfc(attributes: dict[str, Any], telemetry: Any = None) -> float:
    """Pops the time to first chunk; with `telemetry`, checks its one metric point has the same value."""
    ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert ttfc > 0
    if telemetry is not None:
        [point] = telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
        assert point.count == 1
        assert point.sum == pytest.approx(ttfc)
    return ttfc


def content(span: Any, key: str) -> Any:
    return json.loads(span.attributes[key])


def assert_no_content(attributes: Mapping[str, Any]) -> None:
    for key in CONTENT_KEYS:
        assert key not in attributes


def token_sums(telemetry: Any) -> dict[str, float]:
    points = telemetry.metric_points(semconv.METRIC_TOKEN_USAGE)
    return {p.attributes[semconv.TOKEN_TYPE]: p.sum for p in points}


def tool_call_counts(telemetry: Any) -> dict[str, int]:
    return {
        p.attributes[semconv.TOOL_NAME]: p.value for p in telemetry.metric_points(semconv.METRIC_TOOL_CALLS)
    }


def one_ok_span(telemetry: Any) -> Any:
    """The only span, ended once and without an error."""
    span = telemetry.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.ERROR_TYPE not in span.attributes
    [duration] = telemetry.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1
    return span


def assert_abandoned(telemetry: Any) -> None:
    span = telemetry.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "abandoned"
    assert span.attributes[semconv.STREAM_ABANDONED] is True


def assert_error_metric(telemetry: Any, base: Mapping[str, Any], error_type: str) -> None:
    [errors] = telemetry.metric_points(semconv.METRIC_ERRORS)
    assert dict(errors.attributes) == {**base, semconv.ERROR_TYPE: error_type}
    assert errors.value == 1


async def next_item(stream: Any) -> Any:
    if hasattr(stream, "__anext__"):
        return await stream.__anext__()
    return next(stream)


async def read_until_error(stream: Any, received: list[Any]) -> None:
    """Iterate `stream` into `received` (which keeps what came before the error the caller expects)."""
    if hasattr(stream, "__aiter__"):
        async for item in stream:
            received.append(item)
    else:
        for item in stream:
            received.append(item)


def two_tool_calls(first_id: str, second_id: str) -> Reply:
    """A scripted reply that calls `lookup_order` then `refund`, with the provider's style of ids."""
    arguments = {"order_id": "ORD-1042"}
    calls = (ToolCall("lookup_order", arguments, id=first_id), ToolCall("refund", arguments, id=second_id))
    return Reply(tool_calls=calls, input_tokens=50, output_tokens=20)


def pop_exported_usage(attributes: dict[str, Any]) -> None:
    """Usage and cost of a span the console exporter printed (their values follow the fake's formulas)."""
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cost"):
        assert attributes.pop(key) > 0, key
