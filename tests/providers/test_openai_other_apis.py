"""Responses API, embeddings, with_raw_response and with_streaming_response."""

from __future__ import annotations

import gc

import openai
import pytest
from openai_helpers import USER, base_attributes, client, drain, invoke, pop_ttfc, price

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv

KINDS = ["sync", "async"]


@pytest.mark.parametrize("kind", KINDS)
async def test_responses_create(kind, fake_provider, instrumented):
    fake_provider.script(
        Reply(text="Shipped.", input_tokens=20, output_tokens=3, cached_tokens=4, reasoning_tokens=2)
    )
    llm = client(fake_provider, kind)
    result = await invoke(
        llm.responses.create,
        model="gpt-4o-mini",
        input="Where is ORD-1042?",
        instructions="Be brief.",
        temperature=0.5,
        max_output_tokens=64,
    )
    assert result.output_text == "Shipped."

    span = instrumented.span()
    assert span.name == "chat gpt-4o-mini"
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider, "gpt-4o-mini").items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.5
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 64
    assert attributes.pop(semconv.RESPONSE_ID) == result.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == "gpt-4o-mini"
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 20
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 3
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 4
    assert attributes.pop(semconv.USAGE_REASONING_OUTPUT_TOKENS) == 2
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(
        price("gpt-4o-mini", 20, 3, cached=4), rel=1e-12
    )
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_responses_streaming_with_function_call(kind, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}),), input_tokens=15, output_tokens=6
        )
    )
    llm = client(fake_provider, kind)
    tools = [{"type": "function", "name": "lookup_order", "parameters": {"type": "object", "properties": {}}}]
    stream = await invoke(
        llm.responses.create, model="gpt-4o-mini", input="ORD-1042?", tools=tools, stream=True
    )
    events = await drain(stream)
    assert events[-1].type == "response.completed"

    span = instrumented.span()
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider, "gpt-4o-mini").items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == events[-1].response.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == "gpt-4o-mini"
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("tool_call",)
    assert attributes.pop(semconv.REQUEST_TOOL_CALLS) == ("lookup_order",)
    function_calls = [item for item in events[-1].response.output if item.type == "function_call"]
    assert attributes.pop(semconv.RESPONSE_TOOL_CALL_IDS) == tuple(item.call_id for item in function_calls)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 15
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 6
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price("gpt-4o-mini", 15, 6), rel=1e-12)
    pop_ttfc(attributes)
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_responses_stream_helper(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="Shipped yesterday.", input_tokens=8, output_tokens=2))
    llm = client(fake_provider, kind)
    if kind == "async":
        async with llm.responses.stream(model="gpt-4o-mini", input="ORD-1042?") as stream:
            final = await stream.get_final_response()
    else:
        with llm.responses.stream(model="gpt-4o-mini", input="ORD-1042?") as stream:
            final = stream.get_final_response()
    assert final.output_text == "Shipped yesterday."
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", [None, "float"])
async def test_embeddings(kind, encoding, fake_provider, instrumented):
    llm = client(fake_provider, kind)
    kwargs = {"encoding_format": encoding} if encoding else {}
    result = await invoke(
        llm.embeddings.create, model="text-embedding-3-small", input=["a b c", "d e"], **kwargs
    )
    assert len(result.data) == 2

    span = instrumented.span()
    assert span.name == "embeddings text-embedding-3-small"
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider, "text-embedding-3-small", "embeddings").items():
        assert attributes.pop(key) == value, key
    if encoding:
        assert attributes.pop(semconv.REQUEST_ENCODING_FORMATS) == (encoding,)
    assert attributes.pop(semconv.RESPONSE_MODEL) == result.model
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == result.usage.prompt_tokens
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == len(result.data[0].embedding)
    expected_cost = float(
        __import__("genai_prices")
        .calc_price(
            __import__("genai_prices").Usage(input_tokens=result.usage.prompt_tokens, output_tokens=0),
            "text-embedding-3-small",
            provider_id="openai",
        )
        .total_price
    )
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(expected_cost, rel=1e-12)
    assert attributes == {}
    tokens = instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    assert [p.attributes[semconv.TOKEN_TYPE] for p in tokens] == ["input"]


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="raw!", input_tokens=5, output_tokens=1))
    llm = client(fake_provider, kind)
    raw = await invoke(llm.chat.completions.with_raw_response.create, model="gpt-4o-mini", messages=USER)

    assert raw.headers.get("content-type", "").startswith("application/json")
    assert type(raw).__name__ == "LegacyAPIResponse"
    span = instrumented.span()  # ended without the app having to parse
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 5
    completion = raw.parse()
    assert type(completion) is openai.types.chat.ChatCompletion
    assert completion.choices[0].message.content == "raw!"
    assert len(instrumented.spans()) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response_streaming(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="raw stream", input_tokens=5, output_tokens=2))
    llm = client(fake_provider, kind)
    raw = await invoke(
        llm.chat.completions.with_raw_response.create,
        model="gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.http_response.status_code == 200
    stream = raw.parse()
    assert stream is raw.parse()  # the same object on every parse, as without us
    chunks = await drain(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "raw stream"
    span = instrumented.span()
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 2
    assert semconv.RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes


async def test_with_streaming_response_sync(fake_provider, instrumented):
    fake_provider.script(Reply(text="streamed raw", input_tokens=4, output_tokens=2))
    llm = client(fake_provider, "sync")
    with llm.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=USER) as response:
        assert response.http_response.status_code == 200
        completion = response.parse()
    assert completion.choices[0].message.content == "streamed raw"
    span = instrumented.span()
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 4


async def test_with_streaming_response_async_closed_unparsed(fake_provider, instrumented):
    llm = client(fake_provider, "async")
    async with llm.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER
    ) as response:
        assert response.http_response.status_code == 200
    span = instrumented.span()  # ended by the close, with what the headers told
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


async def test_raw_response_never_parsed_ends_on_collection(fake_provider, instrumented):
    llm = client(fake_provider, "sync")
    raw = llm.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER, stream=True)
    del raw
    gc.collect()
    assert len(instrumented.spans()) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_responses_error(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=503))
    llm = client(fake_provider, kind)
    with pytest.raises(openai.InternalServerError):
        await invoke(llm.responses.create, model="gpt-4o-mini", input="hi")
    span = instrumented.span()
    assert span.attributes[semconv.ERROR_TYPE] == "openai.InternalServerError"


async def test_streaming_error_before_first_chunk(fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=429, retry_after="2"))
    llm = client(fake_provider, "sync")
    with pytest.raises(openai.RateLimitError) as caught:
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    assert caught.value.response.headers["retry-after"] == "2"
    span = instrumented.span()
    assert span.attributes[semconv.ERROR_TYPE] == "openai.RateLimitError"
    assert semconv.RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes
