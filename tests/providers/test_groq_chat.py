"""Groq with the real groq SDK against the fake provider (OpenAI's wire format under /openai/v1)."""

from __future__ import annotations

import json
from typing import Any

import groq
import httpx
import pytest
from genai_prices import Usage, calc_price
from sdk_helpers import drain, invoke

from otel_agentops.fake_provider import FakeProvider, Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy
from otel_agentops.providers import groq as groq_provider
from otel_agentops.providers import openai as openai_shapes

KINDS = ["sync", "async"]
MODEL = "llama-3.3-70b-versatile"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]


def client(fake: FakeProvider, kind: str, **options: Any) -> Any:
    cls = groq.AsyncGroq if kind == "async" else groq.Groq
    return cls(api_key="gsk-test-key", base_url=fake.groq_base_url, max_retries=0, **options)


def base_attributes(fake: FakeProvider, operation: str = "chat", model: str = MODEL) -> dict[str, Any]:
    return {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: "groq",
        semconv.REQUEST_MODEL: model,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
    }


def price(input_tokens: int, output_tokens: int) -> float:
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return float(calc_price(usage, MODEL, provider_id="groq").total_price)


def pop_base(
    attributes: dict[str, Any], fake: FakeProvider, operation: str = "chat", model: str = MODEL
) -> None:
    for key, value in base_attributes(fake, operation, model).items():
        assert attributes.pop(key) == value, key


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_non_streaming(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="It shipped yesterday.", input_tokens=42, output_tokens=7))
    llm = client(fake_provider, kind)

    result = await invoke(
        llm.chat.completions.create,
        model=MODEL,
        messages=USER,
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=100,
        seed=7,
        stop=["END"],
    )

    assert type(result) is groq.types.chat.ChatCompletion
    assert result.choices[0].message.content == "It shipped yesterday."
    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 100
    assert attributes.pop(semconv.REQUEST_SEED) == 7
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.RESPONSE_ID) == result.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 42
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(42, 7), rel=1e-12)
    assert attributes == {}

    expected = {**base_attributes(fake_provider), semconv.RESPONSE_MODEL: MODEL}
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    tokens = {
        p.attributes[semconv.TOKEN_TYPE]: p.sum
        for p in instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    }
    assert tokens == {"input": 42, "output": 7}
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price(42, 7), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_streaming_with_usage(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="Your order is on its way", input_tokens=12, output_tokens=6))
    llm = client(fake_provider, kind)

    stream = await invoke(
        llm.chat.completions.create,
        model=MODEL,
        messages=USER,
        stream=True,
        # The SDK has no stream_options (Groq sends usage in x_groq, see below); the fake's OpenAI format
        # sends it in `usage` when asked.
        extra_body={"stream_options": {"include_usage": True}},
    )
    assert isinstance(stream, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    assert isinstance(stream, groq.AsyncStream if kind == "async" else groq.Stream)
    assert instrumented.spans() == []
    chunks = await drain(stream)

    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Your order is on its way"
    )
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == chunks[0].id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 12
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 6
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(12, 6), rel=1e-12)
    ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert ttfc > 0
    assert attributes == {}
    [first_chunk] = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert first_chunk.sum == pytest.approx(ttfc)


def _sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def test_stream_usage_from_x_groq(instrumented):
    """Groq's API puts a stream's usage in the last chunk's `x_groq.usage`."""
    envelope = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    body = _sse(
        {**envelope, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        {
            **envelope,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "x_groq": {
                "id": "req_1",
                "usage": {
                    "prompt_tokens": 20,
                    "completion_tokens": 3,
                    "total_tokens": 23,
                    "queue_time": 0.01,
                },
            },
        },
    )

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    llm = groq.Groq(
        api_key="gsk-test", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(reply))
    )
    chunks = list(llm.chat.completions.create(model=MODEL, messages=USER, stream=True))

    assert chunks[-1].x_groq.usage.prompt_tokens == 20
    attributes = dict(instrumented.span().attributes)
    assert attributes[semconv.SERVER_ADDRESS] == "api.groq.com"
    assert attributes[semconv.SERVER_PORT] == 443
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 20
    assert attributes[semconv.USAGE_OUTPUT_TOKENS] == 3
    assert attributes[semconv.USAGE_COST] == pytest.approx(price(20, 3), rel=1e-12)
    assert attributes[semconv.RESPONSE_FINISH_REASONS] == ("stop",)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_requested(kind, stream, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}, id="call_1"),),
            input_tokens=50,
            output_tokens=20,
        )
    )
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup_order", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    result = await invoke(
        client(fake_provider, kind).chat.completions.create,
        model=MODEL,
        messages=USER,
        tools=tools,
        stream=stream,
    )
    if stream:
        await drain(result)
    else:
        assert result.choices[0].message.tool_calls[0].function.name == "lookup_order"

    span = instrumented.span()
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order",)
    assert span.attributes[semconv.RESPONSE_TOOL_CALL_IDS] == ("call_1",)
    counts = {
        p.attributes[semconv.TOOL_NAME]: p.value
        for p in instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    }
    assert counts == {"lookup_order": 1}


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="raw", input_tokens=5, output_tokens=1))
    llm = client(fake_provider, kind)
    raw = await invoke(llm.chat.completions.with_raw_response.create, model=MODEL, messages=USER)

    assert raw.headers["x-request-id"]
    parsed = await invoke(raw.parse)
    assert parsed.choices[0].message.content == "raw"
    attributes = dict(instrumented.span().attributes)
    assert attributes[semconv.PROVIDER_NAME] == "groq"
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 5
    assert attributes[semconv.USAGE_OUTPUT_TOKENS] == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("fault", "exception", "error_type"),
    [
        (Fault(status=429, retry_after="1"), groq.RateLimitError, "groq.RateLimitError"),
        (Fault(drop_connection=True), groq.APIConnectionError, "groq.APIConnectionError"),
    ],
)
async def test_chat_errors(kind, fault, exception, error_type, fake_provider, instrumented):
    fake_provider.add_fault(fault)
    with pytest.raises(exception):
        await invoke(client(fake_provider, kind).chat.completions.create, model=MODEL, messages=USER)

    assert fake_provider.request_count() == 1
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert dict(errors.attributes) == {**base_attributes(fake_provider), semconv.ERROR_TYPE: error_type}


@pytest.mark.parametrize("kind", KINDS)
async def test_embeddings(kind, fake_provider, instrumented):
    model = "nomic-embed-text-v1_5"
    result = await invoke(client(fake_provider, kind).embeddings.create, model=model, input="hello world")

    assert len(result.data[0].embedding) == 8
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider, "embeddings", model)
    assert attributes.pop(semconv.RESPONSE_MODEL) == model
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == 8
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 3
    assert attributes.pop(semconv.COST_UNPRICED) is True
    assert attributes == {}


async def test_sentinel_arguments_are_not_recorded(fake_provider, instrumented):
    client(fake_provider, "sync").chat.completions.create(
        model=MODEL, messages=USER, temperature=groq.NOT_GIVEN, top_p=groq.omit
    )
    attributes = instrumented.span().attributes
    assert semconv.REQUEST_TEMPERATURE not in attributes
    assert semconv.REQUEST_TOP_P not in attributes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_broken_extractor_fails_open(kind, stream, fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("extractor broke")

    monkeypatch.setattr(openai_shapes, "_chat_usage", broken)
    fake_provider.script(Reply(text="still fine", input_tokens=3, output_tokens=2))
    kwargs = {"stream": True, "extra_body": {"stream_options": {"include_usage": True}}} if stream else {}
    result = await invoke(
        client(fake_provider, kind).chat.completions.create, model=MODEL, messages=USER, **kwargs
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in await drain(result) if c.choices)
    else:
        text = result.choices[0].message.content
    assert text == "still fine"
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


async def test_broken_request_extraction_fails_open(fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("request extraction broke")

    monkeypatch.setattr(groq_provider, "_server", broken)
    result = client(fake_provider, "sync").chat.completions.create(model=MODEL, messages=USER)
    assert result.choices[0].message.content
    assert fake_provider.request_count() == 1
    assert instrumented.spans() == []
