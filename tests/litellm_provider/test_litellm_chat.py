"""litellm.completion / acompletion with real LiteLLM against the fake provider (OpenAI and Anthropic wires).

LiteLLM reaches `openai/...` models through the openai SDK, which is instrumented too, and `anthropic/...`
models over plain httpx: either way the app sees exactly one chat span per call, with the usage and cost
counted once.
"""

from __future__ import annotations

import gc

import litellm
import openai
import pytest
import wrapt
from litellm_helpers import (
    KINDS,
    PROVIDERS,
    USER,
    base_attributes,
    chat,
    chat_spans,
    drain,
    pop_base,
    price,
    token_points,
)

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy

PROVIDER_NAMES = list(PROVIDERS)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
ERRORS = [
    (429, litellm.RateLimitError, "litellm.RateLimitError"),
    (500, litellm.InternalServerError, "litellm.InternalServerError"),
    (400, litellm.BadRequestError, "litellm.BadRequestError"),
]


def expected_price(provider: str, input_tokens: int, output_tokens: int, **cache: int) -> float:
    _model, name, bare = PROVIDERS[provider]
    return price(name, bare, input_tokens, output_tokens, **cache)


def pop_response(attributes, provider, response_id, input_tokens, output_tokens) -> float:
    """Pops what a successful call's response says; returns the expected cost."""
    assert attributes.pop(semconv.RESPONSE_ID) == response_id
    assert attributes.pop(semconv.RESPONSE_MODEL) == PROVIDERS[provider][2]
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == input_tokens
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == output_tokens
    cost = expected_price(provider, input_tokens, output_tokens)
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(cost, rel=1e-12)
    return cost


def assert_metrics_once(telemetry, fake, provider, input_tokens, output_tokens, cost, **extra):
    """One duration point, tokens and cost counted once, for one request to the fake provider."""
    assert len(fake.requests) == 1
    expected = {**base_attributes(fake, provider), semconv.RESPONSE_MODEL: PROVIDERS[provider][2], **extra}
    [duration] = telemetry.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    assert token_points(telemetry, "count") == {"input": 1, "output": 1}
    assert token_points(telemetry, "sum") == {"input": input_tokens, "output": output_tokens}
    [cost_point] = telemetry.metric_points(semconv.METRIC_COST)
    assert cost_point.count == 1
    assert cost_point.sum == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_chat(kind, provider, fake_provider, instrumented):
    fake_provider.script(Reply(text="It shipped yesterday.", input_tokens=42, output_tokens=7))

    result = await chat(fake_provider, kind, provider, temperature=0.2, top_p=0.9, stop=["END"])

    assert type(result) is litellm.ModelResponse
    assert result.choices[0].message.content == "It shipped yesterday."
    span = instrumented.span()  # exactly one span: none from the openai SDK underneath
    assert span.name == f"chat {PROVIDERS[provider][2]}"
    assert span.kind.name == "CLIENT"
    assert span.status.status_code.name == "UNSET"
    assert span.parent is None
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, provider)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 50
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    cost = pop_response(attributes, provider, result.id, 42, 7)
    assert attributes == {}
    assert_metrics_once(instrumented, fake_provider, provider, 42, 7, cost)


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_chat_stream_with_usage(kind, provider, fake_provider, instrumented):
    fake_provider.script(Reply(text="Your order is on its way", input_tokens=12, output_tokens=6))

    stream = await chat(fake_provider, kind, provider, stream=True, stream_options={"include_usage": True})

    assert isinstance(stream, litellm.CustomStreamWrapper)
    assert isinstance(stream, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    assert instrumented.spans() == []
    chunks = await drain(stream, kind)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Your order is on its way"
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, provider)
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 50
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    cost = pop_response(attributes, provider, chunks[0].id, 12, 6)
    ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert ttfc > 0
    assert attributes == {}
    assert_metrics_once(instrumented, fake_provider, provider, 12, 6, cost)
    [first_chunk] = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert first_chunk.count == 1
    assert first_chunk.sum == pytest.approx(ttfc)


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_chat_stream_without_usage(kind, provider, fake_provider, instrumented):
    """Without `stream_options.include_usage` LiteLLM's chunks carry no usage: no tokens, no cost."""
    stream = await chat(fake_provider, kind, provider, stream=True)
    chunks = await drain(stream, kind)

    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider, provider)
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 50
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == chunks[0].id
    assert attributes.pop(semconv.RESPONSE_MODEL) == PROVIDERS[provider][2]
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attributes == {}
    assert instrumented.metric_points(semconv.METRIC_TOKEN_USAGE) == []
    assert instrumented.metric_points(semconv.METRIC_COST) == []


@pytest.mark.parametrize(("status", "exception", "error_type"), ERRORS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_chat_errors(
    kind, provider, stream, status, exception, error_type, fake_provider, instrumented
):
    fake_provider.add_fault(Fault(status=status), times=None)

    with pytest.raises(exception):
        await chat(fake_provider, kind, provider, stream=stream)

    assert len(fake_provider.requests) == 1
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, provider)
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 50
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}
    expected = {**base_attributes(fake_provider, provider), semconv.ERROR_TYPE: error_type}
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert dict(errors.attributes) == expected
    assert errors.value == 1
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    assert instrumented.metric_points(semconv.METRIC_TOKEN_USAGE) == []


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_midway_ends_the_span_with_the_error(kind, provider, fake_provider, instrumented):
    # Anthropic's first events (message_start, content_block_start) give LiteLLM no chunk yet.
    fake_provider.add_fault(Fault(cut_stream_after=3 if provider == "openai" else 5))
    stream = await chat(fake_provider, kind, provider, stream=True)

    with pytest.raises(litellm.exceptions.MidStreamFallbackError):
        await drain(stream, kind)

    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    # Not re-exported by the `litellm` package, so named by its defining module.
    assert span.attributes[semconv.ERROR_TYPE] == "litellm.exceptions.MidStreamFallbackError"
    assert span.attributes[semconv.RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.value == 1


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
async def test_sync_stream_break_ends_once_when_collected(provider, fake_provider, instrumented):
    """A sync LiteLLM stream has no close(): after a break, the span ends (abandoned) when it is dropped."""
    stream = await chat(fake_provider, "sync", provider, stream=True)
    for _chunk in stream:
        break
    assert instrumented.spans() == []
    del stream, _chunk
    gc.collect()

    span = instrumented.span()
    assert span.attributes[semconv.STREAM_ABANDONED] is True
    assert span.attributes[semconv.ERROR_TYPE] == "abandoned"
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
async def test_async_stream_break_then_aclose_ends_once(provider, fake_provider, instrumented):
    stream = await chat(fake_provider, "async", provider, stream=True)
    first = None
    async for chunk in stream:
        first = chunk
        break
    assert instrumented.spans() == []
    await stream.aclose()
    await stream.aclose()  # a second close does not end the span again
    del stream
    gc.collect()

    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.ERROR_TYPE not in span.attributes
    assert span.attributes[semconv.RESPONSE_ID] == first.id
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_drained_stream_is_not_ended_again_when_collected(kind, fake_provider, instrumented):
    stream = await chat(fake_provider, kind, "openai", stream=True)
    await drain(stream, kind)
    del stream
    gc.collect()
    span = instrumented.span()
    assert semconv.STREAM_ABANDONED not in span.attributes
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", PROVIDER_NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_tool_calls_requested(kind, provider, stream, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}, id="call_1"),),
            input_tokens=50,
            output_tokens=20,
        )
    )
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    result = await chat(fake_provider, kind, provider, tools=TOOLS, stream=stream, **extra)
    if stream:
        await drain(result, kind)

    attributes = dict(instrumented.span().attributes)
    assert attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order",)
    assert attributes[semconv.RESPONSE_TOOL_CALL_IDS] == ("call_1",)
    assert attributes[semconv.RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 50
    assert attributes[semconv.USAGE_OUTPUT_TOKENS] == 20
    [tool_point] = instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    assert tool_point.value == 1
    assert tool_point.attributes[semconv.TOOL_NAME] == "lookup_order"


@pytest.mark.parametrize("kind", KINDS)
async def test_anthropic_cache_tokens_and_cost(kind, fake_provider, instrumented):
    fake_provider.script(Reply(input_tokens=100, cached_tokens=40, cache_creation_tokens=10, output_tokens=5))
    await chat(fake_provider, kind, "anthropic")

    attributes = dict(instrumented.span().attributes)
    # LiteLLM reports OpenAI's convention: prompt_tokens includes the cached and the cache-written tokens.
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 100
    assert attributes[semconv.USAGE_CACHE_READ_INPUT_TOKENS] == 40
    assert attributes[semconv.USAGE_CACHE_CREATION_INPUT_TOKENS] == 10
    assert attributes[semconv.USAGE_OUTPUT_TOKENS] == 5
    cost = expected_price("anthropic", 100, 5, read=40, write=10)
    assert attributes[semconv.USAGE_COST] == pytest.approx(cost, rel=1e-12)


# ---------------------------------------------------------------- one span, not two


def test_openai_sdk_is_instrumented_in_this_venv(fake_provider, instrumented):
    """The control for the tests below: a direct openai SDK call makes its own span here."""
    from openai.resources.chat.completions import Completions

    assert isinstance(Completions.__dict__["create"], wrapt.FunctionWrapper)
    llm = openai.OpenAI(api_key="test", base_url=fake_provider.openai_base_url, max_retries=0)
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    [span] = chat_spans(instrumented)
    assert span.instrumentation_scope.name == "otel_agentops"
    assert span.attributes[semconv.PROVIDER_NAME] == "openai"


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
async def test_one_span_per_request_across_apis(provider, fake_provider, instrumented):
    """sync, async, sync stream, async stream: as many chat spans as requests reached the fake provider,
    tokens and cost recorded once per call."""
    fake_provider.script(Reply(input_tokens=10, output_tokens=4), times=None)
    usage = {"stream_options": {"include_usage": True}}
    await chat(fake_provider, "sync", provider)
    await chat(fake_provider, "async", provider)
    await drain(await chat(fake_provider, "sync", provider, stream=True, **usage), "sync")
    await drain(await chat(fake_provider, "async", provider, stream=True, **usage), "async")

    calls = len(fake_provider.requests)
    assert calls == 4
    assert len(instrumented.spans()) == calls
    assert len(chat_spans(instrumented)) == calls
    assert all(
        span.attributes[semconv.PROVIDER_NAME] == PROVIDERS[provider][1] for span in instrumented.spans()
    )
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == calls
    assert token_points(instrumented, "count") == {"input": calls, "output": calls}
    assert token_points(instrumented, "sum") == {"input": 10 * calls, "output": 4 * calls}
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.count == calls
    assert cost.sum == pytest.approx(calls * expected_price(provider, 10, 4), rel=1e-9)


async def test_litellm_retries_stay_inside_one_span(fake_provider, instrumented):
    """LiteLLM's own `num_retries` (left as the app set it) retries under the one span of the call."""
    fake_provider.add_fault(Fault(status=429, retry_after="0"), times=1)
    result = await chat(fake_provider, "sync", "openai", num_retries=1)

    assert len(fake_provider.requests) == 2
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert span.attributes[semconv.RESPONSE_ID] == result.id
    assert instrumented.metric_points(semconv.METRIC_ERRORS) == []
