"""Mistral with the real `mistralai` SDK against the fake provider (served under /mistral, no mocks)."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import httpx
import mistralai
import pytest
from genai_asserts import (
    CAPTURE,
    Expected,
    assert_abandoned,
    assert_error_metric,
    assert_no_content,
    content,
    next_item,
    one_ok_span,
    pop_exported_usage,
    pop_ttfc,
    read_until_error,
    token_sums,
    tool_call_counts,
    two_tool_calls,
)
from mistralai import Mistral
from sdk_helpers import drain
from support.instrumented import json_spans, run_instrumented

from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy

KINDS = ["sync", "async"]
MODEL = "mistral-small-latest"
EMBED_MODEL = "mistral-embed"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
TEXT = "one two three four five six"
EXPECTED = Expected("mistral_ai", "mistral", MODEL)
base_attributes, pop_base, price = EXPECTED.base, EXPECTED.pop_base, EXPECTED.price


def client(fake: FakeProvider) -> Mistral:
    # The SDK retries only when given a retry_config: none here, so faults are seen once.
    return Mistral(api_key="test", server_url=fake.mistral_server_url)


async def call(llm: Mistral, kind: str, resource: str, method: str, **kwargs: Any) -> Any:
    if kind == "async":
        return await getattr(getattr(llm, resource), method + "_async")(**kwargs)
    return getattr(getattr(llm, resource), method)(**kwargs)


async def chat(fake: FakeProvider, kind: str, *, stream: bool = False, **kwargs: Any) -> Any:
    return await call(client(fake), kind, "chat", "stream" if stream else "complete", **kwargs)


def text_of(events: list[Any]) -> str:
    return "".join(e.data.choices[0].delta.content or "" for e in events if e.data.choices)


# ---------------------------------------------------------------- chat


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_complete(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="It shipped yesterday.", input_tokens=42, output_tokens=7))

    result = await call(
        client(fake_provider),
        kind,
        "chat",
        "complete",
        model=MODEL,
        messages=USER,
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        random_seed=7,
        stop=["END"],
        presence_penalty=0.1,
        frequency_penalty=0.3,
        response_format={"type": "json_object"},
    )

    assert type(result) is mistralai.models.ChatCompletionResponse
    assert result.choices[0].message.content == "It shipped yesterday."
    attributes = EXPECTED.span_attributes(instrumented, fake_provider)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 100
    assert attributes.pop(semconv.REQUEST_SEED) == 7
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.REQUEST_PRESENCE_PENALTY) == 0.1
    assert attributes.pop(semconv.REQUEST_FREQUENCY_PENALTY) == 0.3
    assert attributes.pop(semconv.OUTPUT_TYPE) == "json"
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
    assert duration.count == 1
    assert token_sums(instrumented) == {"input": 42, "output": 7}
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price(42, 7), rel=1e-12)
    assert dict(cost.attributes) == expected


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_stream(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="Your order is on its way", input_tokens=12, output_tokens=6))

    stream = await call(client(fake_provider), kind, "chat", "stream", model=MODEL, messages=USER)

    assert isinstance(stream, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    expected_type = mistralai.utils.eventstreaming
    assert isinstance(
        stream, expected_type.EventStreamAsync if kind == "async" else expected_type.EventStream
    )
    assert instrumented.spans() == []
    events = await drain(stream)

    assert text_of(events) == "Your order is on its way"
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "UNSET")
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == events[0].data.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("stop",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 12
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 6
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(12, 6), rel=1e-12)
    pop_ttfc(attributes, instrumented)
    assert attributes == {}
    assert token_sums(instrumented) == {"input": 12, "output": 6}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls(kind, stream, fake_provider, instrumented):
    fake_provider.script(two_tool_calls("abcDEF123", "ghiJKL456"))
    result = await chat(
        fake_provider,
        kind,
        stream=stream,
        model=MODEL,
        messages=USER,
        tools=TOOLS,
        tool_choice="any",
    )
    if stream:
        events = await drain(result)
        calls = [c for e in events if e.data.choices for c in e.data.choices[0].delta.tool_calls or ()]
    else:
        calls = result.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["lookup_order", "refund"]

    attributes = EXPECTED.span_attributes(instrumented, fake_provider)
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
        pop_ttfc(attributes)
    assert attributes.pop(semconv.RESPONSE_ID)
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("tool_calls",)
    assert attributes.pop(semconv.REQUEST_TOOL_CALLS) == ("lookup_order", "refund")
    assert attributes.pop(semconv.RESPONSE_TOOL_CALL_IDS) == ("abcDEF123", "ghiJKL456")
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 50
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 20
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(50, 20), rel=1e-12)
    assert attributes == {}
    assert tool_call_counts(instrumented) == {"lookup_order": 1, "refund": 1}


async def test_unpriced_model(fake_provider, instrumented):
    model = "mistral-fake-model-2030"
    client(fake_provider).chat.complete(model=model, messages=USER)
    attributes = dict(instrumented.span().attributes)
    assert attributes[semconv.COST_UNPRICED] is True
    assert semconv.USAGE_COST not in attributes
    assert instrumented.metric_points(semconv.METRIC_COST) == []
    [unpriced] = instrumented.metric_points(semconv.METRIC_UNPRICED_CALLS)
    assert unpriced.value == 1


async def test_unset_arguments_are_not_recorded(fake_provider, instrumented):
    from mistralai.types import UNSET

    client(fake_provider).chat.complete(
        model=MODEL, messages=USER, temperature=UNSET, max_tokens=UNSET, random_seed=UNSET
    )
    attributes = instrumented.span().attributes
    for key in (semconv.REQUEST_TEMPERATURE, semconv.REQUEST_MAX_TOKENS, semconv.REQUEST_SEED):
        assert key not in attributes


async def test_call_level_server_url(fake_provider, instrumented):
    llm = Mistral(api_key="test", server_url="https://api.mistral.ai")
    llm.chat.complete(model=MODEL, messages=USER, server_url=fake_provider.mistral_server_url)
    attributes = instrumented.span().attributes
    assert attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attributes[semconv.SERVER_PORT] == fake_provider.port


# ---------------------------------------------------------------- errors


ERRORS = [
    (Fault(status=429, retry_after="1"), "mistralai.SDKError", 429),
    (Fault(status=500), "mistralai.SDKError", 500),
    (Fault(status=400), "mistralai.SDKError", 400),
    (Fault(status=422), "mistralai.HTTPValidationError", 422),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["complete", "stream"])
@pytest.mark.parametrize(("fault", "error_type", "status"), ERRORS)
async def test_errors(kind, method, fault, error_type, status, fake_provider, instrumented):
    fake_provider.add_fault(fault)
    with pytest.raises(mistralai.models.MistralError) as raised:
        await call(client(fake_provider), kind, "chat", method, model=MODEL, messages=USER)

    assert raised.value.status_code == status
    assert fake_provider.request_count() == 1
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "ERROR")
    if method == "stream":
        assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}
    assert_error_metric(instrumented, base_attributes(fake_provider), error_type)
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == error_type


def test_error_body_is_mistral_shaped(fake_provider):
    fake_provider.add_fault(Fault(status=429, retry_after="1"))
    with pytest.raises(mistralai.models.SDKError) as raised:
        client(fake_provider).chat.complete(model=MODEL, messages=USER)
    body = json.loads(raised.value.body)
    assert body["object"] == "error"
    assert body["type"] == "rate_limited"
    assert raised.value.headers["retry-after"] == "1"


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_dropped(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(drop_connection=True))
    with pytest.raises(httpx.HTTPError):
        await call(client(fake_provider), kind, "chat", "complete", model=MODEL, messages=USER)
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE].startswith("httpx.")


# ---------------------------------------------------------------- stream endings


async def _open_stream(fake_provider: FakeProvider, kind: str) -> Any:
    fake_provider.script(Reply(text=TEXT, input_tokens=10, output_tokens=6))
    return await call(client(fake_provider), kind, "chat", "stream", model=MODEL, messages=USER)


async def test_context_manager_sync_drained(fake_provider, instrumented):
    stream = await _open_stream(fake_provider, "sync")
    with stream as entered:
        assert entered is stream
        assert text_of(list(entered)) == TEXT
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 6


async def test_context_manager_async_drained(fake_provider, instrumented):
    stream = await _open_stream(fake_provider, "async")
    async with stream as entered:
        assert entered is stream
        assert text_of([event async for event in entered]) == TEXT
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 6


async def test_break_then_context_exit_sync(fake_provider, instrumented):
    stream = await _open_stream(fake_provider, "sync")
    with stream as entered:
        for _event in entered:
            break
        assert instrumented.spans() == []
    span = one_ok_span(instrumented)
    # The usage chunk never came; what arrived before the exit is kept.
    assert semconv.USAGE_OUTPUT_TOKENS not in span.attributes
    assert span.attributes[semconv.RESPONSE_MODEL] == MODEL


async def test_break_then_context_exit_async(fake_provider, instrumented):
    stream = await _open_stream(fake_provider, "async")
    async with stream as entered:
        async for _event in entered:
            break
        assert instrumented.spans() == []
    span = one_ok_span(instrumented)
    assert semconv.USAGE_OUTPUT_TOKENS not in span.attributes


async def test_error_inside_context_manager(fake_provider, instrumented):
    stream = await _open_stream(fake_provider, "sync")
    with pytest.raises(LookupError), stream:
        next(stream)
        raise LookupError("app code failed")
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "LookupError"


@pytest.mark.parametrize("kind", KINDS)
async def test_response_closed_early(kind, fake_provider, instrumented):
    stream = await _open_stream(fake_provider, kind)
    await next_item(stream)
    if kind == "async":
        await stream.response.aclose()
    else:
        stream.response.close()
    one_ok_span(instrumented)


@pytest.mark.parametrize("kind", KINDS)
async def test_drained_then_exited_ends_once(kind, fake_provider, instrumented):
    stream = await _open_stream(fake_provider, kind)
    await drain(stream)
    if kind == "async":
        await stream.__aexit__(None, None, None)
    else:
        stream.__exit__(None, None, None)
    one_ok_span(instrumented)


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_mid_way(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(cut_stream_after=2))
    stream = await _open_stream(fake_provider, kind)
    received = []
    with pytest.raises(httpx.HTTPError) as raised:
        await read_until_error(stream, received)
    assert len(received) == 2
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "ERROR")
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == received[0].data.id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    pop_ttfc(attributes)
    assert attributes.pop(semconv.ERROR_TYPE) == f"httpx.{type(raised.value).__name__}"
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_abandoned_stream_ends_on_garbage_collection(kind, fake_provider, instrumented):
    stream = await _open_stream(fake_provider, kind)
    await next_item(stream)
    del stream
    gc.collect()
    assert_abandoned(instrumented)


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize("kind", KINDS)
async def test_embeddings(kind, fake_provider, instrumented):
    result = await call(
        client(fake_provider),
        kind,
        "embeddings",
        "create",
        model=EMBED_MODEL,
        inputs=["hello world", "where is my order"],
        output_dimension=16,
    )

    assert len(result.data[0].embedding) == 16
    attributes = EXPECTED.span_attributes(
        instrumented, fake_provider, operation="embeddings", model=EMBED_MODEL
    )
    assert attributes.pop(semconv.RESPONSE_MODEL) == EMBED_MODEL
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == 16
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 3 + 5
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(8, 0, EMBED_MODEL), rel=1e-12)
    assert attributes == {}
    [tokens] = instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    assert tokens.sum == 8


@pytest.mark.parametrize("kind", KINDS)
async def test_embeddings_error(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=503))
    with pytest.raises(mistralai.models.SDKError):
        await call(client(fake_provider), kind, "embeddings", "create", model=EMBED_MODEL, inputs="hi")
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider, "embeddings", EMBED_MODEL)
    assert attributes.pop(semconv.ERROR_TYPE) == "mistralai.SDKError"
    assert attributes == {}


# ---------------------------------------------------------------- content capture

CONVERSATION = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": "Where is ORD-1042?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "abcDEF123", "function": {"name": "lookup_order", "arguments": {"order_id": "ORD-1042"}}}
        ],
    },
    {"role": "tool", "tool_call_id": "abcDEF123", "name": "lookup_order", "content": '{"status":"shipped"}'},
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_content_capture(kind, stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday."))
    result = await chat(
        fake_provider,
        kind,
        stream=stream,
        model=MODEL,
        messages=CONVERSATION,
        tools=TOOLS,
    )
    if stream:
        await drain(result)

    span = telemetry.span()
    assert content(span, semconv.SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "You are a support agent."}
    ]
    assert content(span, semconv.INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": ""},
                {
                    "type": "tool_call",
                    "id": "abcDEF123",
                    "name": "lookup_order",
                    "arguments": {"order_id": "ORD-1042"},
                },
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "abcDEF123", "response": '{"status":"shipped"}'}],
        },
    ]
    assert content(span, semconv.TOOL_DEFINITIONS) == TOOLS
    assert content(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped on Monday."}],
            "finish_reason": "stop",
        }
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_call_output_content(stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(
        Reply(tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}, id="abcDEF123"),))
    )
    llm = client(fake_provider)
    if stream:
        list(llm.chat.stream(model=MODEL, messages=CONVERSATION[:2], tools=TOOLS))
    else:
        llm.chat.complete(model=MODEL, messages=CONVERSATION[:2], tools=TOOLS)
    parts = [
        {
            "type": "tool_call",
            "id": "abcDEF123",
            "name": "lookup_order",
            "arguments": '{"order_id":"ORD-1042"}',
        }
    ]
    if not stream:
        parts.insert(0, {"type": "text", "content": ""})  # the JSON reply's content is "" beside tool calls
    assert content(telemetry.span(), semconv.OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": parts, "finish_reason": "tool_calls"}
    ]


async def test_no_content_without_opt_in(fake_provider, instrumented):
    client(fake_provider).chat.complete(model=MODEL, messages=CONVERSATION, tools=TOOLS)
    attributes = instrumented.span().attributes
    assert_no_content(attributes)


# ---------------------------------------------------------------- uninstrument


async def test_uninstrument_restores_the_sdk(fake_provider, instrument):
    import otel_agentops

    telemetry = instrument()
    otel_agentops.uninstrument()
    client(fake_provider).chat.complete(model=MODEL, messages=USER)
    assert telemetry.spans() == []
    assert not hasattr(mistralai.chat.Chat.complete, "__wrapped__")


# ---------------------------------------------------------------- zero-code, under opentelemetry-instrument

ROOT = Path(__file__).resolve().parents[2]


def test_app_under_opentelemetry_instrument():
    env = {
        "OTEL_SERVICE_NAME": "mistral-app",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    result = run_instrumented([str(ROOT / "tests" / "apps" / "mistral_app.py")], env, cwd=ROOT)
    [line] = [line for line in result.stdout.splitlines() if line.startswith('{"mistral_app"')]
    report = json.loads(line)["mistral_app"]
    assert report["text"].startswith("Fake answer to:")
    everything = json_spans(result.stdout)
    # The SDK's own per-request spans (chat_completion_v1_..., stream_chat) yield to ours: one span per call.
    assert sorted(s["name"] for s in everything) == [f"chat {MODEL}"] * 4 + ["embeddings mistral-embed"]
    spans = [s for s in everything if s["attributes"].get("gen_ai.provider.name")]
    assert len(spans) == 5
    # Every request's traceparent (injected by the SDK's hook) names the LLM span it belongs to.
    sent = [r["traceparent"].split("-")[2] for r in report["requests"]]
    assert sorted(sent) == sorted(s["context"]["span_id"].removeprefix("0x") for s in spans)
    plain = next(
        s for s in spans if s["name"] == f"chat {MODEL}" and "gen_ai.request.max_tokens" in s["attributes"]
    )
    attributes = dict(plain["attributes"])
    assert attributes.pop("gen_ai.operation.name") == "chat"
    assert attributes.pop("gen_ai.provider.name") == "mistral_ai"
    assert attributes.pop("gen_ai.request.model") == MODEL
    assert attributes.pop("gen_ai.request.max_tokens") == 256
    assert attributes.pop("server.address") == "127.0.0.1"
    assert isinstance(attributes.pop("server.port"), int)
    assert attributes.pop("gen_ai.response.model") == MODEL
    assert attributes.pop("gen_ai.response.id").startswith("fake")
    assert attributes.pop("gen_ai.response.finish_reasons") == ["stop"]
    pop_exported_usage(attributes)
    assert attributes == {}
    streamed = [s for s in spans if s["attributes"].get("gen_ai.request.stream")]
    assert len(streamed) == 2
    assert all(s["status"]["status_code"] == "UNSET" for s in spans)
