"""Cohere v2 with the real `cohere` SDK against the fake provider (POST /v2/chat and /v2/embed, no mocks)."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import cohere
import httpx
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
from sdk_helpers import drain
from support.instrumented import json_spans, run_instrumented

import otel_agentops
from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall
from otel_agentops.fake_provider.cohere import PREAMBLE_TOKENS
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy

KINDS = ["sync", "async"]
MODEL = "command-r"
EMBED_MODEL = "embed-v4.0"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
# The SDK retries 429 and 5xx twice by default: once per fault here.
NO_RETRIES = {"max_retries": 0}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
TEXT = "one two three four five six"
EXPECTED = Expected("cohere", "cohere", MODEL)
base_attributes, pop_base, price = EXPECTED.base, EXPECTED.pop_base, EXPECTED.price


def client(fake: FakeProvider, kind: str) -> Any:
    cls = cohere.AsyncClientV2 if kind == "async" else cohere.ClientV2
    return cls(api_key="test", base_url=fake.cohere_base_url)


async def chat(fake: FakeProvider, kind: str, **kwargs: Any) -> Any:
    llm = client(fake, kind)
    result = llm.chat(request_options=NO_RETRIES, **kwargs)
    return await result if kind == "async" else result


def chat_stream(fake: FakeProvider, kind: str, **kwargs: Any) -> Any:
    """Both clients' chat_stream return the stream at once (the async one is an async generator)."""
    return client(fake, kind).chat_stream(request_options=NO_RETRIES, **kwargs)


async def embed(fake: FakeProvider, kind: str, **kwargs: Any) -> Any:
    result = client(fake, kind).embed(request_options=NO_RETRIES, input_type="search_query", **kwargs)
    return await result if kind == "async" else result


def text_of(events: list[Any]) -> str:
    return "".join(e.delta.message.content.text or "" for e in events if e.type == "content-delta")


# ---------------------------------------------------------------- chat


@pytest.mark.parametrize("kind", KINDS)
async def test_chat(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="It shipped yesterday.", input_tokens=42, output_tokens=7))

    result = await chat(
        fake_provider,
        kind,
        model=MODEL,
        messages=USER,
        temperature=0.2,
        p=0.9,
        k=40,
        max_tokens=100,
        seed=7,
        stop_sequences=["END"],
        frequency_penalty=0.3,
        presence_penalty=0.1,
        response_format={"type": "json_object"},
    )

    assert type(result) is cohere.V2ChatResponse
    assert result.message.content[0].text == "It shipped yesterday."
    attributes = EXPECTED.span_attributes(instrumented, fake_provider)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_TOP_K) == 40
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 100
    assert attributes.pop(semconv.REQUEST_SEED) == 7
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.REQUEST_FREQUENCY_PENALTY) == 0.3
    assert attributes.pop(semconv.REQUEST_PRESENCE_PENALTY) == 0.1
    assert attributes.pop(semconv.OUTPUT_TYPE) == "json"
    assert attributes.pop(semconv.RESPONSE_ID) == result.id
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("COMPLETE",)
    # The billed units, not usage.tokens (which adds Cohere's preamble).
    assert result.usage.tokens.input_tokens == 42 + PREAMBLE_TOKENS
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 42
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(42, 7), rel=1e-12)
    assert attributes == {}

    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == base_attributes(fake_provider)
    assert duration.count == 1
    assert token_sums(instrumented) == {"input": 42, "output": 7}
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price(42, 7), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_stream(kind, fake_provider, instrumented):
    fake_provider.script(Reply(text="Your order is on its way", input_tokens=15, output_tokens=5))

    stream = chat_stream(fake_provider, kind, model=MODEL, messages=USER)

    assert isinstance(stream, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    assert instrumented.spans() == []
    events = await drain(stream)

    assert [e.type for e in events][:2] == ["message-start", "content-start"]
    assert text_of(events) == "Your order is on its way"
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "UNSET")
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == events[0].id
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("COMPLETE",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 15
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 5
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(15, 5), rel=1e-12)
    pop_ttfc(attributes, instrumented)
    assert attributes == {}
    assert token_sums(instrumented) == {"input": 15, "output": 5}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls(kind, stream, fake_provider, instrumented):
    fake_provider.script(two_tool_calls("lookup_order_1", "refund_2"))
    kwargs = {"model": MODEL, "messages": USER, "tools": TOOLS, "tool_choice": "REQUIRED"}
    if stream:
        events = await drain(chat_stream(fake_provider, kind, **kwargs))
        names = [e.delta.message.tool_calls.function.name for e in events if e.type == "tool-call-start"]
    else:
        result = await chat(fake_provider, kind, **kwargs)
        names = [c.function.name for c in result.message.tool_calls]
    assert names == ["lookup_order", "refund"]

    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider)
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
        pop_ttfc(attributes)
    assert attributes.pop(semconv.RESPONSE_ID)
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("TOOL_CALL",)
    assert attributes.pop(semconv.REQUEST_TOOL_CALLS) == ("lookup_order", "refund")
    assert attributes.pop(semconv.RESPONSE_TOOL_CALL_IDS) == ("lookup_order_1", "refund_2")
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 50
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 20
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(50, 20), rel=1e-12)
    assert attributes == {}
    assert tool_call_counts(instrumented) == {"lookup_order": 1, "refund": 1}


async def test_max_tokens_finish_reason(fake_provider, instrumented):
    await chat(fake_provider, "sync", model=MODEL, messages=USER, max_tokens=2)
    assert instrumented.span().attributes[semconv.RESPONSE_FINISH_REASONS] == ("MAX_TOKENS",)


async def test_cached_tokens(fake_provider, instrumented):
    fake_provider.script(Reply(text="cached", input_tokens=100, output_tokens=1, cached_tokens=60))
    await chat(fake_provider, "sync", model=MODEL, messages=USER)
    attributes = instrumented.span().attributes
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 100
    assert attributes[semconv.USAGE_CACHE_READ_INPUT_TOKENS] == 60


async def test_unpriced_model(fake_provider, instrumented):
    await chat(fake_provider, "sync", model="command-fake-2030", messages=USER)
    attributes = instrumented.span().attributes
    assert attributes[semconv.COST_UNPRICED] is True
    assert semconv.USAGE_COST not in attributes
    [unpriced] = instrumented.metric_points(semconv.METRIC_UNPRICED_CALLS)
    assert unpriced.value == 1


async def test_v1_client_v2_namespace(fake_provider, instrumented):
    """The v1 client's `.v2` is the same V2Client: patched too."""
    llm = cohere.Client(api_key="test", base_url=fake_provider.cohere_base_url)
    llm.v2.chat(model=MODEL, messages=USER, request_options=NO_RETRIES)
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider)


# ---------------------------------------------------------------- errors


ERRORS = [
    (Fault(status=429, retry_after="1"), "cohere.TooManyRequestsError", 429),
    (Fault(status=500), "cohere.InternalServerError", 500),
    (Fault(status=503), "cohere.ServiceUnavailableError", 503),
    (Fault(status=400), "cohere.BadRequestError", 400),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("fault", "error_type", "status"), ERRORS)
async def test_chat_errors(kind, stream, fault, error_type, status, fake_provider, instrumented):
    fake_provider.add_fault(fault)
    with pytest.raises(cohere.core.ApiError) as raised:
        if stream:
            await drain(chat_stream(fake_provider, kind, model=MODEL, messages=USER))
        else:
            await chat(fake_provider, kind, model=MODEL, messages=USER)

    assert raised.value.status_code == status
    assert raised.value.body["message"].startswith("Injected fault")
    assert fake_provider.request_count() == 1
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "ERROR")
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}
    assert_error_metric(instrumented, base_attributes(fake_provider), error_type)


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_dropped(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(drop_connection=True))
    with pytest.raises(httpx.HTTPError):
        await chat(fake_provider, kind, model=MODEL, messages=USER)
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE].startswith("httpx.")


# ---------------------------------------------------------------- stream endings


def _open_stream(fake_provider: FakeProvider, kind: str) -> Any:
    fake_provider.script(Reply(text=TEXT, input_tokens=10, output_tokens=6))
    return chat_stream(fake_provider, kind, model=MODEL, messages=USER)


@pytest.mark.parametrize("kind", KINDS)
async def test_closed_early(kind, fake_provider, instrumented):
    stream = _open_stream(fake_provider, kind)
    first = await next_item(stream)
    assert first.type == "message-start"
    assert instrumented.spans() == []
    if kind == "async":
        await stream.aclose()
    else:
        stream.close()
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.RESPONSE_ID] == first.id
    assert semconv.USAGE_OUTPUT_TOKENS not in span.attributes  # message-end never came


async def test_break_then_close_sync(fake_provider, instrumented):
    stream = _open_stream(fake_provider, "sync")
    for _event in stream:
        break
    assert instrumented.spans() == []
    stream.close()
    one_ok_span(instrumented)


@pytest.mark.parametrize("kind", KINDS)
async def test_drained_then_closed_ends_once(kind, fake_provider, instrumented):
    stream = _open_stream(fake_provider, kind)
    await drain(stream)
    if kind == "async":
        await stream.aclose()
    else:
        stream.close()
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 6


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_mid_way(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(cut_stream_after=3))
    stream = _open_stream(fake_provider, kind)
    received = []
    with pytest.raises(httpx.HTTPError) as raised:
        await read_until_error(stream, received)
    assert len(received) == 3
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "ERROR")
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == received[0].id
    pop_ttfc(attributes)
    assert attributes.pop(semconv.ERROR_TYPE) == f"httpx.{type(raised.value).__name__}"
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_abandoned_stream_ends_on_garbage_collection(kind, fake_provider, instrumented):
    stream = _open_stream(fake_provider, kind)
    await next_item(stream)
    if kind == "async":
        # An async generator must be closed on its own loop; the abandoned proxy is what this test is about.
        await stream.__wrapped__.aclose()
    del stream
    gc.collect()
    assert_abandoned(instrumented)


async def test_never_iterated_stream_sends_nothing(fake_provider, instrumented):
    stream = chat_stream(fake_provider, "sync", model=MODEL, messages=USER)
    del stream
    gc.collect()
    assert fake_provider.request_count() == 0
    assert instrumented.span().attributes[semconv.ERROR_TYPE] == "abandoned"


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize("kind", KINDS)
async def test_embed(kind, fake_provider, instrumented):
    result = await embed(
        fake_provider,
        kind,
        model=EMBED_MODEL,
        texts=["hello world", "where is my order"],
        output_dimension=16,
        embedding_types=["float", "int8"],
    )

    assert len(result.embeddings.float_[0]) == 16
    attributes = EXPECTED.span_attributes(
        instrumented, fake_provider, operation="embeddings", model=EMBED_MODEL
    )
    assert attributes.pop(semconv.REQUEST_ENCODING_FORMATS) == ("float", "int8")
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == 16
    assert attributes.pop(semconv.RESPONSE_ID) == result.id
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 3 + 5
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(8, 0, EMBED_MODEL), rel=1e-12)
    assert attributes == {}
    assert token_sums(instrumented) == {"input": 8}


async def test_embed_dimensions_from_the_response(fake_provider, instrumented):
    await embed(fake_provider, "sync", model=EMBED_MODEL, texts=["hi"], embedding_types=["int8"])
    assert instrumented.span().attributes[semconv.EMBEDDINGS_DIMENSION_COUNT] == 8


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("fault", "error_type", "status"), ERRORS[:2])
async def test_embed_errors(kind, fault, error_type, status, fake_provider, instrumented):
    fake_provider.add_fault(fault)
    with pytest.raises(cohere.core.ApiError):
        await embed(fake_provider, kind, model=EMBED_MODEL, texts=["hi"])
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider, "embeddings", EMBED_MODEL)
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}


# ---------------------------------------------------------------- content capture

CONVERSATION = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": "Where is ORD-1042?"},
    {
        "role": "assistant",
        "tool_plan": "I will look the order up.",
        "tool_calls": [
            {
                "id": "lookup_order_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id":"ORD-1042"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "lookup_order_1", "content": '{"status":"shipped"}'},
]
EXPECTED_INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]},
    {
        "role": "assistant",
        "parts": [
            {
                "type": "tool_call",
                "id": "lookup_order_1",
                "name": "lookup_order",
                "arguments": '{"order_id":"ORD-1042"}',
            }
        ],
    },
    {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "lookup_order_1", "response": '{"status":"shipped"}'}],
    },
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_content_capture(kind, stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday."))
    kwargs = {"model": MODEL, "messages": CONVERSATION, "tools": [cohere.ToolV2(**TOOLS[0])]}
    if stream:
        await drain(chat_stream(fake_provider, kind, **kwargs))
    else:
        await chat(fake_provider, kind, **kwargs)

    span = telemetry.span()
    assert content(span, semconv.SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "You are a support agent."}
    ]
    assert content(span, semconv.INPUT_MESSAGES) == EXPECTED_INPUT
    assert content(span, semconv.TOOL_DEFINITIONS) == TOOLS
    assert content(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped on Monday."}],
            "finish_reason": "COMPLETE",
        }
    ]


async def test_typed_messages_content(fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    messages = [
        cohere.SystemChatMessageV2(content="Be brief."),
        cohere.UserChatMessageV2(content=[cohere.TextContent(text="Where is ORD-1042?")]),
        cohere.ToolChatMessageV2(
            tool_call_id="lookup_order_1",
            content=[cohere.DocumentToolContent(document=cohere.Document(data={"status": "shipped"}))],
        ),
    ]
    await chat(fake_provider, "sync", model=MODEL, messages=messages)
    span = telemetry.span()
    assert content(span, semconv.SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert content(span, semconv.INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]},
        {
            "role": "tool",
            "parts": [
                {
                    "type": "tool_call_response",
                    "id": "lookup_order_1",
                    "response": [{"type": "document", "document": {"data": {"status": "shipped"}}}],
                }
            ],
        },
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_call_output_content(stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(
        Reply(
            text="I will look the order up.",
            tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}, id="lookup_order_9"),),
        )
    )
    kwargs = {"model": MODEL, "messages": CONVERSATION[:2], "tools": TOOLS}
    if stream:
        await drain(chat_stream(fake_provider, "sync", **kwargs))
    else:
        await chat(fake_provider, "sync", **kwargs)
    assert content(telemetry.span(), semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "I will look the order up."},
                {
                    "type": "tool_call",
                    "id": "lookup_order_9",
                    "name": "lookup_order",
                    "arguments": '{"order_id":"ORD-1042"}',
                },
            ],
            "finish_reason": "TOOL_CALL",
        }
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_no_content_without_opt_in(stream, fake_provider, instrumented):
    kwargs = {"model": MODEL, "messages": CONVERSATION, "tools": TOOLS}
    if stream:
        await drain(chat_stream(fake_provider, "sync", **kwargs))
    else:
        await chat(fake_provider, "sync", **kwargs)
    attributes = instrumented.span().attributes
    assert_no_content(attributes)


# ---------------------------------------------------------------- uninstrument


async def test_uninstrument_restores_the_sdk(fake_provider, instrument):
    import otel_agentops

    telemetry = instrument()
    otel_agentops.uninstrument()
    await chat(fake_provider, "sync", model=MODEL, messages=USER)
    list(chat_stream(fake_provider, "sync", model=MODEL, messages=USER))
    assert telemetry.spans() == []
    assert not hasattr(cohere.v2.client.V2Client.chat, "__wrapped__")


# ---------------------------------------------------------------- zero-code, under opentelemetry-instrument

ROOT = Path(__file__).resolve().parents[2]


def test_app_under_opentelemetry_instrument():
    env = {
        "OTEL_SERVICE_NAME": "cohere-app",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    result = run_instrumented([str(ROOT / "tests" / "apps" / "cohere_app.py")], env, cwd=ROOT)
    [line] = [line for line in result.stdout.splitlines() if line.startswith('{"cohere_app"')]
    report = json.loads(line)["cohere_app"]
    assert report["text"].startswith("Fake answer to:")
    assert sorted(report["requests"]) == ["/v2/chat"] * 4 + ["/v2/embed"]
    spans = json_spans(result.stdout)
    assert sorted(s["name"] for s in spans) == [f"chat {MODEL}"] * 4 + [f"embeddings {EMBED_MODEL}"]
    plain = next(s for s in spans if "gen_ai.request.max_tokens" in s["attributes"])
    attributes = dict(plain["attributes"])
    assert attributes.pop("gen_ai.operation.name") == "chat"
    assert attributes.pop("gen_ai.provider.name") == "cohere"
    assert attributes.pop("gen_ai.request.model") == MODEL
    assert attributes.pop("gen_ai.request.max_tokens") == 256
    assert attributes.pop("server.address") == "127.0.0.1"
    assert isinstance(attributes.pop("server.port"), int)
    assert attributes.pop("gen_ai.response.id").startswith("fake")
    assert attributes.pop("gen_ai.response.finish_reasons") == ["COMPLETE"]
    pop_exported_usage(attributes)
    assert attributes == {}
    streamed = [s for s in spans if s["attributes"].get("gen_ai.request.stream")]
    assert len(streamed) == 2
    assert all(s["status"]["status_code"] == "UNSET" for s in spans)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_our_retry_owns_the_budget(kind, fake_provider, instrument):
    """The SDK's own two retries are switched off while ours are on: 3 attempts are 3 requests, not 9."""
    telemetry = instrument(OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="3", OTEL_AGENTOPS_RETRY_BASE_DELAY="0")
    fake_provider.add_fault(Fault(status=429, retry_after="0"), times=None)
    llm = client(fake_provider, kind)
    with pytest.raises(cohere.TooManyRequestsError):
        result = llm.chat(model=MODEL, messages=USER, request_options={"timeout_in_seconds": 30})
        if kind == "async":
            await result
    assert fake_provider.request_count() == 3
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 3
    fake_provider.reset()
    otel_agentops.uninstrument()
    fake_provider.add_fault(Fault(status=429, retry_after="0"), times=None)
    with pytest.raises(cohere.TooManyRequestsError):
        result = llm.chat(model=MODEL, messages=USER)
        if kind == "async":
            await result
    assert fake_provider.request_count() == 3  # uninstrumented: the SDK's own 1 + 2 retries
