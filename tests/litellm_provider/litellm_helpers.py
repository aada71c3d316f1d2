"""Calling real LiteLLM against the fake provider, and what its spans should say.

These tests run in `.venv-litellm` (`make test-litellm`), with LITELLM_LOCAL_MODEL_COST_MAP=True so that
importing litellm does not fetch its price map.
"""

from __future__ import annotations

import inspect
from typing import Any

import litellm
from genai_prices import Usage, calc_price

from otel_agentops.fake_provider import FakeProvider
from otel_agentops.genai import semconv

litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner on every error

USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
KINDS = ["sync", "async"]
# (LiteLLM model string, gen_ai.provider.name, model as the provider knows it)
PROVIDERS = {
    "openai": ("openai/gpt-4o-mini", "openai", "gpt-4o-mini"),
    "anthropic": ("anthropic/claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
}


def api_base(fake: FakeProvider, provider: str) -> str:
    return fake.openai_base_url if provider == "openai" else fake.anthropic_base_url


def chat_function(kind: str) -> Any:
    return litellm.acompletion if kind == "async" else litellm.completion


def embedding_function(kind: str) -> Any:
    return litellm.aembedding if kind == "async" else litellm.embedding


async def chat(fake: FakeProvider, kind: str, provider: str, **kwargs: Any) -> Any:
    """One chat call; the openai SDK's own retries off so that one call is one request."""
    model = PROVIDERS[provider][0]
    arguments = {
        "model": model,
        "messages": USER,
        "api_base": api_base(fake, provider),
        "api_key": "test",
        "max_tokens": 50,
        "max_retries": 0,
        **kwargs,
    }
    return await invoke(chat_function(kind), **arguments)


async def invoke(function: Any, *args: Any, **kwargs: Any) -> Any:
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def drain(stream: Any, kind: str) -> list[Any]:
    """All chunks; LiteLLM's stream is both an iterator and an async iterator, so the caller says which."""
    if kind == "async":
        return [chunk async for chunk in stream]
    return list(stream)


def base_attributes(fake: FakeProvider, provider: str, operation: str = "chat") -> dict[str, Any]:
    _model, name, bare = PROVIDERS[provider]
    return {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: name,
        semconv.REQUEST_MODEL: bare,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
    }


def pop_base(attributes: dict[str, Any], fake: FakeProvider, provider: str, operation: str = "chat") -> None:
    for key, value in base_attributes(fake, provider, operation).items():
        assert attributes.pop(key) == value, key


def price(provider: str, model: str, input_tokens: int, output_tokens: int, **cache: int) -> float:
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache.get("read"),
        cache_write_tokens=cache.get("write"),
    )
    return float(calc_price(usage, model, provider_id=provider).total_price)


def chat_spans(telemetry: Any) -> list[Any]:
    return [span for span in telemetry.spans() if span.name.startswith("chat ")]


def token_points(telemetry: Any, what: str) -> dict[str, int]:
    """The token-usage histogram's `sum` or `count` per token type, over all its points."""
    totals: dict[str, int] = {}
    for point in telemetry.metric_points(semconv.METRIC_TOKEN_USAGE):
        token_type = point.attributes[semconv.TOKEN_TYPE]
        totals[token_type] = totals.get(token_type, 0) + getattr(point, what)
    return totals
