"""litellm.embedding / aembedding with real LiteLLM against the fake provider's OpenAI wire."""

from __future__ import annotations

import litellm
import pytest
from litellm_helpers import KINDS, embedding_function, invoke, price, token_points

from otel_agentops.fake_provider import Fault
from otel_agentops.genai import semconv

MODEL = "text-embedding-3-small"


def base_attributes(fake):
    return {
        semconv.OPERATION_NAME: "embeddings",
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: MODEL,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
    }


async def embed(fake, kind, **kwargs):
    arguments = {
        "model": f"openai/{MODEL}",
        "input": ["where is my order", "refund policy"],
        "api_base": fake.openai_base_url,
        "api_key": "test",
        "max_retries": 0,
        **kwargs,
    }
    return await invoke(embedding_function(kind), **arguments)


@pytest.mark.parametrize("kind", KINDS)
async def test_embeddings(kind, fake_provider, instrumented):
    result = await embed(fake_provider, kind, encoding_format="float")

    assert type(result) is litellm.EmbeddingResponse
    assert len(result.data) == 2
    span = instrumented.span()
    assert span.name == f"embeddings {MODEL}"
    assert span.kind.name == "CLIENT"
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider).items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.REQUEST_ENCODING_FORMATS) == ("float",)
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    input_tokens = result.usage.prompt_tokens
    assert input_tokens > 0
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == input_tokens
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == len(result.data[0]["embedding"])
    cost = price("openai", MODEL, input_tokens, 0)
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(cost, rel=1e-12)
    assert attributes == {}

    assert len(fake_provider.requests) == 1
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == {**base_attributes(fake_provider), semconv.RESPONSE_MODEL: MODEL}
    assert duration.count == 1
    assert token_points(instrumented, "sum") == {"input": input_tokens}
    [cost_point] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost_point.count == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_embeddings_positional_arguments(kind, fake_provider, instrumented):
    await invoke(
        embedding_function(kind),
        f"openai/{MODEL}",
        ["hello"],
        api_base=fake_provider.openai_base_url,
        api_key="test",
    )
    attributes = instrumented.span().attributes
    assert attributes[semconv.REQUEST_MODEL] == MODEL
    assert attributes[semconv.PROVIDER_NAME] == "openai"


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (429, litellm.RateLimitError, "litellm.RateLimitError"),
        (500, litellm.InternalServerError, "litellm.InternalServerError"),
        (400, litellm.BadRequestError, "litellm.BadRequestError"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
async def test_embedding_errors(kind, status, exception, error_type, fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=status, retry_after_ms="1"), times=None)

    with pytest.raises(exception):
        await embed(fake_provider, kind)

    # LiteLLM 1.106 reads `max_retries=0` as "default" for embeddings (`max_retries or 2`), so the openai
    # SDK underneath retries 429 / 5xx twice: all inside the one span, which reports the final error.
    retry_counts = [r.headers.get("x-stainless-retry-count") for r in fake_provider.requests]
    assert retry_counts == (["0"] if status == 400 else ["0", "1", "2"])
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider).items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert dict(errors.attributes) == {**base_attributes(fake_provider), semconv.ERROR_TYPE: error_type}
    assert errors.value == 1
