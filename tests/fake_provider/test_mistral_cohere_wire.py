"""The fake provider's Mistral and Cohere v2 wire formats, through the real `mistralai` and `cohere` SDKs
(no instrumentation, no mocks): the shapes those SDKs parse, and what differs from OpenAI's."""

from __future__ import annotations

import json
import math
from typing import Any

import cohere
import mistralai
import pytest
from mistralai import Mistral

from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall
from otel_agentops.fake_provider.cohere import PREAMBLE_TOKENS

USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}
NO_RETRIES = {"max_retries": 0}


def prompt_tokens(*texts: str) -> int:
    """The documented formula: ceil(characters / 4) + 3 per message."""
    return math.ceil(sum(len(t) for t in texts) / 4) + 3 * len(texts)


@pytest.fixture
def mistral(fake_provider: FakeProvider) -> Mistral:
    return Mistral(api_key="test", server_url=fake_provider.mistral_server_url)


@pytest.fixture
def co(fake_provider: FakeProvider) -> Any:
    return cohere.ClientV2(api_key="test", base_url=fake_provider.cohere_base_url)


# ---------------------------------------------------------------- Mistral


def test_mistral_chat_json(fake_provider, mistral):
    reply = mistral.chat.complete(model="mistral-small-latest", messages=USER)
    assert reply.choices[0].message.content == "Fake answer to: Where is order ORD-1042?"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == prompt_tokens(USER[0]["content"])
    assert reply.usage.completion_tokens == 7  # words of the answer
    assert fake_provider.requests[0].path == "/mistral/v1/chat/completions"


def test_mistral_stream_always_ends_with_usage_and_done(fake_provider, mistral):
    fake_provider.script(Reply(text="a b c", input_tokens=9, output_tokens=3))
    events = list(mistral.chat.stream(model="mistral-small-latest", messages=USER))
    chunks = [event.data for event in events]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a b c"
    assert [c.usage is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].usage.prompt_tokens == 9
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_mistral_streamed_tool_call_arrives_whole(fake_provider, mistral):
    events = list(mistral.chat.stream(model="mistral-small-latest", messages=USER, tools=[TOOL]))
    deltas = [e.data.choices[0].delta for e in events if e.data.choices[0].delta.tool_calls]
    [delta] = deltas
    [call] = delta.tool_calls
    assert call.function.name == "lookup_order"
    assert json.loads(call.function.arguments) == {"order_id": "Where is order ORD-1042?"}
    assert len(call.id) == 9 and call.id.isalnum()
    assert events[-1].data.choices[0].finish_reason == "tool_calls"


def test_mistral_embeddings(fake_provider, mistral):
    reply = mistral.embeddings.create(model="mistral-embed", inputs=["abcd", "abcdefgh"], output_dimension=4)
    assert [len(d.embedding) for d in reply.data] == [4, 4]
    assert reply.usage.prompt_tokens == 3
    assert reply.usage.completion_tokens == 0


def test_mistral_error_shapes(fake_provider, mistral):
    fake_provider.add_fault(Fault(status=500))
    with pytest.raises(mistralai.models.SDKError) as raised:
        mistral.chat.complete(model="mistral-small-latest", messages=USER)
    assert json.loads(raised.value.body)["type"] == "internal_server_error"
    fake_provider.add_fault(Fault(status=422))
    with pytest.raises(mistralai.models.HTTPValidationError) as invalid:
        mistral.chat.complete(model="mistral-small-latest", messages=USER)
    assert invalid.value.data.detail[0].loc == ["body"]


# ---------------------------------------------------------------- Cohere


def test_cohere_chat_json_billed_and_model_tokens(fake_provider, co):
    reply = co.chat(model="command-r", messages=USER, request_options=NO_RETRIES)
    assert reply.message.content[0].text == "Fake answer to: Where is order ORD-1042?"
    assert reply.finish_reason == "COMPLETE"
    billed = prompt_tokens(USER[0]["content"])
    assert reply.usage.billed_units.input_tokens == billed
    assert reply.usage.tokens.input_tokens == billed + PREAMBLE_TOKENS
    assert reply.usage.billed_units.output_tokens == 7
    assert fake_provider.requests[0].path == "/v2/chat"


def test_cohere_stream_event_sequence(fake_provider, co):
    fake_provider.script(Reply(text="a b", input_tokens=4, output_tokens=2))
    events = list(co.chat_stream(model="command-r", messages=USER, request_options=NO_RETRIES))
    assert [e.type for e in events] == [
        "message-start",
        "content-start",
        "content-delta",
        "content-delta",
        "content-end",
        "message-end",
    ]
    assert events[-1].delta.finish_reason == "COMPLETE"
    assert events[-1].delta.usage.billed_units.input_tokens == 4


def test_cohere_tool_call_with_plan_streamed_and_not(fake_provider, co):
    fake_provider.script(Reply(tool_calls=(ToolCall("lookup_order", {"order_id": "X"}),)), times=2)
    reply = co.chat(model="command-r", messages=USER, tools=[TOOL], request_options=NO_RETRIES)
    assert reply.finish_reason == "TOOL_CALL"
    assert reply.message.tool_plan == "I will call lookup_order."
    assert reply.message.tool_calls[0].id.startswith("lookup_order_")
    events = list(co.chat_stream(model="command-r", messages=USER, tools=[TOOL], request_options=NO_RETRIES))
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    assert {"tool-plan-delta", "tool-call-start", "tool-call-delta", "tool-call-end"} <= set(kinds)
    arguments = "".join(
        e.delta.message.tool_calls.function.arguments for e in events if e.type == "tool-call-delta"
    )
    assert json.loads(arguments) == {"order_id": "X"}


def test_cohere_tool_choice_none_answers_with_text(fake_provider, co):
    reply = co.chat(
        model="command-r", messages=USER, tools=[TOOL], tool_choice="NONE", request_options=NO_RETRIES
    )
    assert reply.finish_reason == "COMPLETE"


def test_cohere_tool_results_are_prompt_text(fake_provider, co):
    messages = [
        *USER,
        {
            "role": "assistant",
            "tool_plan": "Looking it up.",
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "lookup_order", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "document", "document": {"data": "ok"}}]},
    ]
    reply = co.chat(model="command-r", messages=messages, tools=[TOOL], request_options=NO_RETRIES)
    assert reply.message.content[0].text == "Based on the tool result: ok"


def test_cohere_embed_types_and_dimensions(fake_provider, co):
    reply = co.embed(
        model="embed-v4.0",
        texts=["abcd"],
        input_type="search_document",
        embedding_types=["float", "int8"],
        output_dimension=4,
        request_options=NO_RETRIES,
    )
    assert len(reply.embeddings.float_[0]) == 4
    assert all(-128 <= v <= 127 for v in reply.embeddings.int8[0])
    assert reply.meta.billed_units.input_tokens == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, cohere.BadRequestError),
        (429, cohere.TooManyRequestsError),
        (500, cohere.InternalServerError),
        (503, cohere.ServiceUnavailableError),
    ],
)
def test_cohere_errors(status, error, fake_provider, co):
    fake_provider.add_fault(Fault(status=status, retry_after="1"))
    with pytest.raises(error) as raised:
        co.chat(model="command-r", messages=USER, request_options=NO_RETRIES)
    assert set(raised.value.body) == {"id", "message"}
    assert raised.value.headers["retry-after"] == "1"


def test_cohere_bad_request_from_the_wire(fake_provider, co):
    with pytest.raises(cohere.BadRequestError) as raised:
        co.chat(model="command-r", messages=[], request_options=NO_RETRIES)
    assert "messages" in raised.value.body["message"]
