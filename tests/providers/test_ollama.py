"""Ollama with the real ollama client against the fake provider's Ollama API (/api/chat, generate, embed)."""

from __future__ import annotations

import json
import types
from typing import Any

import httpx
import ollama
import pytest
from sdk_helpers import drain, invoke

import otel_agentops
from otel_agentops.fake_provider import FakeProvider, Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.providers import ollama as ollama_provider

KINDS = ["sync", "async"]
MODEL = "llama3.2"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def client(fake: FakeProvider, kind: str) -> Any:
    return (ollama.AsyncClient if kind == "async" else ollama.Client)(host=fake.ollama_host)


def pop_base(
    attributes: dict[str, Any], fake: FakeProvider, operation: str = "chat", model: str = MODEL
) -> None:
    expected = {
        semconv.OPERATION_NAME: operation,
        semconv.PROVIDER_NAME: "ollama",
        semconv.REQUEST_MODEL: model,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
    }
    for key, value in expected.items():
        assert attributes.pop(key) == value, key


def pop_ttfc(attributes: dict[str, Any]) -> float:
    ttfc = attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK)
    assert isinstance(ttfc, float)
    assert ttfc > 0
    return ttfc


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_non_streaming(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="It shipped yesterday.", input_tokens=42, output_tokens=7))

    result = await invoke(
        client(fake_provider, kind).chat,
        model=MODEL,
        messages=USER,
        format="json",
        options={
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "num_predict": 100,
            "seed": 7,
            "stop": ["END"],
        },
    )

    assert type(result) is ollama.ChatResponse
    assert result.message.content == "It shipped yesterday."
    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_TOP_K) == 40
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 100
    assert attributes.pop(semconv.REQUEST_SEED) == 7
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.OUTPUT_TYPE) == "json"
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 42
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.COST_UNPRICED) is True  # a local model has no price
    assert attributes == {}

    tokens = {
        p.attributes[semconv.TOKEN_TYPE]: p.sum
        for p in instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    }
    assert tokens == {"input": 42, "output": 7}
    assert instrumented.metric_points(semconv.METRIC_COST) == []
    [unpriced] = instrumented.metric_points(semconv.METRIC_UNPRICED_CALLS)
    assert unpriced.value == 1
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.PROVIDER_NAME] == "ollama"


async def test_positional_arguments(fake_provider, instrumented):
    result = client(fake_provider, "sync").chat(MODEL, USER)
    assert result.message.content.startswith("Fake answer to:")
    attributes = instrumented.span().attributes
    assert attributes[semconv.REQUEST_MODEL] == MODEL


async def test_module_level_functions(fake_provider, instrumented, monkeypatch):
    """`ollama.chat(...)` is a method of a default client bound at import time, before instrumenting."""
    monkeypatch.setattr(ollama._client, "_client", httpx.Client(base_url=fake_provider.ollama_host))
    result = ollama.chat(model=MODEL, messages=USER)
    assert result.message.content.startswith("Fake answer to:")
    assert instrumented.span().attributes[semconv.PROVIDER_NAME] == "ollama"

    otel_agentops.uninstrument()
    ollama.chat(model=MODEL, messages=USER)
    assert len(instrumented.spans()) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_streaming(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="Your order is on its way", input_tokens=12, output_tokens=6))

    stream = await invoke(client(fake_provider, kind).chat, model=MODEL, messages=USER, stream=True)
    # The app still gets the client's own (async) generator type, and typed chunks.
    assert isinstance(stream, types.AsyncGeneratorType if kind == "async" else types.GeneratorType)
    assert instrumented.spans() == []
    chunks = await drain(stream)

    assert all(type(c) is ollama.ChatResponse for c in chunks)
    assert "".join(c.message.content for c in chunks) == "Your order is on its way"
    assert chunks[-1].done
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 12
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 6
    assert attributes.pop(semconv.COST_UNPRICED) is True
    ttfc = pop_ttfc(attributes)
    assert attributes == {}
    [first_chunk] = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert first_chunk.sum == pytest.approx(ttfc)


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_closed_early_ends_span(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="one two three four five"))
    stream = await invoke(client(fake_provider, kind).chat, model=MODEL, messages=USER, stream=True)
    if kind == "async":
        await stream.__anext__()
        await stream.aclose()
    else:
        next(stream)
        stream.close()
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_requested(kind, stream, fake_provider, instrumented):
    fake_provider.script(Reply(tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}),)))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
            },
        }
    ]
    result = await invoke(
        client(fake_provider, kind).chat, model=MODEL, messages=USER, tools=tools, stream=stream
    )
    if stream:
        calls = [tc for chunk in await drain(result) for tc in chunk.message.tool_calls or ()]
    else:
        calls = result.message.tool_calls
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("lookup_order", {"order_id": "ORD-1042"})
    ]

    span = instrumented.span()
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order",)
    assert semconv.RESPONSE_TOOL_CALL_IDS not in span.attributes  # Ollama's tool calls have no ids
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("stop",)
    counts = {
        p.attributes[semconv.TOOL_NAME]: p.value
        for p in instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    }
    assert counts == {"lookup_order": 1}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_generate(kind, stream, fake_provider, instrumented):
    fake_provider.script(Reply(text="Once upon a time", input_tokens=9, output_tokens=4))
    result = await invoke(
        client(fake_provider, kind).generate, model=MODEL, prompt="Tell a story", stream=stream
    )
    if stream:
        chunks = await drain(result)
        assert all(type(c) is ollama.GenerateResponse for c in chunks)
        assert "".join(c.response for c in chunks) == "Once upon a time"
    else:
        assert result.response == "Once upon a time"

    span = instrumented.span()
    assert span.name == f"text_completion {MODEL}"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, "text_completion")
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
        pop_ttfc(attributes)
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 9
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 4
    assert attributes.pop(semconv.COST_UNPRICED) is True
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_embed(kind, fake_provider, instrumented):
    model = "nomic-embed-text"
    result = await invoke(
        client(fake_provider, kind).embed, model=model, input=["hello world", "bye"], dimensions=4
    )

    assert [len(v) for v in result.embeddings] == [4, 4]
    span = instrumented.span()
    assert span.name == f"embeddings {model}"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, "embeddings", model)
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == 4
    assert attributes.pop(semconv.RESPONSE_MODEL) == model
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 4  # ceil(11/4) + ceil(3/4)
    assert attributes.pop(semconv.COST_UNPRICED) is True
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_chat_error(kind, stream, fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=500))
    with pytest.raises(ollama.ResponseError) as raised:
        result = await invoke(client(fake_provider, kind).chat, model=MODEL, messages=USER, stream=stream)
        await drain(result)  # a streamed call fails when iterated

    assert raised.value.status_code == 500
    assert "Injected fault" in raised.value.error
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.ERROR_TYPE) == "ollama.ResponseError"
    assert attributes == {}
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.attributes[semconv.ERROR_TYPE] == "ollama.ResponseError"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_broken_extractor_fails_open(kind, stream, fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("extractor broke")

    monkeypatch.setattr(ollama_provider, "_usage", broken)
    fake_provider.script(Reply(text="still fine", input_tokens=3, output_tokens=2))
    result = await invoke(client(fake_provider, kind).chat, model=MODEL, messages=USER, stream=stream)
    text = "".join(c.message.content for c in await drain(result)) if stream else result.message.content
    assert text == "still fine"
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


async def test_broken_request_extraction_fails_open(fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("request extraction broke")

    monkeypatch.setattr(ollama_provider, "_server", broken)
    result = client(fake_provider, "sync").chat(model=MODEL, messages=USER)
    assert result.message.content
    assert fake_provider.request_count() == 1
    assert instrumented.spans() == []


@pytest.mark.parametrize("stream", [False, True])
async def test_content_capture(stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday."))
    messages = [{"role": "system", "content": "You are a support agent."}, *USER]
    result = client(fake_provider, "sync").chat(model=MODEL, messages=messages, stream=stream)
    if stream:
        list(result)

    span = telemetry.span()
    assert json.loads(span.attributes[semconv.SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "You are a support agent."}
    ]
    assert json.loads(span.attributes[semconv.INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is order ORD-1042?"}]}
    ]
    assert json.loads(span.attributes[semconv.OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped on Monday."}],
            "finish_reason": "stop",
        }
    ]
