"""The fake provider's Bedrock wire format: its event-stream encoder checked by botocore's own decoder, and
every route exercised through a real boto3 client (no mocks, no Stubber, no instrumentation)."""

from __future__ import annotations

import base64
import json
import math
import struct
import zlib
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall
from otel_agentops.fake_provider import bedrock as wire

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
PROFILE_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"],
            }
        },
    }
}


def prompt_tokens(*texts: str) -> int:
    """The documented formula: ceil(characters / 4) + 3 per message."""
    return math.ceil(sum(len(t) for t in texts) / 4) + 3 * len(texts)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def anthropic_body(text: str, max_tokens: int = 256, **extra: Any) -> str:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    return json.dumps(body)


@pytest.fixture
def bedrock(fake_provider: FakeProvider) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake_provider.bedrock_endpoint_url,
        aws_access_key_id="AKIAFAKEWIRETEST0001",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


# ---------------------------------------------------------------- the event-stream encoder


def test_encoder_round_trips_through_botocores_parser():
    first = wire.event("messageStart", {"role": "assistant"})
    second = wire.event_message({":event-type": "chunk", ":message-type": "event"}, b"{}")
    buffer = EventStreamBuffer()
    buffer.add_data(first + second[:7])  # a message split across reads, as on the wire
    [message] = list(buffer)
    buffer.add_data(second[7:])
    [message_two] = list(buffer)

    assert message.headers == {
        ":event-type": "messageStart",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"role": "assistant"}
    assert message_two.headers == {":event-type": "chunk", ":message-type": "event"}
    assert message_two.payload == b"{}"


def test_encoder_layout_and_checksums():
    payload = b'{"a":1}'
    message = wire.event_message({":event-type": "x"}, payload)
    total, headers_length, prelude_crc = struct.unpack(">III", message[:12])
    assert total == len(message)
    assert (
        headers_length == 1 + len(":event-type") + 1 + 2 + 1
    )  # name length, name, type 7, value length, value
    assert prelude_crc == zlib.crc32(message[:8])
    assert message[12 + headers_length : -4] == payload
    assert struct.unpack(">I", message[-4:])[0] == zlib.crc32(message[:-4])
    corrupted = message[:-5] + b"X" + message[-4:]
    buffer = EventStreamBuffer()
    buffer.add_data(corrupted)
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def test_encoder_handles_non_ascii():
    message = wire.event("contentBlockDelta", {"delta": {"text": "héllo ✓"}})
    buffer = EventStreamBuffer()
    buffer.add_data(message)
    [decoded] = list(buffer)
    assert json.loads(decoded.payload) == {"delta": {"text": "héllo ✓"}}


# ---------------------------------------------------------------- Converse


def test_converse_default_answer_and_usage(bedrock, fake_provider):
    response = bedrock.converse(modelId=MODEL, messages=user("Where is my order?"))
    assert response["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": "Fake answer to: Where is my order?"}],
    }
    assert response["stopReason"] == "end_turn"
    expected_in = prompt_tokens("Where is my order?")
    assert response["usage"] == {
        "inputTokens": expected_in,
        "outputTokens": 7,
        "totalTokens": expected_in + 7,
    }
    [request] = fake_provider.requests
    # botocore URL-encodes the ':' of the model id; the route decodes it.
    assert request.path == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256")


def test_converse_system_and_max_tokens(bedrock):
    response = bedrock.converse(
        modelId=PROFILE_MODEL,
        messages=user("one two three four five"),
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 2},
    )
    assert response["output"]["message"]["content"] == [{"text": "Fake answer"}]
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["inputTokens"] == prompt_tokens("Be brief.", "one two three four five")


def test_converse_cached_usage(bedrock, fake_provider):
    fake_provider.script(
        Reply(text="ok", input_tokens=100, output_tokens=1, cached_tokens=60, cache_creation_tokens=30)
    )
    usage = bedrock.converse(modelId=MODEL, messages=user("hi"))["usage"]
    assert usage == {
        "inputTokens": 10,
        "outputTokens": 1,
        "totalTokens": 101,
        "cacheReadInputTokens": 60,
        "cacheWriteInputTokens": 30,
    }


def test_converse_tool_call_then_tool_result(bedrock):
    first = bedrock.converse(modelId=MODEL, messages=user("Weather in Paris?"), toolConfig={"tools": [TOOL]})
    assert first["stopReason"] == "tool_use"
    [block] = first["output"]["message"]["content"]
    use = block["toolUse"]
    assert use["name"] == "get_weather"
    assert use["input"] == {"city": "Weather in Paris?", "days": 1}
    history = [
        *user("Weather in Paris?"),
        first["output"]["message"],
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temp": 21}}]}}],
        },
    ]
    second = bedrock.converse(modelId=MODEL, messages=history, toolConfig={"tools": [TOOL]})
    assert second["output"]["message"]["content"] == [{"text": 'Based on the tool result: {"temp":21}'}]


def test_converse_tool_choice_names_one_tool(bedrock):
    other = {"toolSpec": {"name": "search", "inputSchema": {"json": {"type": "object"}}}}
    response = bedrock.converse(
        modelId=MODEL,
        messages=user("anything"),
        toolConfig={"tools": [other, TOOL], "toolChoice": {"tool": {"name": "get_weather"}}},
    )
    assert response["output"]["message"]["content"][0]["toolUse"]["name"] == "get_weather"


def test_converse_stream_events(bedrock, fake_provider):
    fake_provider.script(
        Reply(
            text="Sunny today",
            tool_calls=(ToolCall("get_weather", {"city": "Paris", "days": 2}, id="tooluse_1"),),
            input_tokens=20,
            output_tokens=9,
        )
    )
    response = bedrock.converse_stream(modelId=MODEL, messages=user("hi"), toolConfig={"tools": [TOOL]})
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == wire.EVENT_STREAM
    events = list(response["stream"])
    assert [next(iter(e)) for e in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    text = "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )
    assert text == "Sunny today"
    arguments = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {})
    )
    assert json.loads(arguments) == {"city": "Paris", "days": 2}
    assert events[4]["contentBlockStart"] == {
        "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}},
        "contentBlockIndex": 1,
    }
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}
    assert events[-1]["metadata"]["usage"] == {"inputTokens": 20, "outputTokens": 9, "totalTokens": 29}


def test_converse_stream_cut_after_events(bedrock, fake_provider):
    fake_provider.add_fault(Fault(cut_stream_after=2))
    stream = bedrock.converse_stream(modelId=MODEL, messages=user("one two three"))["stream"]
    received = []
    with pytest.raises(Exception):  # noqa: B017 - urllib3's protocol error, whatever its class
        for event in stream:
            received.append(event)
    assert len(received) == 2


# ---------------------------------------------------------------- InvokeModel (Anthropic)


def test_invoke_model_anthropic_body(bedrock, fake_provider):
    fake_provider.script(Reply(text="Hello there", input_tokens=12, output_tokens=2, cached_tokens=4))
    response = bedrock.invoke_model(modelId=PROFILE_MODEL, body=anthropic_body("hi"))
    assert response["contentType"] == "application/json"
    message = json.loads(response["body"].read())
    assert message["type"] == "message"
    assert message["model"] == "claude-3-5-haiku-20241022"
    assert message["content"] == [{"type": "text", "text": "Hello there", "citations": None}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] == 8  # uncached only, as Anthropic reports it
    assert message["usage"]["cache_read_input_tokens"] == 4
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "12"
    assert headers["x-amzn-bedrock-output-token-count"] == "2"


def test_invoke_model_with_response_stream(bedrock, fake_provider):
    fake_provider.script(Reply(text="one two", input_tokens=7, output_tokens=2))
    response = bedrock.invoke_model_with_response_stream(modelId=MODEL, body=anthropic_body("hi"))
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert [c["type"] for c in chunks] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta") == "one two"
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"] == 7
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 2


def test_invoke_stream_chunk_payload_is_base64_json():
    framed = wire._chunk({"type": "message_stop"})
    buffer = EventStreamBuffer()
    buffer.add_data(framed)
    [message] = list(buffer)
    assert message.headers[":event-type"] == "chunk"
    assert json.loads(base64.b64decode(json.loads(message.payload)["bytes"])) == {"type": "message_stop"}


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (
            MODEL,
            json.dumps({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
            "anthropic_version",
        ),
        (MODEL, anthropic_body("x", model="claude"), "extraneous key [model]"),
        (MODEL, json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": []}), "max_tokens"),
        ("amazon.nova-lite-v1:0", anthropic_body("x"), "Anthropic models only"),
        (MODEL, "not json", "Malformed input request"),
    ],
)
def test_invoke_model_validation(bedrock, model, body, message):
    with pytest.raises(bedrock.exceptions.ValidationException) as raised:
        bedrock.invoke_model(modelId=model, body=body)
    assert message in raised.value.response["Error"]["Message"]
    assert (
        raised.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ValidationException"
    )


# ---------------------------------------------------------------- errors and faults


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
        (502, "InternalServerException"),
    ],
)
def test_faults_have_bedrocks_error_shape(bedrock, fake_provider, status, code):
    fake_provider.add_fault(Fault(status=status))
    with pytest.raises(bedrock.exceptions.ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=user("hi"))
    error = raised.value.response["Error"]
    assert error["Code"] == code
    assert error["Message"].startswith(f"Injected fault: HTTP {status} ")
    assert type(raised.value).__name__ == code


def test_header_fault_on_invoke_stream(bedrock, fake_provider):
    bedrock.meta.events.register(
        "before-sign.bedrock-runtime.*",
        lambda request, **_: request.headers.add_header("x-fake-fault", "429"),
    )
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.invoke_model_with_response_stream(modelId=MODEL, body=anthropic_body("hi"))
    assert fake_provider.request_count() == 1


def test_error_body_shape():
    assert wire.error_body(wire.WireError(429, "slow down")) == {
        "message": "slow down",
        "__type": "ThrottlingException",
    }
    assert wire.error_code(418) == "ValidationException"
    assert wire.error_code(599) == "InternalServerException"


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        (MODEL, "claude-3-5-haiku-20241022"),
        (PROFILE_MODEL, "claude-3-5-haiku-20241022"),
        ("anthropic.claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5-20251101"),
    ],
)
def test_anthropic_model_name(model_id, name):
    assert wire.anthropic_model_name(model_id) == name
