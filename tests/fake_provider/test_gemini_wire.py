"""The fake provider's Gemini API wire format, through the real `google-genai` SDK and raw HTTP (no mocks)."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import errors, types

from otel_agentops.fake_provider import FakeProvider, Fault, Reply, ToolCall

MODEL = "gemini-2.0-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={
            "city": types.Schema(type=types.Type.STRING),
            "days": types.Schema(type=types.Type.INTEGER),
        },
        required=["city", "days"],
    ),
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake(server: FakeProvider) -> Iterator[FakeProvider]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def llm(fake: FakeProvider) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.gemini_base_url))


def post(fake: FakeProvider, path: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        fake.base_url + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_generate_content_default_answer_and_usage(fake, llm):
    result = llm.models.generate_content(
        model=MODEL,
        contents="Hello there",
        config=types.GenerateContentConfig(system_instruction="Be brief."),
    )
    assert result.text == "Fake answer to: Hello there"
    assert result.model_version == MODEL
    assert result.response_id == "gemini-fake000001"
    usage = result.usage_metadata
    assert usage.prompt_token_count == math.ceil(len("Be brief.Hello there") / 4) + 6
    assert usage.candidates_token_count == 5
    assert usage.total_token_count == usage.prompt_token_count + 5
    [request] = fake.requests
    assert (request.path, request.model) == (GENERATE, MODEL)
    assert request.headers["x-goog-api-key"] == "test-key"


def test_scripted_usage_cached_and_thinking(fake, llm):
    fake.script(Reply(text="ok", input_tokens=100, output_tokens=30, cached_tokens=60, reasoning_tokens=20))
    usage = llm.models.generate_content(model=MODEL, contents="x").usage_metadata
    assert usage.prompt_token_count == 100  # the cached tokens are part of the prompt count
    assert usage.cached_content_token_count == 60
    assert (usage.candidates_token_count, usage.thoughts_token_count) == (10, 20)
    assert usage.total_token_count == 130


def test_function_call_from_gemini_schema(fake, llm):
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    result = llm.models.generate_content(model=MODEL, contents="Weather in Oslo?", config=config)
    [call] = result.function_calls
    assert (call.name, call.args, call.id) == ("get_weather", {"city": "Weather in Oslo?", "days": 1}, None)
    assert result.candidates[0].finish_reason == types.FinishReason.STOP


def test_function_calling_mode_none_offers_no_tool(fake, llm):
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="NONE")),
    )
    result = llm.models.generate_content(model=MODEL, contents="Weather?", config=config)
    assert result.function_calls is None
    assert result.text == "Fake answer to: Weather?"


def test_function_response_turn_is_a_tool_result(fake, llm):
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args={"c": 1})]),
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="get_weather", response={"t": 20})]
        ),
    ]
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    result = llm.models.generate_content(model=MODEL, contents=contents, config=config)
    assert result.text == 'Based on the tool result: {"t":20}'


def test_stream_events(fake, llm):
    fake.script(Reply(text="one two three", input_tokens=12, output_tokens=3, cached_tokens=4))
    chunks = list(llm.models.generate_content_stream(model=MODEL, contents="x"))
    assert [chunk.text for chunk in chunks] == ["one ", "two ", "three"]
    assert [chunk.candidates[0].finish_reason for chunk in chunks] == [None, None, types.FinishReason.STOP]
    assert [chunk.usage_metadata.candidates_token_count for chunk in chunks] == [None, None, 3]
    assert {chunk.usage_metadata.prompt_token_count for chunk in chunks} == {12}
    assert {chunk.usage_metadata.cached_content_token_count for chunk in chunks} == {4}
    [request] = fake.requests
    assert (request.path, request.query) == (f"/v1beta/models/{MODEL}:streamGenerateContent", "alt=sse")


def test_stream_function_call_arrives_whole(fake, llm):
    fake.script(Reply(tool_calls=(ToolCall("get_weather", {"city": "Oslo"}, id="fc-9"),)))
    chunks = list(llm.models.generate_content_stream(model=MODEL, contents="x"))
    [chunk] = chunks
    assert [(c.name, c.args, c.id) for c in chunk.function_calls] == [
        ("get_weather", {"city": "Oslo"}, "fc-9")
    ]


def test_max_output_tokens_cuts_the_answer(fake, llm):
    config = types.GenerateContentConfig(max_output_tokens=2)
    result = llm.models.generate_content(model=MODEL, contents="Hello there", config=config)
    assert result.text == "Fake answer"
    assert result.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_embed_content(fake, llm):
    result = llm.models.embed_content(
        model="gemini-embedding-001",
        contents=["a", "b"],
        config=types.EmbedContentConfig(output_dimensionality=3),
    )
    vectors = [embedding.values for embedding in result.embeddings]
    assert [len(vector) for vector in vectors] == [3, 3]
    assert vectors[0] != vectors[1]
    assert fake.requests[0].path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert fake.requests[0].model == "gemini-embedding-001"


def test_single_embed_content_and_count_tokens_raw(fake):
    status, _, body = post(
        fake, "/v1beta/models/gemini-embedding-001:embedContent", {"content": {"parts": [{"text": "abcd"}]}}
    )
    assert status == 200
    reply = json.loads(body)
    assert len(reply["embedding"]["values"]) == 8
    assert reply["usageMetadata"] == {"promptTokenCount": 1}
    status, _, body = post(
        fake, f"/v1/models/{MODEL}:countTokens", {"contents": [{"role": "user", "parts": [{"text": "abcd"}]}]}
    )
    assert (status, json.loads(body)) == (200, {"totalTokens": 4})


def test_count_tokens_uses_no_script(fake, llm):
    fake.script("scripted")
    assert llm.models.count_tokens(model=MODEL, contents="abcd").total_tokens == 4
    assert llm.models.generate_content(model=MODEL, contents="x").text == "scripted"


@pytest.mark.parametrize(
    ("status", "google_status", "exception"),
    [
        (429, "RESOURCE_EXHAUSTED", errors.ClientError),
        (400, "INVALID_ARGUMENT", errors.ClientError),
        (500, "INTERNAL", errors.ServerError),
        (503, "UNAVAILABLE", errors.ServerError),
    ],
)
def test_fault_error_shape(fake, llm, status, google_status, exception):
    fake.add_fault(Fault(status=status, retry_after="2"), model=MODEL)
    with pytest.raises(exception) as raised:
        llm.models.generate_content(model=MODEL, contents="x")
    assert (raised.value.code, raised.value.status) == (status, google_status)
    assert raised.value.details == {
        "error": {"code": status, "message": raised.value.message, "status": google_status}
    }
    assert raised.value.response.headers["retry-after"] == "2"


def test_invalid_requests(fake):
    status, _, body = post(fake, GENERATE, {"contents": []})
    assert status == 400
    assert json.loads(body)["error"]["status"] == "INVALID_ARGUMENT"
    status, _, body = post(fake, GENERATE, {"contents": [{"role": "system", "parts": [{"text": "x"}]}]})
    assert status == 400
    status, _, _ = post(fake, f"/v1beta/models/{MODEL}:unknownAction", {})
    assert status == 404  # no route: the server's generic error body, no provider's shape
