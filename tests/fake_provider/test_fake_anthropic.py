"""The fake provider's Anthropic wire format, exercised through the real `anthropic` SDK (no mocks)."""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall

MODEL = "claude-haiku-4-5"
MESSAGES = "/v1/messages"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
SEARCH_TOOL = {
    "name": "search_docs",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
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
def client(fp: FakeProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=fp.anthropic_base_url, max_retries=0)


def test_message_json_text_and_usage(fp: FakeProvider, client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=100, system="Be brief.", messages=user("Where is ORD-1042?")
    )
    assert type(message) is anthropic.types.Message
    assert message.id == "msg_fake000001"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Fake answer to: Where is ORD-1042?"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == prompt_tokens("Be brief.", "Where is ORD-1042?")
    assert message.usage.output_tokens == 6  # words of the answer
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0
    assert message._request_id == "req_fake000001"
    [request] = fp.requests
    assert request.path == MESSAGES
    assert request.headers["anthropic-version"]
    assert request.model == MODEL


def test_system_blocks_and_content_blocks(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}],
            }
        ],
    )
    assert message.content[0].text == "Fake answer to: Hello there"
    assert message.usage.input_tokens == prompt_tokens("Be brief.", "Hello there")


def test_scripted_cache_tokens_are_reported_apart(fp: FakeProvider, client: anthropic.Anthropic) -> None:
    fp.script(
        Reply(text="cached", input_tokens=1000, output_tokens=3, cached_tokens=600, cache_creation_tokens=300)
    )
    usage = client.messages.create(model=MODEL, max_tokens=100, messages=user("hi")).usage
    # Anthropic's input_tokens excludes what was read from or written to the cache.
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (
        100,
        600,
        300,
    )
    assert usage.cache_creation.ephemeral_5m_input_tokens == 300
    assert usage.output_tokens == 3


def test_default_tool_use_then_answer_from_tool_result(client: anthropic.Anthropic) -> None:
    first = client.messages.create(
        model=MODEL, max_tokens=100, tools=[WEATHER_TOOL], messages=user("Weather in Paris?")
    )
    assert first.stop_reason == "tool_use"
    [tool_use] = first.content
    assert tool_use.type == "tool_use"
    assert tool_use.id.startswith("toolu_fake")
    assert tool_use.name == "get_weather"
    assert tool_use.input == {"city": "Weather in Paris?", "days": 1}
    second = client.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[
            *user("Weather in Paris?"),
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "Sunny, 21C"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "Based on the tool result: Sunny, 21C"
    arguments = json.dumps(tool_use.input, separators=(",", ":"))
    assert second.usage.input_tokens == prompt_tokens("Weather in Paris?", arguments, "Sunny, 21C")


def test_tool_named_in_prompt_and_tool_choice(client: anthropic.Anthropic) -> None:
    named = client.messages.create(
        model=MODEL, max_tokens=100, tools=[WEATHER_TOOL, SEARCH_TOOL], messages=user("please search_docs")
    )
    assert named.content[0].name == "search_docs"
    forced = client.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=user("please search_docs"),
    )
    assert forced.content[0].name == "get_weather"
    none = client.messages.create(
        model=MODEL, max_tokens=100, tools=[WEATHER_TOOL], tool_choice={"type": "none"}, messages=user("hi")
    )
    assert none.content[0].type == "text"


def test_max_tokens_truncates(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=2, messages=user("one two three"))
    assert message.content[0].text == "Fake answer"
    assert message.stop_reason == "max_tokens"


def test_stream_events_in_anthropic_order(fp: FakeProvider) -> None:
    fp.script(Reply(text="Sunny and warm", input_tokens=20, output_tokens=3, cached_tokens=5))
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{fp.base_url}{MESSAGES}",
            data=json.dumps(
                {"model": MODEL, "max_tokens": 10, "stream": True, "messages": user("hi")}
            ).encode(),
            headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
        )
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    frames = [frame for frame in body.split("\n\n") if frame]
    names = [frame.split("\n")[0].removeprefix("event: ") for frame in frames]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(frame.split("\n")[1].removeprefix("data: ")) for frame in frames]
    assert [d["type"] for d in data] == names
    start_usage = data[0]["message"]["usage"]
    assert (start_usage["input_tokens"], start_usage["cache_read_input_tokens"]) == (15, 5)
    assert data[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3},
    }


def test_stream_helper_reassembles_text_and_tool_input(fp: FakeProvider, client: anthropic.Anthropic) -> None:
    fp.script(Reply(text="Checking now", tool_calls=(ToolCall("get_weather", {"city": "Paris", "days": 2}),)))
    with client.messages.stream(
        model=MODEL, max_tokens=100, tools=[WEATHER_TOOL], messages=user("hi")
    ) as stream:
        deltas = [
            e.delta.partial_json
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        ]
        message = stream.get_final_message()
    assert len(deltas) > 2 and deltas[0] == ""  # the input arrives in pieces, none valid JSON alone
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Checking now"
    assert message.content[1].input == {"city": "Paris", "days": 2}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 2 + math.ceil(len('{"city":"Paris","days":2}') / 4)


async def test_async_stream(fp: FakeProvider) -> None:
    llm = anthropic.AsyncAnthropic(api_key="k", base_url=fp.anthropic_base_url, max_retries=0)
    stream = await llm.messages.create(model=MODEL, max_tokens=100, messages=user("hi there"), stream=True)
    text = "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
    assert text == "Fake answer to: hi there"
    await llm.close()


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (503, anthropic.ServiceUnavailableError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_error_shapes(status, exception, error_type, fp: FakeProvider, client: anthropic.Anthropic) -> None:
    fp.add_fault(Fault(status=status, retry_after="2"))
    with pytest.raises(exception) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    assert raised.value.status_code == status
    assert raised.value.type == error_type
    assert raised.value.body == {
        "type": "error",
        "error": {"type": error_type, "message": raised.value.api_message},
    }
    assert raised.value.response.headers["retry-after"] == "2"


def test_request_errors(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        client.post(MESSAGES, body={"model": MODEL, "messages": user("hi")}, cast_to=object)
    with pytest.raises(anthropic.BadRequestError, match="Unexpected role"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "system", "content": "x"}])


def test_drop_cut_and_header_faults(fp: FakeProvider, client: anthropic.Anthropic) -> None:
    fp.add_fault(Fault(drop_connection=True))
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    fp.add_fault(Fault(cut_stream_after=2))
    received = []
    with pytest.raises(httpx2.RemoteProtocolError):
        for event in client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"), stream=True):
            received.append(event.type)
    assert received == ["message_start", "content_block_start"]
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=user("hi"),
            extra_headers={"x-fake-fault": "429;retry_after=1"},
        )


def test_count_tokens_uses_no_script(fp: FakeProvider, client: anthropic.Anthropic) -> None:
    fp.script(Reply(text="for the next message"))
    count = client.messages.count_tokens(model=MODEL, system="Be brief.", messages=user("hello"))
    assert count.input_tokens == prompt_tokens("Be brief.", "hello")
    message = client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    assert message.content[0].text == "for the next message"


def test_models_list_told_apart_by_anthropic_version_header(
    fp: FakeProvider, client: anthropic.Anthropic
) -> None:
    models = client.models.list()
    assert [m.type for m in models.data] == ["model"] * len(models.data)
    assert "claude-haiku-4-5" in [m.id for m in models.data]
    openai_client = openai.OpenAI(api_key="sk-test", base_url=fp.openai_base_url, max_retries=0)
    assert "gpt-4o-mini" in [m.id for m in openai_client.models.list()]


def test_beta_messages(client: anthropic.Anthropic) -> None:
    message = client.beta.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    assert message.content[0].text == "Fake answer to: hi"
