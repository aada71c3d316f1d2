"""The fake provider, exercised through the real `openai` SDK over loopback HTTP (no mocks)."""

from __future__ import annotations

import base64
import json
import math
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response

from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall
from otel_agentops.fake_provider.__main__ import main as cli_main

MODEL = "gpt-4o-mini"
CHAT = "/v1/chat/completions"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "detailed": {"type": "boolean"},
                "note": {"type": "string"},
            },
            "required": ["city", "unit", "days", "detailed"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def prompt_tokens(*texts: str) -> int:
    """The documented formula: ceil(characters / 4) + 3 per message."""
    return math.ceil(sum(len(t) for t in texts) / 4) + 3 * len(texts)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fp(server: FakeProvider) -> FakeProvider:
    server.reset()
    return server


@pytest.fixture
def client(fp: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test", base_url=fp.openai_base_url, max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
async def aclient(fp: FakeProvider) -> Any:
    async with openai.AsyncOpenAI(
        api_key="test", base_url=fp.openai_base_url, max_retries=0, timeout=10
    ) as c:
        yield c


def control(fp: FakeProvider, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A plain JSON request (control endpoints, raw wire checks) with the standard library."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        fp.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


# --- Chat Completions ------------------------------------------------------------------------------------


def test_chat_json_text_usage_and_strict_types(fp: FakeProvider, client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "You are terse."}, *user("What is the capital of France?")]
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    # Strict validation: the SDK itself constructs without validating, so check the wire JSON here.
    ChatCompletion.model_validate(raw.http_response.json())
    completion = raw.parse()

    text = "Fake answer to: What is the capital of France?"
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    assert completion.system_fingerprint
    assert completion.choices[0].message.content == text
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == prompt_tokens("You are terse.", "What is the capital of France?")
    assert usage.completion_tokens == len(text.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    assert completion._request_id == raw.http_response.headers["x-request-id"]


def test_chat_honours_n(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=user("hi"), n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert {c.message.content for c in completion.choices} == {"Fake answer to: hi"}
    assert completion.usage is not None and completion.usage.completion_tokens == 3 * 4


def test_chat_stream_text_with_usage(client: openai.OpenAI) -> None:
    question = "Tell me something about the sea and the mountains"
    stream = client.chat.completions.create(
        model=MODEL, messages=user(question), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.to_dict())

    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    text = f"Fake answer to: {question}"
    assert len(deltas) > 3
    assert "".join(deltas) == text
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-2])
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert final.usage.prompt_tokens == prompt_tokens(question)
    assert final.usage.completion_tokens == len(text.split())
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_chat_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_chat_default_tool_call_then_answer_from_tool_result(client: openai.OpenAI) -> None:
    question = "What's the weather in Paris?"
    first = client.chat.completions.create(
        model=MODEL, messages=user(question), tools=[WEATHER_TOOL, SEARCH_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    # Required params only: strings from the prompt, enums their first value, numbers 1, booleans true.
    assert arguments == {"city": question, "unit": "celsius", "days": 1, "detailed": True}
    assert first.usage is not None
    assert first.usage.completion_tokens == math.ceil(len(call.function.arguments) / 4)

    follow_up = [
        *user(question),
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees"},
    ]
    second = client.chat.completions.create(
        model=MODEL, messages=follow_up, tools=[WEATHER_TOOL, SEARCH_TOOL]
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Based on the tool result: Sunny, 21 degrees"
    assert second.usage is not None
    assert second.usage.prompt_tokens == prompt_tokens(question, call.function.arguments, "Sunny, 21 degrees")


def test_chat_tool_named_in_prompt_is_called(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=user("now use search_docs please"), tools=[WEATHER_TOOL, SEARCH_TOOL]
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.function.name == "search_docs"
    assert json.loads(call.function.arguments) == {"query": "now use search_docs please"}


def test_chat_tool_choice_none_answers_with_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=user("hi"), tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert completion.choices[0].message.content == "Fake answer to: hi"


def test_chat_stream_tool_call_arguments_reassemble(client: openai.OpenAI) -> None:
    messages = user("weather in Oslo")
    expected = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    expected_call = (expected.choices[0].message.tool_calls or [])[0]

    chunks = list(
        client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL], stream=True)
    )
    tool_deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(tool_deltas) >= 3
    head, *rest = tool_deltas
    assert head.index == 0 and head.id and head.function is not None
    assert head.function.name == "get_weather"
    assert all(d.id is None and d.function is not None and d.function.name is None for d in rest)
    arguments = "".join((d.function.arguments or "") for d in tool_deltas if d.function)
    assert json.loads(arguments) == json.loads(expected_call.function.arguments)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    # The SDK's own stream accumulator agrees.
    with client.chat.completions.stream(model=MODEL, messages=messages, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_completion()
    assert (final.choices[0].message.tool_calls or [])[0].function.arguments == arguments


def test_chat_max_tokens_truncates_with_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=user("one two three four"), max_tokens=3
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "Fake answer to:"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_script_overrides_reply_and_usage(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.script(
        Reply(
            tool_calls=[ToolCall("lookup", {"id": 7}, id="call_abc")],
            input_tokens=100,
            output_tokens=9,
            cached_tokens=40,
            reasoning_tokens=3,
        )
    )
    fp.script("scripted text", model="gpt-4o")
    first = client.chat.completions.create(model=MODEL, messages=user("hi"))
    (call,) = first.choices[0].message.tool_calls or []
    assert (call.id, call.function.name, call.function.arguments) == ("call_abc", "lookup", '{"id":7}')
    assert first.choices[0].finish_reason == "tool_calls"
    usage = first.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 9, 109)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 40
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 3

    # The model-bound script waits for its model; other requests get the default behaviour.
    assert client.chat.completions.create(model=MODEL, messages=user("hi")).choices[0].message.content != (
        "scripted text"
    )
    scripted = client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert scripted.choices[0].message.content == "scripted text"
    again = client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert again.choices[0].message.content == "Fake answer to: hi"


def test_script_usage_only_keeps_default_answer(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.script(Reply(input_tokens=1000, output_tokens=2), times=2)
    for _ in range(2):
        completion = client.chat.completions.create(model=MODEL, messages=user("hi"))
        assert completion.choices[0].message.content == "Fake answer to: hi"
        assert completion.usage is not None
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1000, 2)
    assert client.chat.completions.create(model=MODEL, messages=user("hi")).usage.prompt_tokens == 4


# --- Responses -------------------------------------------------------------------------------------------


def test_responses_json_text(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model="gpt-4o", input="Summarise the plan", instructions="Be brief."
    )
    Response.model_validate(raw.http_response.json())
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4o"
    assert response.instructions == "Be brief."
    assert response.output_text == "Fake answer to: Summarise the plan"
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert response.usage is not None
    assert response.usage.input_tokens == prompt_tokens("Be brief.", "Summarise the plan")
    assert response.usage.output_tokens == 6
    assert response.usage.total_tokens == response.usage.input_tokens + 6
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_function_call_then_answer(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": SEARCH_TOOL["function"]["parameters"]}]
    items: list[Any] = [{"role": "user", "content": [{"type": "input_text", "text": "find the manual"}]}]
    first = client.responses.create(model="gpt-4o", input=items, tools=tools)
    Response.model_validate(first.to_dict())
    (call,) = first.output
    assert call.type == "function_call"
    assert call.name == "lookup" and call.call_id
    assert json.loads(call.arguments) == {"query": "find the manual"}

    items += [
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "page 42"},
    ]
    second = client.responses.create(model="gpt-4o", input=items, tools=tools)
    assert second.output_text == "Based on the tool result: page 42"


def test_responses_stream_events_and_usage(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="gpt-4o", input="stream this text please", stream=True)
    events = list(stream)
    for event in events:
        type(event).model_validate(event.to_dict())
    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "Fake answer to: stream this text please"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == text
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == text
    assert final.response.usage is not None
    assert final.response.usage.input_tokens == prompt_tokens("stream this text please")
    assert final.response.usage.output_tokens == len(text.split())

    # The SDK's accumulating helper accepts the sequence too.
    with client.responses.stream(model="gpt-4o", input="stream this text please") as helper:
        assert helper.get_final_response().output_text == text


def test_responses_stream_function_call(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": SEARCH_TOOL["function"]["parameters"]}]
    events = list(client.responses.create(model="gpt-4o", input="look it up", tools=tools, stream=True))
    kinds = [e.type for e in events]
    assert kinds.count("response.function_call_arguments.delta") >= 2
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    pieces = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert pieces == done.arguments
    assert json.loads(done.arguments) == {"query": "look it up"}


# --- Embeddings and models -------------------------------------------------------------------------------


def test_embeddings_default_base64_matches_float(fp: FakeProvider, client: openai.OpenAI) -> None:
    inputs = ["hello world", "another text"]
    default = client.embeddings.create(model="text-embedding-3-small", input=inputs)
    assert fp.requests[-1].body["encoding_format"] == "base64"
    as_float = client.embeddings.create(model="text-embedding-3-small", input=inputs, encoding_format="float")
    CreateEmbeddingResponse.model_validate(as_float.to_dict())

    assert [d.embedding for d in default.data] == [d.embedding for d in as_float.data]
    assert [d.index for d in as_float.data] == [0, 1]
    vector = as_float.data[0].embedding
    assert len(vector) == 8
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    assert as_float.data[0].embedding != as_float.data[1].embedding
    tokens = math.ceil(len("hello world") / 4) + math.ceil(len("another text") / 4)
    assert (as_float.usage.prompt_tokens, as_float.usage.total_tokens) == (tokens, tokens)


def test_embeddings_base64_wire_format_and_dimensions(fp: FakeProvider) -> None:
    # Plain HTTP, to see the wire format itself rather than what the SDK decodes.
    status, body = control(fp, "POST", "/v1/embeddings", {"model": "m", "input": "x", "dimensions": 16})
    assert status == 200 and len(body["data"][0]["embedding"]) == 16
    status, b64 = control(
        fp,
        "POST",
        "/v1/embeddings",
        {"model": "m", "input": "x", "dimensions": 16, "encoding_format": "base64"},
    )
    decoded = struct.unpack("<16f", base64.b64decode(b64["data"][0]["embedding"]))
    assert list(decoded) == body["data"][0]["embedding"]


def test_embeddings_token_arrays(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="m", input=[[1, 2, 3], [4, 5]], encoding_format="float")
    assert len(result.data) == 2
    assert result.usage.prompt_tokens == 5


def test_models_list(client: openai.OpenAI) -> None:
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]


# --- faults ----------------------------------------------------------------------------------------------


def test_429_with_retry_after_raises_rate_limit_error(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(status=429, retry_after="1", retry_after_ms="1500", should_retry="false"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    headers = caught.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"], headers["x-should-retry"]) == (
        "1",
        "1500",
        "false",
    )
    assert caught.value.body == {
        "message": "Injected fault: HTTP 429 Too Many Requests.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    # One-shot by default: the next call succeeds.
    assert client.chat.completions.create(model=MODEL, messages=user("hi")).choices


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (529, openai.InternalServerError),
    ],
)
def test_error_status_maps_to_sdk_exception(
    fp: FakeProvider, client: openai.OpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    fp.add_fault(Fault(status=status))
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict) and set(caught.value.body) == {
        "message",
        "type",
        "param",
        "code",
    }


def test_fault_body_override(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(status=400, body={"error": {"message": "context too long", "code": "context_length"}}))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert caught.value.body == {"message": "context too long", "code": "context_length"}


def test_drop_connection_raises_connection_error(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(drop_connection=True))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=MODEL, messages=user("hi"))


def test_cut_stream_raises_after_exactly_n_chunks(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(cut_stream_after=3))
    received = []
    stream = client.chat.completions.create(
        model=MODEL, messages=user("a long enough answer here"), stream=True
    )
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3


def test_cut_responses_stream(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(cut_stream_after=5))
    received = []
    with pytest.raises(openai.APIConnectionError):
        for event in client.responses.create(model="gpt-4o", input="a long enough answer", stream=True):
            received.append(event.type)
    assert len(received) == 5 and "response.completed" not in received


def test_delay_and_chunk_delay(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(delay=0.3))
    started = time.monotonic()
    client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert time.monotonic() - started >= 0.25

    fp.add_fault(Fault(chunk_delay=0.05))
    started = time.monotonic()
    arrivals = [
        time.monotonic()
        for _ in client.chat.completions.create(model=MODEL, messages=user("a b c"), stream=True)
    ]
    assert len(arrivals) >= 5
    assert arrivals[-1] - started >= 0.8 * 0.05 * (len(arrivals) - 1)


def test_fault_matching_by_model_times_and_order(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(status=500), times=2, model="gpt-4o")
    fp.add_fault(Fault(status=429), model="gpt-4o")

    def outcome(model: str) -> int:
        try:
            client.chat.completions.create(model=model, messages=user("hi"))
        except openai.APIStatusError as error:
            return error.status_code
        return 200

    assert [outcome(MODEL), outcome("gpt-4o"), outcome("gpt-4o"), outcome("gpt-4o"), outcome("gpt-4o")] == [
        200,
        500,
        500,
        429,
        200,
    ]


def test_fault_forever_and_by_path(fp: FakeProvider, client: openai.OpenAI) -> None:
    fp.add_fault(Fault(status=503), times=None, path="/v1/embeddings")
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            client.embeddings.create(model="m", input="x")
    assert client.chat.completions.create(model=MODEL, messages=user("hi")).choices
    fp.reset()
    assert client.embeddings.create(model="m", input="x").data


def test_fault_header_forms(fp: FakeProvider, client: openai.OpenAI) -> None:
    def call(fault: str, **kwargs: Any) -> Any:
        return client.chat.completions.create(
            model=MODEL, messages=user("some words here"), extra_headers={"x-fake-fault": fault}, **kwargs
        )

    fp.add_fault(Fault(status=500))
    with pytest.raises(openai.RateLimitError) as caught:
        call("status=429;retry_after=1")
    assert caught.value.response.headers["retry-after"] == "1"
    with pytest.raises(openai.AuthenticationError):
        call("401")
    with pytest.raises(openai.APIConnectionError):
        call("drop")
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in call("cut-stream-after=2", stream=True):
            received.append(chunk)
    assert len(received) == 2
    started = time.monotonic()
    call("delay=0.2")
    assert time.monotonic() - started >= 0.15
    with pytest.raises(openai.BadRequestError, match="x-fake-fault"):
        call("status=abc")
    # Header faults leave the queued fault in place.
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=user("hi"))


def test_control_endpoints(fp: FakeProvider, client: openai.OpenAI) -> None:
    assert control(fp, "GET", "/_fake/health") == (200, {"ok": True})
    status, _ = control(
        fp, "POST", "/_fake/faults", {"fault": {"status": 503}, "times": 2, "model": "gpt-4o"}
    )
    assert status == 200
    assert (
        control(fp, "POST", "/_fake/scripts", {"reply": {"text": "from control"}, "model": MODEL})[0] == 200
    )

    assert client.chat.completions.create(model=MODEL, messages=user("hi")).choices[0].message.content == (
        "from control"
    )
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert client.chat.completions.create(model="gpt-4o", messages=user("hi")).choices

    status, recorded = control(fp, "GET", "/_fake/requests")
    assert status == 200
    assert [r["model"] for r in recorded] == [MODEL, "gpt-4o", "gpt-4o", "gpt-4o"]
    assert recorded[0]["path"] == CHAT and recorded[0]["body"]["messages"] == user("hi")
    assert fp.request_count() == 4

    assert control(fp, "POST", "/_fake/faults", {"fault": {"colour": "red"}})[0] == 400
    assert control(fp, "POST", "/_fake/nope", {})[0] == 404
    assert control(fp, "POST", "/_fake/reset") == (200, {"ok": True})
    assert fp.request_count() == 0


def test_requests_are_recorded(fp: FakeProvider, client: openai.OpenAI) -> None:
    client.chat.completions.create(model=MODEL, messages=user("first"))
    client.embeddings.create(model="m", input="x")
    client.chat.completions.create(model=MODEL, messages=user("second"))
    requests = fp.requests
    assert [r.path for r in requests] == [CHAT, "/v1/embeddings", CHAT]
    assert fp.request_count(CHAT) == 2 and fp.request_count() == 3
    first = requests[0]
    assert first.method == "POST"
    assert first.headers["authorization"] == first.headers["AUTHORIZATION"] == "Bearer test"
    assert "Content-Type" in first.headers
    assert first.body["messages"] == user("first") and first.model == MODEL
    assert requests[0].time <= requests[1].time <= requests[2].time

    requests.clear()  # a snapshot: the server's record is unaffected
    assert fp.request_count() == 3
    fp.add_fault(Fault(status=500))
    fp.script("never seen")
    fp.reset()
    assert fp.requests == []
    assert client.chat.completions.create(model=MODEL, messages=user("x")).choices[0].message.content == (
        "Fake answer to: x"
    )


def test_unknown_path_and_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.get("/nothing/here", cast_to=object)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[])


# --- async client ----------------------------------------------------------------------------------------


async def test_async_client_json_stream_and_faults(fp: FakeProvider, aclient: openai.AsyncOpenAI) -> None:
    completion = await aclient.chat.completions.create(model=MODEL, messages=user("async hi"))
    assert completion.choices[0].message.content == "Fake answer to: async hi"

    stream = await aclient.chat.completions.create(
        model=MODEL, messages=user("async hi"), stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == prompt_tokens("async hi")

    fp.add_fault(Fault(status=429, retry_after="2"))
    with pytest.raises(openai.RateLimitError) as caught:
        await aclient.chat.completions.create(model=MODEL, messages=user("x"))
    assert caught.value.response.headers["retry-after"] == "2"

    fp.add_fault(Fault(cut_stream_after=2))
    received = []
    stream = await aclient.chat.completions.create(model=MODEL, messages=user("a b c d"), stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 2


# --- lifecycle and CLI -----------------------------------------------------------------------------------


def test_only_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeProvider(host="0.0.0.0")
    assert cli_main(["--host", "192.168.1.1"]) == 2


def test_stop_does_not_hang_on_inflight_delay() -> None:
    provider = FakeProvider().start()
    assert provider.base_url.startswith("http://127.0.0.1:")
    provider.add_fault(Fault(delay=30))
    errors: list[BaseException] = []

    def slow_call() -> None:
        with openai.OpenAI(api_key="test", base_url=provider.openai_base_url, max_retries=0, timeout=20) as c:
            try:
                c.chat.completions.create(model=MODEL, messages=user("hi"))
            except openai.APIError as error:
                errors.append(error)

    caller = threading.Thread(target=slow_call)
    caller.start()
    deadline = time.monotonic() + 5
    while provider.request_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    provider.stop()
    assert time.monotonic() - started < 3
    caller.join(5)
    assert not caller.is_alive()
    assert errors and isinstance(errors[0], openai.APIConnectionError)
    provider.stop()  # idempotent


def test_cli_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_agentops.fake_provider", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line_holder: list[str] = []
        reader = threading.Thread(target=lambda: line_holder.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(15)
        assert line_holder, "the CLI did not announce its address"
        found = re.fullmatch(r"fake provider listening on (http://127\.0\.0\.1:(\d+))\n", line_holder[0])
        assert found and int(found.group(2)) > 0
        with openai.OpenAI(api_key="test", base_url=found.group(1) + "/v1", max_retries=0, timeout=5) as c:
            assert c.chat.completions.create(model=MODEL, messages=user("cli")).choices[
                0
            ].message.content == ("Fake answer to: cli")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_keep_alive_requests_do_not_wait_for_delayed_acks(fake_provider):
    """Regression: with Nagle on, each keep-alive request took ~40 ms (the client's delayed ACK)."""
    import statistics
    import time

    import openai

    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0)
    llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "warm up"}])
    durations = []
    for _ in range(9):
        start = time.perf_counter()
        llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        durations.append(time.perf_counter() - start)
    assert statistics.median(durations) < 0.035
