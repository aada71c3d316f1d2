"""chat.completions with the real openai SDK against the fake provider: spans and metrics, exactly."""

from __future__ import annotations

import json

import openai
import pytest
from openai_helpers import USER, base_attributes, client, drain, invoke, pop_ttfc, price
from pydantic import BaseModel

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy

KINDS = ["sync", "async"]


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_non_streaming(kind, fake_provider, instrumented):
    fake_provider.script(
        Reply(text="It shipped yesterday.", input_tokens=42, output_tokens=7, cached_tokens=10)
    )
    llm = client(fake_provider, kind)

    result = await invoke(
        llm.chat.completions.create,
        model="gpt-4o-mini",
        messages=USER,
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        seed=7,
        stop="END",
        frequency_penalty=0.5,
        presence_penalty=0.25,
        response_format={"type": "json_object"},
    )

    assert type(result) is openai.types.chat.ChatCompletion
    assert result.choices[0].message.content == "It shipped yesterday."
    span = instrumented.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind.name == "CLIENT"
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider, "gpt-4o-mini").items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 100
    assert attributes.pop(semconv.REQUEST_SEED) == 7
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.REQUEST_FREQUENCY_PENALTY) == 0.5
    assert attributes.pop(semconv.REQUEST_PRESENCE_PENALTY) == 0.25
    assert attributes.pop(semconv.OUTPUT_TYPE) == "json"
    assert attributes.pop(semconv.RESPONSE_ID) == result.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == result.model == "gpt-4o-mini"
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 42
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 10
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(
        price("gpt-4o-mini", 42, 7, cached=10), rel=1e-12
    )
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_metrics(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="ok", input_tokens=30, output_tokens=5))
    llm = client(fake_provider, kind)
    await invoke(llm.chat.completions.create, model="gpt-4o-mini", messages=USER)

    expected = {**base_attributes(fake_provider, "gpt-4o-mini"), semconv.RESPONSE_MODEL: "gpt-4o-mini"}
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    assert 0 < duration.sum < 10
    tokens = {
        p.attributes[semconv.TOKEN_TYPE]: p for p in instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    }
    assert set(tokens) == {"input", "output"}
    assert (tokens["input"].sum, tokens["output"].sum) == (30, 5)
    assert dict(tokens["input"].attributes) == {**expected, semconv.TOKEN_TYPE: "input"}
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price("gpt-4o-mini", 30, 5), rel=1e-12)
    assert dict(cost.attributes) == expected
    assert instrumented.metric_points(semconv.METRIC_ERRORS) == []
    assert instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK) == []
    # Exemplars tie the metric points to the span that produced them.
    span = instrumented.span()
    assert [e.span_id for e in duration.exemplars] == [span.context.span_id]
    # ...only where they lead somewhere useful: token and cost points carry none (cheaper to record).
    assert [p.exemplars for p in (tokens["input"], tokens["output"], cost)] == [[], [], []]


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_streaming_with_usage(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="Your order is on its way to you", input_tokens=12, output_tokens=7))
    llm = client(fake_provider, kind)

    stream = await invoke(
        llm.chat.completions.create,
        model="gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert isinstance(stream, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    assert isinstance(stream, openai.AsyncStream if kind == "async" else openai.Stream)
    assert instrumented.spans() == []  # not ended before the stream is consumed
    chunks = await drain(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Your order is on its way to you"
    span = instrumented.span()
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider, "gpt-4o-mini").items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == chunks[0].id
    assert attributes.pop(semconv.RESPONSE_MODEL) == "gpt-4o-mini"
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 12
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price("gpt-4o-mini", 12, 7), rel=1e-12)
    ttfc = pop_ttfc(attributes)
    assert attributes == {}
    [first_chunk] = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert first_chunk.sum == pytest.approx(ttfc)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_requested(kind, stream, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(
                ToolCall("lookup_order", {"order_id": "ORD-1042"}),
                ToolCall("search_docs", {"query": "returns"}),
            ),
            input_tokens=50,
            output_tokens=20,
        )
    )
    llm = client(fake_provider, kind)
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
        for name in ("lookup_order", "search_docs")
    ]
    kwargs = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    result = await invoke(
        llm.chat.completions.create, model="gpt-4o-mini", messages=USER, tools=tools, **kwargs
    )
    if stream:
        chunks = await drain(result)
        arguments = "".join(
            tc.function.arguments or ""
            for c in chunks
            if c.choices
            for tc in c.choices[0].delta.tool_calls or ()
        )
        assert arguments == '{"order_id":"ORD-1042"}{"query":"returns"}'
    else:
        assert [tc.function.name for tc in result.choices[0].message.tool_calls] == [
            "lookup_order",
            "search_docs",
        ]

    span = instrumented.span()
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order", "search_docs")
    assert semconv.INPUT_MESSAGES not in span.attributes  # no content without opt-in
    assert semconv.TOOL_DEFINITIONS not in span.attributes
    counts = {
        (p.attributes[semconv.TOOL_NAME], p.attributes[semconv.TOOL_CALL_ORIGIN]): p.value
        for p in instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    }
    assert counts == {("lookup_order", "requested"): 1, ("search_docs", "requested"): 1}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("fault", "exception", "error_type"),
    [
        (Fault(status=429, retry_after="1"), openai.RateLimitError, "openai.RateLimitError"),
        (Fault(status=500), openai.InternalServerError, "openai.InternalServerError"),
        (Fault(status=400), openai.BadRequestError, "openai.BadRequestError"),
        (Fault(drop_connection=True), openai.APIConnectionError, "openai.APIConnectionError"),
    ],
)
async def test_chat_errors(kind, fault, exception, error_type, fake_provider, instrumented):
    fake_provider.add_fault(fault)
    llm = client(fake_provider, kind)

    with pytest.raises(exception):
        await invoke(llm.chat.completions.create, model="gpt-4o-mini", messages=USER)

    assert fake_provider.request_count() == 1  # the SDK's own retries are off in these tests
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    for key, value in base_attributes(fake_provider, "gpt-4o-mini").items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}  # no usage, and no cost claim, for a call that failed
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.value == 1
    assert dict(errors.attributes) == {
        **base_attributes(fake_provider, "gpt-4o-mini"),
        semconv.ERROR_TYPE: error_type,
    }
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == error_type


@pytest.mark.parametrize("kind", KINDS)
async def test_parse_structured_output(kind, fake_provider, instrumented):
    class Answer(BaseModel):
        order: str
        shipped: bool

    fake_provider.script(
        Reply(text=json.dumps({"order": "ORD-1042", "shipped": True}), input_tokens=9, output_tokens=4)
    )
    llm = client(fake_provider, kind)
    result = await invoke(
        llm.chat.completions.parse, model="gpt-4o-mini", messages=USER, response_format=Answer
    )

    assert result.choices[0].message.parsed == Answer(order="ORD-1042", shipped=True)
    span = instrumented.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[semconv.OUTPUT_TYPE] == "json"
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 9
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 4


@pytest.mark.parametrize("kind", KINDS)
async def test_unpriced_model_is_flagged_not_zero(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="hi", input_tokens=3, output_tokens=1))
    llm = client(fake_provider, kind)
    await invoke(llm.chat.completions.create, model="my-local-finetune", messages=USER)

    span = instrumented.span()
    assert span.attributes[semconv.COST_UNPRICED] is True
    assert semconv.USAGE_COST not in span.attributes
    assert instrumented.metric_points(semconv.METRIC_COST) == []


async def test_sentinel_arguments_are_not_recorded(fake_provider, instrumented):
    llm = client(fake_provider, "sync")
    llm.chat.completions.create(
        model="gpt-4o-mini", messages=USER, temperature=openai.NOT_GIVEN, top_p=openai.omit
    )
    attributes = instrumented.span().attributes
    assert semconv.REQUEST_TEMPERATURE not in attributes
    assert semconv.REQUEST_TOP_P not in attributes


@pytest.mark.parametrize(
    ("base_url", "provider", "port"),
    [
        ("https://my-resource.openai.azure.com/openai/v1", "azure.ai.openai", 443),
        ("https://api.groq.com/openai/v1", "groq", 443),
        ("https://openrouter.ai/api/v1", "openrouter", 443),
        ("http://localhost:11434/v1", "ollama", 11434),
        ("https://llm.internal.example:8443/v1", "openai", 8443),
    ],
)
def test_provider_name_from_base_url(base_url, provider, port, instrumented):
    import httpx2

    def refuse(request):
        return httpx2.Response(
            401, json={"error": {"message": "no", "type": "auth", "param": None, "code": None}}
        )

    llm = openai.OpenAI(
        api_key="sk-test",
        base_url=base_url,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(refuse)),
    )
    with pytest.raises(openai.AuthenticationError):
        llm.chat.completions.create(model="m", messages=USER)
    attributes = instrumented.span().attributes
    assert attributes[semconv.PROVIDER_NAME] == provider
    assert attributes[semconv.SERVER_PORT] == port
