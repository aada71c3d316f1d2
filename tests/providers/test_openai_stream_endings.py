"""Every way a stream can end ends its span exactly once, with the right status."""

from __future__ import annotations

import gc
import logging

import openai
import pytest
from openai_helpers import USER, client, close, drain, invoke

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv

KINDS = ["sync", "async"]
TEXT = "one two three four five six seven eight"


async def _stream(fake_provider, kind, **extra):
    fake_provider.script(Reply(text=TEXT, input_tokens=10, output_tokens=8))
    llm = client(fake_provider, kind)
    return await invoke(
        llm.chat.completions.create,
        model="gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    )


async def _next(stream):
    if hasattr(stream, "__anext__"):
        return await stream.__anext__()
    return next(stream)


def _assert_one_span_ok(telemetry):
    span = telemetry.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.ERROR_TYPE not in span.attributes
    [duration] = telemetry.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1
    return span


@pytest.mark.parametrize("kind", KINDS)
async def test_exhausted(kind, fake_provider, instrumented):
    stream = await _stream(fake_provider, kind)
    await drain(stream)
    await close(stream)  # closing after the end must not end the span a second time
    span = _assert_one_span_ok(instrumented)
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 8


@pytest.mark.parametrize("kind", KINDS)
async def test_closed_early(kind, fake_provider, instrumented):
    stream = await _stream(fake_provider, kind)
    first = await _next(stream)
    assert first.choices[0].delta.role == "assistant"
    await close(stream)
    span = _assert_one_span_ok(instrumented)
    # What arrived before the close is kept; the usage chunk never came.
    assert span.attributes[semconv.RESPONSE_ID] == first.id
    assert semconv.USAGE_OUTPUT_TOKENS not in span.attributes


async def test_break_then_context_exit_sync(fake_provider, instrumented):
    stream = await _stream(fake_provider, "sync")
    with stream as entered:
        assert entered is stream
        for _chunk in entered:
            break
        assert instrumented.spans() == []
    _assert_one_span_ok(instrumented)


async def test_break_then_context_exit_async(fake_provider, instrumented):
    stream = await _stream(fake_provider, "async")
    async with stream as entered:
        assert entered is stream
        async for _chunk in entered:
            break
        assert instrumented.spans() == []
    _assert_one_span_ok(instrumented)


@pytest.mark.parametrize("kind", KINDS)
async def test_error_mid_stream(kind, fake_provider, instrumented):
    fake_provider.add_fault(Fault(cut_stream_after=2))
    stream = await _stream(fake_provider, kind)
    received = []
    with pytest.raises(openai.APIConnectionError):
        if hasattr(stream, "__aiter__"):
            async for chunk in stream:
                received.append(chunk)
        else:
            for chunk in stream:
                received.append(chunk)
    assert len(received) == 2
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "openai.APIConnectionError"
    assert span.attributes[semconv.RESPONSE_ID] == received[0].id  # partial output kept
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.value == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_abandoned_stream_ends_on_garbage_collection(kind, fake_provider, instrumented):
    stream = await _stream(fake_provider, kind)
    await _next(stream)
    del stream
    gc.collect()
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "abandoned"
    assert span.attributes[semconv.STREAM_ABANDONED] is True


async def test_stream_helper_manager_early_exit(fake_provider, instrumented):
    """chat.completions.stream() closes the HTTP response, not our stream: the span still ends there."""
    fake_provider.script(Reply(text=TEXT))
    llm = client(fake_provider, "sync")
    with llm.chat.completions.stream(model="gpt-4o-mini", messages=USER) as stream:
        for event in stream:
            if event.type == "content.delta":
                break
        assert instrumented.spans() == []
    _assert_one_span_ok(instrumented)


async def test_stream_helper_manager_async_full(fake_provider, instrumented):
    fake_provider.script(Reply(text=TEXT, input_tokens=10, output_tokens=8))
    llm = client(fake_provider, "async")
    async with llm.chat.completions.stream(
        model="gpt-4o-mini", messages=USER, stream_options={"include_usage": True}
    ) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == TEXT
    span = _assert_one_span_ok(instrumented)
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 10


async def test_no_context_detach_errors(fake_provider, instrumented, caplog):
    """Interleaving two streams must not trip OpenTelemetry's context-detach check."""
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")
    first = await _stream(fake_provider, "async")
    second = await _stream(fake_provider, "async")
    for _ in range(3):
        await _next(first)
        await _next(second)
    await drain(second)
    await drain(first)
    assert len(instrumented.spans()) == 2
    assert "Failed to detach context" not in caplog.text
