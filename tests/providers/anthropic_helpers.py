"""Helpers for the Anthropic tests: clients on the fake provider, sync/async calls, expected attributes."""

from __future__ import annotations

from typing import Any

import anthropic
from genai_prices import Usage, calc_price
from sdk_helpers import close, drain, invoke  # noqa: F401 - re-exported for the tests

from otel_agentops.fake_provider import FakeProvider
from otel_agentops.genai import semconv

MODEL = "claude-haiku-4-5"  # flat prices: our fast path
TIERED_MODEL = "claude-haiku-5-5"  # tiered prices: through genai-prices itself
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
KINDS = ["sync", "async"]


def client(fake: FakeProvider, kind: str, **options: Any) -> Any:
    cls = anthropic.AsyncAnthropic if kind == "async" else anthropic.Anthropic
    return cls(api_key="sk-ant-test", base_url=fake.anthropic_base_url, max_retries=0, **options)


def base_attributes(fake: FakeProvider, model: str = MODEL, max_tokens: int = 256) -> dict[str, Any]:
    return {
        semconv.OPERATION_NAME: "chat",
        semconv.PROVIDER_NAME: "anthropic",
        semconv.REQUEST_MODEL: model,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
        semconv.REQUEST_MAX_TOKENS: max_tokens,
    }


def pop_base(
    attributes: dict[str, Any], fake: FakeProvider, model: str = MODEL, max_tokens: int = 256
) -> None:
    for key, value in base_attributes(fake, model, max_tokens).items():
        assert attributes.pop(key) == value, key


def price(model: str, total_input: int, output: int, cache_read: int = 0, cache_write: int = 0) -> float:
    """genai-prices' own price, the reference: input tokens are the whole prompt, cached parts included."""
    usage = Usage(
        input_tokens=total_input,
        output_tokens=output,
        cache_read_tokens=cache_read or None,
        cache_write_tokens=cache_write or None,
    )
    return float(calc_price(usage, model, provider_id="anthropic").total_price)


def pop_ttfc(attributes: dict[str, Any]) -> float:
    ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert ttfc > 0
    return ttfc
