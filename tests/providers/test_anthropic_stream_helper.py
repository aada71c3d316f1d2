"""messages.stream(): every way the helper's stream can end ends the span exactly once."""

from __future__ import annotations

import gc
import logging

import anthropic
import httpx2
import pytest
from anthropic_helpers import MODEL, USER, client, pop_base, pop_ttfc, price

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv

TEXT = "one two three four five six seven eight"


def _script(fake_provider):
    fake_provider.script(Reply(text=TEXT, input_tokens=40, output_tokens=8, cached_tokens=10))


def _assert_one_span_ok(telemetry):
    span = telemetry.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.ERROR_TYPE not in span.attributes
    [duration] = telemetry.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1
    return span


def _assert_complete(span, fake_provider):
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID).startswith("msg_fake")
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("end_turn",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 40
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 8
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 10
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(MODEL, 40, 8, cache_read=10), rel=1e-12)
    pop_ttfc(attributes)
    assert attributes == {}


def test_full_iteration(fake_provider, instrumented):
    _script(fake_provider)
    llm = client(fake_provider, "sync")
    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)
    assert fake_provider.request_count() == 0  # the helper sends on __enter__
    with manager as stream:
        assert type(stream) is anthropic.lib.streaming.MessageStream  # the app gets the SDK's own type
        assert instrumented.spans() == []
        events = list(stream)
        assert len(instrumented.spans()) == 1  # ended as the events ran out; the close adds nothing
    assert events[-1].type == "message_stop"
    _assert_complete(_assert_one_span_ok(instrumented), fake_provider)


def test_text_stream(fake_provider, instrumented):
    _script(fake_provider)
    with client(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        text = "".join(stream.text_stream)
    assert text == TEXT
    _assert_complete(_assert_one_span_ok(instrumented), fake_provider)


def test_get_final_message(fake_provider, instrumented):
    _script(fake_provider)
    with client(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        message = stream.get_final_message()
        assert stream.get_final_text() == TEXT
    assert message.content[0].text == TEXT
    _assert_complete(_assert_one_span_ok(instrumented), fake_provider)


async def test_async_get_final_message(fake_provider, instrumented):
    _script(fake_provider)
    llm = client(fake_provider, "async")
    async with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        assert type(stream) is anthropic.lib.streaming.AsyncMessageStream
        message = await stream.get_final_message()
    assert message.content[0].text == TEXT
    _assert_complete(_assert_one_span_ok(instrumented), fake_provider)


async def test_async_text_stream_early_exit(fake_provider, instrumented):
    _script(fake_provider)
    llm = client(fake_provider, "async")
    async with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        async for _text in stream.text_stream:
            break
        assert instrumented.spans() == []
    span = _assert_one_span_ok(instrumented)
    assert semconv.RESPONSE_FINISH_REASONS not in span.attributes  # message_delta never read


def test_early_exit(fake_provider, instrumented):
    _script(fake_provider)
    with client(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        for _text in stream.text_stream:
            break
        assert instrumented.spans() == []
    span = _assert_one_span_ok(instrumented)
    # What arrived before the exit is kept; the final output count never came.
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 40
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 1
    assert semconv.RESPONSE_FINISH_REASONS not in span.attributes


def test_explicit_close_then_exit(fake_provider, instrumented):
    _script(fake_provider)
    with client(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        next(iter(stream))
        stream.close()
        assert len(instrumented.spans()) == 1
    _assert_one_span_ok(instrumented)


def test_tool_use(fake_provider, instrumented):
    fake_provider.script(Reply(tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}),)))
    tools = [{"name": "lookup_order", "input_schema": {"type": "object", "properties": {}}}]
    llm = client(fake_provider, "sync")
    with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER, tools=tools) as stream:
        message = stream.get_final_message()
    assert message.content[0].input == {"order_id": "ORD-1042"}
    span = _assert_one_span_ok(instrumented)
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order",)
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("tool_use",)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_error_on_enter(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=529))
    llm = client(fake_provider, kind)
    with pytest.raises(anthropic.OverloadedError):
        if kind == "async":
            async with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER):
                pass
        else:
            with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER):
                pass
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "anthropic.OverloadedError"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_stream_cut_midway(kind, fake_provider, instrumented):
    _script(fake_provider)
    fake_provider.add_fault(Fault(cut_stream_after=4))
    llm = client(fake_provider, kind)
    with pytest.raises(httpx2.RemoteProtocolError):
        if kind == "async":
            async with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
                await stream.get_final_message()
        else:
            with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
                stream.get_final_message()
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "httpx2.RemoteProtocolError"
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 40  # message_start arrived
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.value == 1


def test_app_error_inside_the_block(fake_provider, instrumented):
    _script(fake_provider)
    with (
        pytest.raises(ValueError, match="app broke"),
        client(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream,
    ):
        next(iter(stream))
        raise ValueError("app broke")
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_never_entered_manager_ends_as_abandoned(fake_provider, instrumented):
    manager = client(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER)
    del manager
    gc.collect()
    assert fake_provider.request_count() == 0
    span = instrumented.span()
    assert span.attributes[semconv.STREAM_ABANDONED] is True


def test_beta_stream_helper(fake_provider, instrumented):
    _script(fake_provider)
    llm = client(fake_provider, "sync")
    with llm.beta.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        text = "".join(stream.text_stream)
    assert text == TEXT
    _assert_complete(_assert_one_span_ok(instrumented), fake_provider)


async def test_no_context_detach_errors(fake_provider, instrumented, caplog):
    """Interleaving two helpers must not trip OpenTelemetry's context-detach check."""
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")
    fake_provider.script(Reply(text=TEXT), times=2)
    llm = client(fake_provider, "async")
    async with (
        llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as first,
        llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as second,
    ):
        for _ in range(3):
            await first.__anext__()
            await second.__anext__()
        await second.until_done()
        await first.until_done()
    assert len(instrumented.spans()) == 2
    assert "Failed to detach context" not in caplog.text
