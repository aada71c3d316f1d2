"""Helpers for the OpenAI tests: clients on the fake provider, sync/async calls, expected attributes."""

from __future__ import annotations

from typing import Any

import openai
from genai_prices import Usage, calc_price
from sdk_helpers import close, drain, invoke  # noqa: F401 - re-exported for the tests

from otel_agentops.fake_provider import FakeProvider
from otel_agentops.genai import semconv


def client(fake: FakeProvider, kind: str, **options: Any) -> Any:
    cls = openai.AsyncOpenAI if kind == "async" else openai.OpenAI
    return cls(api_key="sk-test-key", base_url=fake.openai_base_url, max_retries=0, **options)


def base_attributes(fake: FakeProvider, model: str, operation: str = "chat") -> dict[str, Any]:
    return {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: model,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
    }


def price(model: str, input_tokens: int, output_tokens: int, cached: int = 0) -> float:
    """The library's own price, as the reference our fast path must match."""
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached or None)
    return float(calc_price(usage, model, provider_id="openai").total_price)


def pop_ttfc(attributes: dict[str, Any]) -> float:
    ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert ttfc > 0
    return ttfc


USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
