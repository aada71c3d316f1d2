"""Opt-in content capture for Anthropic: the same semantic-convention shapes as for OpenAI."""

from __future__ import annotations

import json

import pytest
from anthropic_helpers import MODEL, client, drain, invoke

from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TOOLS = [
    {
        "name": "lookup_order",
        "description": "Find an order",
        "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}},
    }
]
SYSTEM = [{"type": "text", "text": "You are a support agent."}, {"type": "text", "text": "Be brief."}]
CONVERSATION = [
    {"role": "user", "content": "Where is ORD-1042?"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order_id": "ORD-1042"}},
        ],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"status":"shipped"}'}],
    },
]
EXPECTED_INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]},
    {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "Let me check."},
            {
                "type": "tool_call",
                "id": "toolu_1",
                "name": "lookup_order",
                "arguments": {"order_id": "ORD-1042"},
            },
        ],
    },
    {
        "role": "user",
        "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": '{"status":"shipped"}'}],
    },
]


def _json(span, key):
    return json.loads(span.attributes[key])


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True])
async def test_content_on_span(kind, stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday.", input_tokens=30, output_tokens=5))
    llm = client(fake_provider, kind)
    result = await invoke(
        llm.messages.create,
        model=MODEL,
        max_tokens=256,
        system=SYSTEM,
        messages=CONVERSATION,
        tools=TOOLS,
        stream=stream,
    )
    if stream:
        await drain(result)

    span = telemetry.span()
    assert _json(span, semconv.SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "You are a support agent."},
        {"type": "text", "content": "Be brief."},
    ]
    assert _json(span, semconv.INPUT_MESSAGES) == EXPECTED_INPUT
    assert _json(span, semconv.TOOL_DEFINITIONS) == TOOLS
    assert _json(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped on Monday."}],
            "finish_reason": "end_turn",
        }
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_use_output_content(stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(
        Reply(
            text="Checking.", tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}, id="toolu_9"),)
        )
    )
    llm = client(fake_provider, "sync")
    result = llm.messages.create(
        model=MODEL, max_tokens=256, system="Be brief.", messages=CONVERSATION[:1], tools=TOOLS, stream=stream
    )
    if stream:
        list(result)
    span = telemetry.span()
    assert _json(span, semconv.SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert _json(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Checking."},
                {
                    "type": "tool_call",
                    "id": "toolu_9",
                    "name": "lookup_order",
                    "arguments": {"order_id": "ORD-1042"},
                },
            ],
            "finish_reason": "tool_use",
        }
    ]


async def test_stream_helper_content(fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="Shipped."))
    llm = client(fake_provider, "sync")
    with llm.messages.stream(model=MODEL, max_tokens=256, messages=CONVERSATION[:1]) as stream:
        stream.until_done()
    span = telemetry.span()
    assert _json(span, semconv.INPUT_MESSAGES) == EXPECTED_INPUT[:1]
    assert _json(span, semconv.OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Shipped."}], "finish_reason": "end_turn"}
    ]


async def test_tool_result_blocks_and_sdk_objects_as_input(fake_provider, instrument):
    """Apps append `response.content` (SDK objects) and tool results made of blocks."""
    telemetry = instrument(**{CAPTURE: "span_only"})
    llm = client(fake_provider, "sync")
    first = llm.messages.create(model=MODEL, max_tokens=256, messages=CONVERSATION[:1], tools=TOOLS)
    tool_use = first.content[0]
    conversation = [
        CONVERSATION[0],
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_use.id,
                    "content": [{"type": "text", "text": "shipped"}, {"type": "image", "source": {}}],
                }
            ],
        },
    ]
    answer = llm.messages.create(model=MODEL, max_tokens=256, messages=conversation, tools=TOOLS)
    assert answer.content[0].text == "Based on the tool result: shipped"
    span = telemetry.spans()[1]
    assert _json(span, semconv.INPUT_MESSAGES)[1:] == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": tool_use.id, "name": "lookup_order", "arguments": tool_use.input}
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "type": "tool_call_response",
                    "id": tool_use.id,
                    "response": [{"type": "text", "text": "shipped"}, {"type": "image"}],
                }
            ],
        },
    ]


async def test_no_content_without_opt_in(fake_provider, instrumented):
    llm = client(fake_provider, "sync")
    llm.messages.create(model=MODEL, max_tokens=256, system=SYSTEM, messages=CONVERSATION, tools=TOOLS)
    attributes = instrumented.span().attributes
    for key in (
        semconv.INPUT_MESSAGES,
        semconv.OUTPUT_MESSAGES,
        semconv.SYSTEM_INSTRUCTIONS,
        semconv.TOOL_DEFINITIONS,
    ):
        assert key not in attributes
    assert "ORD-1042" not in json.dumps(dict(attributes))
