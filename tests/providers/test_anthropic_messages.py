"""messages.create / parse, real anthropic SDK against the fake provider: spans and metrics, exactly."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from anthropic_helpers import (
    KINDS,
    MODEL,
    TIERED_MODEL,
    USER,
    base_attributes,
    client,
    drain,
    invoke,
    pop_base,
    pop_ttfc,
    price,
)
from pydantic import BaseModel

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy
from otel_agentops.providers import anthropic as anthropic_provider

TOOLS = [
    {
        "name": name,
        "description": f"{name} tool",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    for name in ("lookup_order", "search_docs")
]


@pytest.mark.parametrize("kind", KINDS)
async def test_create_non_streaming(kind, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            text="It shipped yesterday.",
            input_tokens=120,
            output_tokens=7,
            cached_tokens=40,
            cache_creation_tokens=30,
        )
    )
    llm = client(fake_provider, kind)

    result = await invoke(
        llm.messages.create,
        model=MODEL,
        max_tokens=256,
        messages=USER,
        system="Be brief.",
        stop_sequences=["END"],
        # anthropic 2.x has no sampling parameters in its signature any more: they travel in extra_body.
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},
    )

    assert type(result) is anthropic.types.Message
    assert result.content[0].text == "It shipped yesterday."
    assert result.usage.input_tokens == 50  # the API reports uncached input only
    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_TOP_K) == 40
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.RESPONSE_ID) == result.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("end_turn",)
    # Semantic conventions: input tokens are the whole prompt, cache reads and writes included.
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 120
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 40
    assert attributes.pop(semconv.USAGE_CACHE_CREATION_INPUT_TOKENS) == 30
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(
        price(MODEL, 120, 7, cache_read=40, cache_write=30), rel=1e-12
    )
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_create_streaming(kind, fake_provider, instrumented):
    fake_provider.script(
        Reply(text="Your order is on its way to you", input_tokens=60, output_tokens=7, cached_tokens=20)
    )
    llm = client(fake_provider, kind)

    stream = await invoke(llm.messages.create, model=MODEL, max_tokens=256, messages=USER, stream=True)
    assert isinstance(stream, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    assert isinstance(stream, anthropic.AsyncStream if kind == "async" else anthropic.Stream)
    assert instrumented.spans() == []  # not ended before the stream is consumed
    events = await drain(stream)

    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "Your order is on its way to you"
    span = instrumented.span()
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == events[0].message.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("end_turn",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 60
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7  # message_delta's count, not message_start's
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 20
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(MODEL, 60, 7, cache_read=20), rel=1e-12)
    ttfc = pop_ttfc(attributes)
    assert attributes == {}
    [first_chunk] = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert first_chunk.sum == pytest.approx(ttfc)


@pytest.mark.parametrize("kind", KINDS)
async def test_metrics(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="ok", input_tokens=30, output_tokens=5, cached_tokens=10))
    llm = client(fake_provider, kind)
    await invoke(llm.messages.create, model=MODEL, max_tokens=256, messages=USER)

    expected = {
        **{k: v for k, v in base_attributes(fake_provider).items() if k != semconv.REQUEST_MAX_TOKENS},
        semconv.RESPONSE_MODEL: MODEL,
    }
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    tokens = {
        p.attributes[semconv.TOKEN_TYPE]: p for p in instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    }
    assert (tokens["input"].sum, tokens["output"].sum) == (30, 5)
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price(MODEL, 30, 5, cache_read=10), rel=1e-12)
    assert instrumented.metric_points(semconv.METRIC_ERRORS) == []


@pytest.mark.parametrize("model", [MODEL, TIERED_MODEL])
@pytest.mark.parametrize("stream", [False, True])
async def test_cache_tokens_cost_matches_genai_prices(model, stream, fake_provider, instrumented):
    """Cached tokens are priced once, at their cache rate: the same total as genai-prices computes."""
    fake_provider.script(
        Reply(
            text="cached",
            input_tokens=5000,
            output_tokens=300,
            cached_tokens=3000,
            cache_creation_tokens=1500,
        )
    )
    llm = client(fake_provider, "sync")
    result = llm.messages.create(model=model, max_tokens=256, messages=USER, stream=stream)
    if stream:
        list(result)
    attributes = instrumented.span().attributes
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 5000
    assert attributes[semconv.USAGE_CACHE_READ_INPUT_TOKENS] == 3000
    assert attributes[semconv.USAGE_CACHE_CREATION_INPUT_TOKENS] == 1500
    expected = price(model, 5000, 300, cache_read=3000, cache_write=1500)
    assert attributes[semconv.USAGE_COST] == pytest.approx(expected, rel=1e-12)
    # And not the price of 5000 + 3000 + 1500 uncached-and-cached tokens counted twice.
    assert expected < price(model, 9500, 300, cache_read=3000, cache_write=1500)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_use_requested(kind, stream, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(
                ToolCall("lookup_order", {"q": "ORD-1042"}),
                ToolCall("search_docs", {"q": "returns"}),
            ),
            input_tokens=50,
            output_tokens=20,
        )
    )
    llm = client(fake_provider, kind)
    result = await invoke(
        llm.messages.create, model=MODEL, max_tokens=256, messages=USER, tools=TOOLS, stream=stream
    )
    if stream:
        events = await drain(result)
        arguments = "".join(e.delta.partial_json for e in events if e.type == "content_block_delta")
        assert arguments == '{"q":"ORD-1042"}{"q":"returns"}'
        ids = tuple(e.content_block.id for e in events if e.type == "content_block_start")
    else:
        assert [block.name for block in result.content] == ["lookup_order", "search_docs"]
        ids = tuple(block.id for block in result.content)

    span = instrumented.span()
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order", "search_docs")
    assert span.attributes[semconv.RESPONSE_TOOL_CALL_IDS] == ids
    assert all(call_id.startswith("toolu_") for call_id in ids)
    assert semconv.INPUT_MESSAGES not in span.attributes  # no content without opt-in
    assert semconv.TOOL_DEFINITIONS not in span.attributes
    counts = {
        (p.attributes[semconv.TOOL_NAME], p.attributes[semconv.TOOL_CALL_ORIGIN]): p.value
        for p in instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    }
    assert counts == {("lookup_order", "requested"): 1, ("search_docs", "requested"): 1}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("fault", "exception", "error_type", "api_type"),
    [
        (
            Fault(status=429, retry_after="7"),
            anthropic.RateLimitError,
            "anthropic.RateLimitError",
            "rate_limit_error",
        ),
        (Fault(status=529), anthropic.OverloadedError, "anthropic.OverloadedError", "overloaded_error"),
        (Fault(status=500), anthropic.InternalServerError, "anthropic.InternalServerError", "api_error"),
        (Fault(status=400), anthropic.BadRequestError, "anthropic.BadRequestError", "invalid_request_error"),
        (Fault(drop_connection=True), anthropic.APIConnectionError, "anthropic.APIConnectionError", None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_errors(kind, stream, fault, exception, error_type, api_type, fake_provider, instrumented):
    fake_provider.add_fault(fault)
    llm = client(fake_provider, kind)

    with pytest.raises(exception) as raised:
        await invoke(llm.messages.create, model=MODEL, max_tokens=256, messages=USER, stream=stream)

    assert type(raised.value) is exception
    if api_type is not None:
        assert raised.value.type == api_type  # the fake's error body has Anthropic's shape
    if fault.retry_after:
        assert raised.value.response.headers["retry-after"] == "7"
    assert fake_provider.request_count() == 1  # the SDK's own retries are off in these tests
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}  # no usage, and no cost claim, for a call that failed
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.value == 1
    assert errors.attributes[semconv.ERROR_TYPE] == error_type


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_midway(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="one two three four five six", input_tokens=10, output_tokens=6))
    fake_provider.add_fault(Fault(cut_stream_after=3))
    llm = client(fake_provider, kind)
    stream = await invoke(llm.messages.create, model=MODEL, max_tokens=256, messages=USER, stream=True)
    received = []
    # Mid-body, the SDK lets the HTTP client's own error through (it wraps only errors of the request).
    with pytest.raises(httpx2.RemoteProtocolError):
        if kind == "async":
            async for event in stream:
                received.append(event)
        else:
            for event in stream:
                received.append(event)
    # message_start, content_block_start, (ping is not an event for the app), one text delta
    assert [e.type for e in received] == ["message_start", "content_block_start"]
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    assert attributes[semconv.ERROR_TYPE] == "httpx2.RemoteProtocolError"
    assert attributes[semconv.RESPONSE_ID] == received[0].message.id  # partial facts kept
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 10
    assert attributes[semconv.USAGE_OUTPUT_TOKENS] == 1  # only message_start's count arrived
    assert semconv.RESPONSE_FINISH_REASONS not in attributes


@pytest.mark.parametrize("kind", KINDS)
async def test_max_tokens_finish_reason(kind, fake_provider, instrumented):
    llm = client(fake_provider, kind)
    result = await invoke(llm.messages.create, model=MODEL, max_tokens=2, messages=USER)
    assert result.stop_reason == "max_tokens"
    assert instrumented.span().attributes[semconv.RESPONSE_FINISH_REASONS] == ("max_tokens",)


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="raw!", input_tokens=5, output_tokens=1))
    llm = client(fake_provider, kind)
    raw = await invoke(llm.messages.with_raw_response.create, model=MODEL, max_tokens=256, messages=USER)

    assert raw.headers["request-id"].startswith("req_fake")
    span = instrumented.span()  # ended without the app having to parse
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 5
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("end_turn",)
    message = await invoke(raw.parse)
    assert type(message) is anthropic.types.Message
    assert message.content[0].text == "raw!"
    assert len(instrumented.spans()) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response_streaming(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="raw stream", input_tokens=5, output_tokens=2))
    llm = client(fake_provider, kind)
    raw = await invoke(
        llm.messages.with_raw_response.create, model=MODEL, max_tokens=256, messages=USER, stream=True
    )
    assert instrumented.spans() == []
    stream = await invoke(raw.parse)
    events = await drain(stream)
    assert events[-1].type == "message_stop"
    span = instrumented.span()
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 2
    assert span.attributes[semconv.RESPONSE_TIME_TO_FIRST_CHUNK] > 0


async def test_with_streaming_response_closed_unread(fake_provider, instrumented):
    llm = client(fake_provider, "sync")
    with llm.messages.with_streaming_response.create(model=MODEL, max_tokens=256, messages=USER) as response:
        assert response.http_response.status_code == 200
        assert instrumented.spans() == []
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes  # never read, so nothing to report


async def test_with_streaming_response_parsed(fake_provider, instrumented):
    fake_provider.script(Reply(text="parsed", input_tokens=4, output_tokens=1))
    llm = client(fake_provider, "async")
    async with llm.messages.with_streaming_response.create(
        model=MODEL, max_tokens=256, messages=USER
    ) as response:
        message = await response.parse()
    assert message.content[0].text == "parsed"
    assert instrumented.span().attributes[semconv.USAGE_INPUT_TOKENS] == 4


@pytest.mark.parametrize("kind", KINDS)
async def test_parse_structured_output(kind, fake_provider, instrumented):
    class Answer(BaseModel):
        order: str
        shipped: bool

    fake_provider.script(Reply(text='{"order":"ORD-1042","shipped":true}', input_tokens=9, output_tokens=4))
    llm = client(fake_provider, kind)
    result = await invoke(
        llm.messages.parse, model=MODEL, max_tokens=256, messages=USER, output_format=Answer
    )
    assert result.parsed_output == Answer(order="ORD-1042", shipped=True)
    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[semconv.OUTPUT_TYPE] == "json"
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 9


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_beta_messages(kind, stream, fake_provider, instrumented):
    fake_provider.script(Reply(text="beta answer", input_tokens=11, output_tokens=2))
    llm = client(fake_provider, kind)
    result = await invoke(llm.beta.messages.create, model=MODEL, max_tokens=256, messages=USER, stream=stream)
    if stream:
        await drain(result)
    else:
        assert result.content[0].text == "beta answer"
    attributes = dict(instrumented.span().attributes)
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 11
    assert attributes[semconv.RESPONSE_FINISH_REASONS] == ("end_turn",)


def test_unpriced_model_is_flagged_not_zero(fake_provider, instrumented):
    client(fake_provider, "sync").messages.create(
        model="claude-local-finetune", max_tokens=256, messages=USER
    )
    span = instrumented.span()
    assert span.attributes[semconv.COST_UNPRICED] is True
    assert semconv.USAGE_COST not in span.attributes


def test_count_tokens_is_not_an_llm_call(fake_provider, instrumented):
    result = client(fake_provider, "sync").messages.count_tokens(model=MODEL, messages=USER)
    assert result.input_tokens > 0
    assert instrumented.spans() == []


def test_vertex_client_provider_name(instrumented):
    def refuse(request):
        return httpx2.Response(
            401, json={"type": "error", "error": {"type": "authentication_error", "message": "no"}}
        )

    llm = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="proj",
        access_token="token",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)),
    )
    with pytest.raises(anthropic.AuthenticationError):
        llm.messages.create(model=MODEL, max_tokens=256, messages=USER)
    attributes = instrumented.span().attributes
    assert attributes[semconv.PROVIDER_NAME] == "gcp.vertex_ai"
    assert attributes[semconv.SERVER_ADDRESS] == "us-east5-aiplatform.googleapis.com"
    assert attributes[semconv.SERVER_PORT] == 443


@pytest.mark.parametrize(
    ("class_name", "provider"),
    [
        ("AnthropicBedrock", "aws.bedrock"),
        ("AsyncAnthropicVertex", "gcp.vertex_ai"),
        ("Anthropic", "anthropic"),
    ],
)
def test_provider_name_of_older_sdks_from_class_name(class_name, provider):
    """SDKs before 2.x do not declare `_gen_ai_provider_name`; their client class names tell."""
    legacy_client = type(class_name, (), {})()
    assert anthropic_provider._provider_of(legacy_client) == provider


async def test_sentinel_arguments_are_not_recorded(fake_provider, instrumented):
    client(fake_provider, "sync").messages.create(
        model=MODEL, max_tokens=256, messages=USER, stop_sequences=anthropic.omit, system=anthropic.NOT_GIVEN
    )
    attributes = instrumented.span().attributes
    assert semconv.REQUEST_STOP_SEQUENCES not in attributes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_broken_extractor_fails_open(kind, stream, fake_provider, instrumented, monkeypatch):
    """An extractor that raises (e.g. after an SDK upgrade) must not change what the app gets."""

    def broken(*_args, **_kwargs):
        raise KeyError("extractor broke")

    monkeypatch.setattr(anthropic_provider, "_apply_usage", broken)
    fake_provider.script(Reply(text="still fine", input_tokens=3, output_tokens=2))
    llm = client(fake_provider, kind)
    result = await invoke(llm.messages.create, model=MODEL, max_tokens=256, messages=USER, stream=stream)
    if stream:
        events = await drain(result)
        text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    else:
        text = result.content[0].text
    assert text == "still fine"
    span = instrumented.span()  # still ended, exactly once
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


async def test_broken_request_extraction_fails_open(fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("request extraction broke")

    monkeypatch.setattr(anthropic_provider, "_server", broken)
    result = client(fake_provider, "sync").messages.create(model=MODEL, max_tokens=256, messages=USER)
    assert result.content[0].text
    assert fake_provider.request_count() == 1
    assert instrumented.spans() == []  # no half-made span; the call itself went through
