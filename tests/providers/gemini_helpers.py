"""Helpers for the google-genai tests: clients on the fake provider, expected attributes, reference prices."""

from __future__ import annotations

from typing import Any

from genai_asserts import Expected
from genai_prices import Usage, calc_price
from google import genai
from google.genai import types
from sdk_helpers import close, drain, invoke  # noqa: F401 - re-exported for the tests

from otel_agentops.fake_provider import FakeProvider

MODEL = "gemini-2.0-flash"  # flat prices: our fast path
TIERED_MODEL = "gemini-2.5-pro"  # tiered prices: through genai-prices itself
EMBEDDING_MODEL = "gemini-embedding-001"
PROMPT = "Where is order ORD-1042?"
KINDS = ["sync", "async"]
GENERATE = "generate_content"
EXPECTED = Expected("gcp.gemini", "google", MODEL)


def client(fake: FakeProvider, **options: Any) -> genai.Client:
    """A real client on the fake provider; the SDK does not retry unless told to (no retry_options)."""
    return genai.Client(
        api_key="test-key", http_options=types.HttpOptions(base_url=fake.gemini_base_url, **options)
    )


def models(llm: genai.Client, kind: str) -> Any:
    """The sync or async `models` of a client (the test keeps the client: collecting it closes its HTTP
    client)."""
    return llm.aio.models if kind == "async" else llm.models


def base_attributes(fake: FakeProvider, model: str = MODEL, operation: str = GENERATE) -> dict[str, Any]:
    return EXPECTED.base(fake, operation, model)


def pop_base(
    attributes: dict[str, Any], fake: FakeProvider, model: str = MODEL, operation: str = GENERATE
) -> None:
    EXPECTED.pop_base(attributes, fake, operation, model)


def price(model: str, total_input: int, output: int, cache_read: int = 0) -> float:
    """genai-prices' own price, the reference: input tokens are the whole prompt, cached part included."""
    usage = Usage(input_tokens=total_input, output_tokens=output, cache_read_tokens=cache_read or None)
    return float(calc_price(usage, model, provider_id="google").total_price)
