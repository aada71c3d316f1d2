"""Opt-in content capture: exact semantic-convention message shapes, and nothing without the opt-in."""

from __future__ import annotations

import json
import logging

import pytest
from openai_helpers import client, drain, invoke

from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
CONVERSATION = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": "Where is ORD-1042?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id":"ORD-1042"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"status":"shipped"}'},
]
EXPECTED_INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]},
    {
        "role": "assistant",
        "parts": [
            {
                "type": "tool_call",
                "id": "call_1",
                "name": "lookup_order",
                "arguments": '{"order_id":"ORD-1042"}',
            }
        ],
    },
    {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_1", "response": '{"status":"shipped"}'}],
    },
]


def _json(span, key):
    return json.loads(span.attributes[key])


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True])
async def test_chat_content_on_span(kind, stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday.", input_tokens=30, output_tokens=5))
    llm = client(fake_provider, kind)
    result = await invoke(
        llm.chat.completions.create, model="gpt-4o-mini", messages=CONVERSATION, tools=TOOLS, stream=stream
    )
    if stream:
        await drain(result)

    span = telemetry.span()
    assert _json(span, semconv.SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "You are a support agent."}
    ]
    assert _json(span, semconv.INPUT_MESSAGES) == EXPECTED_INPUT
    assert _json(span, semconv.TOOL_DEFINITIONS) == TOOLS
    assert _json(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped on Monday."}],
            "finish_reason": "stop",
        }
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_call_output_content(stream, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(tool_calls=(ToolCall("lookup_order", {"order_id": "ORD-1042"}, id="call_9"),)))
    llm = client(fake_provider, "sync")
    result = llm.chat.completions.create(
        model="gpt-4o-mini", messages=CONVERSATION[:2], tools=TOOLS, stream=stream
    )
    if stream:
        list(result)
    assert _json(telemetry.span(), semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_9",
                    "name": "lookup_order",
                    "arguments": '{"order_id":"ORD-1042"}',
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]


async def test_responses_content(fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="Shipped."))
    llm = client(fake_provider, "sync")
    llm.responses.create(model="gpt-4o-mini", input="Where is ORD-1042?", instructions="Be brief.")
    span = telemetry.span()
    assert _json(span, semconv.SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert _json(span, semconv.INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]}
    ]
    assert _json(span, semconv.OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Shipped."}], "finish_reason": "stop"}
    ]


@pytest.mark.parametrize("value", [None, "no_content", "false", "event_only"])
async def test_no_content_on_spans_without_span_opt_in(value, fake_provider, instrument):
    env = {} if value is None else {CAPTURE: value}
    telemetry = instrument(**env)
    llm = client(fake_provider, "sync")
    llm.chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION, tools=TOOLS)
    attributes = telemetry.span().attributes
    for key in (
        semconv.INPUT_MESSAGES,
        semconv.OUTPUT_MESSAGES,
        semconv.SYSTEM_INSTRUCTIONS,
        semconv.TOOL_DEFINITIONS,
    ):
        assert key not in attributes
    assert "ORD-1042" not in json.dumps(dict(attributes))


async def test_bad_capture_value_names_variable_value_and_accepted_form(fake_provider, instrument, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    telemetry = instrument(**{CAPTURE: "everything"})
    client(fake_provider, "sync").chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    assert semconv.INPUT_MESSAGES not in telemetry.span().attributes  # fell back to the default: no content
    [record] = [r for r in caplog.records if r.name == "otel_agentops.config"]
    message = record.getMessage()
    assert CAPTURE in message
    assert "'everything'" in message
    assert "span_only" in message
    assert "no_content" in message


@pytest.mark.parametrize("mode", ["event_only", "span_and_event"])
async def test_event_mode_emits_one_redacted_record_per_call(mode, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: mode})
    fake_provider.script(Reply(text="Sent to jane.doe@example.com", input_tokens=12, output_tokens=4))
    llm = client(fake_provider, "sync")
    llm.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Mail ORD-1042 to jane.doe@example.com"}]
    )
    span = telemetry.span()
    assert (semconv.INPUT_MESSAGES in span.attributes) == (mode == "span_and_event")
    [record] = telemetry.log_records()
    assert record.event_name == "gen_ai.client.inference.operation.details"
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    attributes = dict(record.attributes)
    assert attributes[semconv.OPERATION_NAME] == "chat"
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 12
    [message] = json.loads(attributes[semconv.INPUT_MESSAGES])
    assert message["parts"][0]["content"] == "Mail ORD-1042 to [REDACTED:email]"
    [output] = json.loads(attributes[semconv.OUTPUT_MESSAGES])
    assert output["parts"][0]["content"] == "Sent to [REDACTED:email]"


async def test_event_mode_error_record(fake_provider, instrument):
    import openai

    from otel_agentops.fake_provider import Fault

    telemetry = instrument(**{CAPTURE: "event_only"})
    message = "Invalid key sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678 for jane.doe@example.com"
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    fake_provider.add_fault(Fault(status=400, body=body))
    with pytest.raises(openai.BadRequestError):
        client(fake_provider, "sync").chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    details, error = telemetry.log_records()
    assert details.event_name == "gen_ai.client.inference.operation.details"
    assert details.attributes[semconv.ERROR_TYPE] == "openai.BadRequestError"
    assert error.event_name == "agentops.error"
    assert error.severity_number.name == "ERROR"
    assert "sk-proj-" not in error.body and "jane.doe" not in error.body
    assert "[REDACTED:" in error.body
    span = telemetry.span()
    assert "sk-proj-" not in span.status.description  # the span's status description is redacted too


async def test_no_log_records_without_event_mode(fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    client(fake_provider, "sync").chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    assert telemetry.log_records() == []
