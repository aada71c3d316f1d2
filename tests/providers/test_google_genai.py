"""google-genai against the fake Gemini API: spans and metrics, exactly, for every API, sync and async."""

from __future__ import annotations

import gc
import json
from collections import Counter
from pathlib import Path

import aiohttp
import httpx
import pytest
from gemini_helpers import (
    EMBEDDING_MODEL,
    EXPECTED,
    GENERATE,
    KINDS,
    MODEL,
    PROMPT,
    TIERED_MODEL,
    base_attributes,
    client,
    close,
    drain,
    invoke,
    models,
    pop_base,
    price,
)
from genai_asserts import (
    assert_abandoned,
    assert_error_metric,
    content,
    next_item,
    one_ok_span,
    pop_ttfc,
    read_until_error,
    tool_call_counts,
)
from google import genai
from google.genai import errors, types
from support.instrumented import json_spans, run_instrumented

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import AsyncStreamProxy, SyncStreamProxy
from otel_agentops.providers import google_genai as google_provider

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
LOOKUP = types.FunctionDeclaration(
    name="lookup_order",
    description="Find an order",
    parameters_json_schema={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)
SEARCH = types.FunctionDeclaration(
    name="search_docs",
    description="Search the docs",
    parameters_json_schema={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)
TOOLS = [types.Tool(function_declarations=[LOOKUP, SEARCH])]
# A stream cut mid-body: httpx (sync) and aiohttp (async) raise their own errors; the SDK wraps neither.
CUT_ERRORS = {"sync": (httpx.RemoteProtocolError, "httpx.RemoteProtocolError")}
CUT_ERRORS["async"] = (aiohttp.ClientPayloadError, "aiohttp.ClientPayloadError")

# google-genai's async client does not release the aiohttp response of a request that failed (a 429 the
# retry policy then repeats): aiohttp warns from ClientResponse.__del__ whenever the garbage collector gets
# to it. That is the SDK's (an app sees it too); collecting at the end of each test keeps the warning in
# the test that caused it, where it is ignored, instead of failing whichever test runs next.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function ClientResponse.__del__:pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(autouse=True)
def _collect_sdk_leftovers():
    yield
    gc.collect()


@pytest.fixture
def llm(fake_provider):
    return client(fake_provider)


async def _generate(kind, llm, stream=False, **kwargs):
    api = models(llm, kind)
    method = api.generate_content_stream if stream else api.generate_content
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("contents", PROMPT)
    return await invoke(method, **kwargs)


# ---------------------------------------------------------------- generate_content


@pytest.mark.parametrize("kind", KINDS)
async def test_generate_content(kind, fake_provider, llm, instrumented):
    fake_provider.script(
        Reply(text="It shipped yesterday.", input_tokens=120, output_tokens=7, cached_tokens=40)
    )
    config = types.GenerateContentConfig(
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        max_output_tokens=256,
        stop_sequences=["END"],
        seed=7,
        presence_penalty=0.1,
        frequency_penalty=0.3,
        system_instruction="Be brief.",
    )

    result = await _generate(kind, llm, config=config)

    assert type(result) is types.GenerateContentResponse
    assert result.text == "It shipped yesterday."
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, operation=GENERATE)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_TOP_K) == 40
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 256
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.REQUEST_SEED) == 7
    assert attributes.pop(semconv.REQUEST_PRESENCE_PENALTY) == 0.1
    assert attributes.pop(semconv.REQUEST_FREQUENCY_PENALTY) == 0.3
    assert attributes.pop(semconv.RESPONSE_ID) == result.response_id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("STOP",)
    # promptTokenCount already includes the cached tokens: it is the input total as reported.
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 120
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 40
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(MODEL, 120, 7, cache_read=40), rel=1e-12)
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_generate_content_dict_config_and_json_output(kind, fake_provider, llm, instrumented):
    fake_provider.script(Reply(text='{"order":"ORD-1042"}', input_tokens=9, output_tokens=3))
    config = {"response_mime_type": "application/json", "candidate_count": 2, "max_output_tokens": 64}
    result = await _generate(kind, llm, model=f"models/{MODEL}", config=config)
    assert result.text == '{"order":"ORD-1042"}'
    span = instrumented.span()
    assert span.name == f"generate_content {MODEL}"  # the "models/" resource prefix is not the model name
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider)
    assert attributes.pop(semconv.OUTPUT_TYPE) == "json"
    assert attributes.pop(semconv.REQUEST_CHOICE_COUNT) == 2
    assert attributes.pop(semconv.REQUEST_MAX_TOKENS) == 64
    assert attributes.pop(semconv.RESPONSE_ID) == result.response_id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("STOP",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 9
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 3
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(MODEL, 9, 3), rel=1e-12)
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_generate_content_stream(kind, fake_provider, llm, instrumented):
    fake_provider.script(
        Reply(text="Your order is on its way", input_tokens=60, output_tokens=9, cached_tokens=20)
    )
    stream = await _generate(kind, llm, stream=True)
    assert instrumented.spans() == []  # not ended before the stream is consumed
    chunks = await drain(stream)

    assert "".join(chunk.text for chunk in chunks) == "Your order is on its way"
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, operation=GENERATE)
    assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.RESPONSE_ID) == chunks[0].response_id
    assert attributes.pop(semconv.RESPONSE_MODEL) == MODEL
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("STOP",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 60
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 9  # the last chunk's count
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 20
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(MODEL, 60, 9, cache_read=20), rel=1e-12)
    pop_ttfc(attributes, instrumented)
    assert attributes == {}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_metrics(kind, stream, fake_provider, llm, instrumented):
    fake_provider.script(Reply(text="ok fine", input_tokens=30, output_tokens=5, cached_tokens=10))
    result = await _generate(kind, llm, stream=stream)
    if stream:
        await drain(result)

    expected = {**base_attributes(fake_provider), semconv.RESPONSE_MODEL: MODEL}
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    tokens = {
        p.attributes[semconv.TOKEN_TYPE]: p for p in instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    }
    assert (tokens["input"].sum, tokens["output"].sum) == (30, 5)
    assert dict(tokens["input"].attributes) == {**expected, semconv.TOKEN_TYPE: "input"}
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price(MODEL, 30, 5, cache_read=10), rel=1e-12)
    assert dict(cost.attributes) == expected
    assert instrumented.metric_points(semconv.METRIC_ERRORS) == []
    assert len(instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)) == (1 if stream else 0)


@pytest.mark.parametrize("model", [MODEL, TIERED_MODEL])
@pytest.mark.parametrize("stream", [False, True])
async def test_cached_tokens_cost_matches_genai_prices(model, stream, fake_provider, llm, instrumented):
    """Cached tokens are priced once, at their cache rate: the same total as genai-prices computes."""
    fake_provider.script(Reply(text="cached", input_tokens=5000, output_tokens=300, cached_tokens=3000))
    result = await _generate("sync", llm, stream=stream, model=model)
    if stream:
        await drain(result)
    attributes = instrumented.span().attributes
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 5000
    assert attributes[semconv.USAGE_CACHE_READ_INPUT_TOKENS] == 3000
    expected = price(model, 5000, 300, cache_read=3000)
    assert attributes[semconv.USAGE_COST] == pytest.approx(expected, rel=1e-12)
    # And not the price of the 3000 cached tokens counted again on top of the 5000.
    assert expected < price(model, 8000, 300, cache_read=3000)


async def test_thinking_tokens_are_output_and_reasoning(fake_provider, llm, instrumented):
    fake_provider.script(
        Reply(text="thought about it", input_tokens=20, output_tokens=50, reasoning_tokens=47)
    )
    result = await _generate("sync", llm)
    assert (result.usage_metadata.candidates_token_count, result.usage_metadata.thoughts_token_count) == (
        3,
        47,
    )
    attributes = instrumented.span().attributes
    assert attributes[semconv.USAGE_OUTPUT_TOKENS] == 50  # thinking is billed as output
    assert attributes[semconv.USAGE_REASONING_OUTPUT_TOKENS] == 47
    assert attributes[semconv.USAGE_COST] == pytest.approx(price(MODEL, 20, 50), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
async def test_max_tokens_finish_reason(kind, fake_provider, llm, instrumented):
    config = types.GenerateContentConfig(max_output_tokens=2)
    result = await _generate(kind, llm, config=config)
    assert result.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert instrumented.span().attributes[semconv.RESPONSE_FINISH_REASONS] == ("MAX_TOKENS",)


def test_unpriced_model_is_flagged_not_zero(fake_provider, llm, instrumented):
    llm.models.generate_content(model="gemini-local-finetune", contents=PROMPT)
    span = instrumented.span()
    assert span.attributes[semconv.COST_UNPRICED] is True
    assert semconv.USAGE_COST not in span.attributes


# ---------------------------------------------------------------- function calls


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_function_calls(kind, stream, fake_provider, llm, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(
                ToolCall("lookup_order", {"q": "ORD-1042"}, id="fc-1"),
                ToolCall("search_docs", {"q": "returns"}, id="fc-2"),
            ),
            input_tokens=50,
            output_tokens=20,
        )
    )
    config = types.GenerateContentConfig(tools=TOOLS)
    result = await _generate(kind, llm, stream=stream, config=config)
    calls = [call for chunk in await drain(result) for call in chunk.function_calls or ()] if stream else []
    calls = calls or result.function_calls
    assert [(call.name, call.args, call.id) for call in calls] == [
        ("lookup_order", {"q": "ORD-1042"}, "fc-1"),
        ("search_docs", {"q": "returns"}, "fc-2"),
    ]
    span = instrumented.span()
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("STOP",)
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order", "search_docs")
    assert span.attributes[semconv.RESPONSE_TOOL_CALL_IDS] == ("fc-1", "fc-2")
    assert semconv.TOOL_DEFINITIONS not in span.attributes  # no content without opt-in
    assert tool_call_counts(instrumented) == {"lookup_order": 1, "search_docs": 1}
    origins = {
        p.attributes[semconv.TOOL_CALL_ORIGIN] for p in instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    }
    assert origins == {"requested"}


async def test_function_calls_without_ids(fake_provider, llm, instrumented):
    """The Gemini API usually sends no function-call id: names are counted, no ids are made up."""
    config = types.GenerateContentConfig(tools=TOOLS)
    result = await _generate("sync", llm, contents="search_docs for returns", config=config)
    assert [call.name for call in result.function_calls] == ["search_docs"]
    assert result.function_calls[0].id is None
    attributes = instrumented.span().attributes
    assert attributes[semconv.REQUEST_TOOL_CALLS] == ("search_docs",)
    assert semconv.RESPONSE_TOOL_CALL_IDS not in attributes


@pytest.mark.parametrize("kind", KINDS)
async def test_automatic_function_calling_one_span_per_request(kind, fake_provider, llm, instrumented):
    """The SDK runs Python tools itself between requests: one span per request, the tool run once."""
    ran = []

    def lookup_order(q: str) -> dict:
        """Find an order."""
        ran.append(q)
        return {"status": "shipped"}

    # The SDK converts arguments by annotation; this module's postponed annotations are strings.
    lookup_order.__annotations__ = {"q": str, "return": dict}

    result = await _generate(kind, llm, config=types.GenerateContentConfig(tools=[lookup_order]))
    assert result.text.startswith("Based on the tool result:")
    assert ran == [PROMPT]
    assert fake_provider.request_count() == 2
    first, second = sorted(instrumented.spans(), key=lambda span: span.start_time)
    assert first.attributes[semconv.REQUEST_TOOL_CALLS] == ("lookup_order",)
    assert semconv.REQUEST_TOOL_CALLS not in second.attributes
    assert second.attributes[semconv.USAGE_INPUT_TOKENS] > first.attributes[semconv.USAGE_INPUT_TOKENS]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("fault", "exception", "error_type", "status"),
    [
        (Fault(status=429, retry_after="7"), errors.ClientError, "google.genai.errors.ClientError", 429),
        (Fault(status=500), errors.ServerError, "google.genai.errors.ServerError", 500),
        (Fault(status=400), errors.ClientError, "google.genai.errors.ClientError", 400),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_errors(kind, stream, fault, exception, error_type, status, fake_provider, llm, instrumented):
    fake_provider.add_fault(fault)

    with pytest.raises(exception) as raised:
        result = await _generate(kind, llm, stream=stream)
        await drain(result)

    assert raised.value.code == status
    assert raised.value.status == google_status(status)  # the fake's error body has Google's shape
    if fault.retry_after:
        assert raised.value.response.headers["retry-after"] == "7"
    assert fake_provider.request_count() == 1  # the SDK does not retry without retry_options
    attributes = EXPECTED.span_attributes(instrumented, fake_provider, "ERROR", GENERATE)
    if stream:
        assert attributes.pop(semconv.REQUEST_STREAM) is True
    assert attributes.pop(semconv.ERROR_TYPE) == error_type
    assert attributes == {}  # no usage, and no cost claim, for a call that failed
    assert_error_metric(instrumented, base_attributes(fake_provider), error_type)
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == error_type


def google_status(code: int) -> str:
    return {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 400: "INVALID_ARGUMENT"}[code]


def test_dropped_connection(fake_provider, llm, instrumented):
    fake_provider.add_fault(Fault(drop_connection=True))
    with pytest.raises(httpx.RemoteProtocolError):
        llm.models.generate_content(model=MODEL, contents=PROMPT)
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "httpx.RemoteProtocolError"


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_midway(kind, fake_provider, llm, instrumented):
    fake_provider.script(Reply(text="one two three four five six", input_tokens=10, output_tokens=6))
    fake_provider.add_fault(Fault(cut_stream_after=2))
    exception, error_type = CUT_ERRORS[kind]
    stream = await _generate(kind, llm, stream=True)
    received = []
    with pytest.raises(exception):
        await read_until_error(stream, received)
    assert [chunk.text for chunk in received] == ["one ", "two "]
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    assert attributes[semconv.ERROR_TYPE] == error_type
    assert attributes[semconv.RESPONSE_ID] == received[0].response_id  # partial facts kept
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 10
    assert semconv.USAGE_OUTPUT_TOKENS not in attributes  # only the last event has the output count
    assert semconv.RESPONSE_FINISH_REASONS not in attributes


# ---------------------------------------------------------------- stream endings


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_drained_then_closed_ends_once(kind, fake_provider, llm, instrumented):
    stream = await _generate(kind, llm, stream=True)
    await drain(stream)
    await (stream.aclose() if kind == "async" else close(stream))
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] > 0


def test_stream_closed_early_sync(fake_provider, llm, instrumented):
    """The public generator closes ours (`yield from`): the span ends there, not as abandoned."""
    stream = llm.models.generate_content_stream(model=MODEL, contents=PROMPT)
    first = next(stream)
    assert instrumented.spans() == []
    stream.close()
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.RESPONSE_ID] == first.response_id
    assert semconv.USAGE_OUTPUT_TOKENS not in span.attributes  # the last event never came


def test_break_out_of_sync_stream(fake_provider, llm, instrumented):
    for _chunk in llm.models.generate_content_stream(model=MODEL, contents=PROMPT):
        break
    gc.collect()
    one_ok_span(instrumented)


async def test_break_out_of_async_stream_then_aclose(fake_provider, llm, instrumented):
    stream = await llm.aio.models.generate_content_stream(model=MODEL, contents=PROMPT)
    async for _chunk in stream:
        break
    assert instrumented.spans() == []
    await stream.aclose()
    one_ok_span(instrumented)


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_dropped_after_first_chunk_ends_cleanly(kind, fake_provider, llm, instrumented):
    """Dropping a generator closes it (Python's generator protocol): a normal end, exactly once."""
    stream = await _generate(kind, llm, stream=True)
    first = await next_item(stream)
    del stream
    gc.collect()
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.RESPONSE_ID] == first.response_id


async def test_inner_stream_never_read_is_abandoned(fake_provider, llm, instrumented):
    """Our one-request stream, collected unread without its public generator: flagged as abandoned."""
    inner = await llm.aio.models._generate_content_stream(model=MODEL, contents=PROMPT)
    del inner
    gc.collect()
    assert_abandoned(instrumented)


@pytest.mark.parametrize("kind", KINDS)
async def test_sdk_stream_is_our_proxy_underneath(kind, fake_provider, llm, instrumented):
    """What the patched one-request method returns is proxied; the app still gets the SDK's own generator."""
    api = models(llm, kind)
    inner = await invoke(api._generate_content_stream, model=MODEL, contents=PROMPT)
    assert isinstance(inner, AsyncStreamProxy if kind == "async" else SyncStreamProxy)
    await drain(inner)
    one_ok_span(instrumented)


# ---------------------------------------------------------------- chats


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_one_span_per_message(kind, fake_provider, llm, instrumented):
    chat = (llm.aio if kind == "async" else llm).chats.create(model=MODEL)
    first = await invoke(chat.send_message, message="Where is ORD-1042?")
    second = await invoke(chat.send_message, message="And ORD-7?")
    assert first.text and second.text
    assert fake_provider.request_count() == 2
    spans = sorted(instrumented.spans(), key=lambda span: span.start_time)
    assert [span.name for span in spans] == [f"generate_content {MODEL}"] * 2
    # The second request carries the history, so its prompt is longer.
    assert spans[1].attributes[semconv.USAGE_INPUT_TOKENS] > spans[0].attributes[semconv.USAGE_INPUT_TOKENS]


@pytest.mark.parametrize("kind", KINDS)
async def test_chat_stream_one_span(kind, fake_provider, llm, instrumented):
    chat = (llm.aio if kind == "async" else llm).chats.create(model=MODEL)
    chunks = await drain(await invoke(chat.send_message_stream, message="Where is ORD-1042?"))
    assert "".join(chunk.text for chunk in chunks) == "Fake answer to: Where is ORD-1042?"
    span = one_ok_span(instrumented)
    assert span.attributes[semconv.REQUEST_STREAM] is True
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("STOP",)


# ---------------------------------------------------------------- embeddings and non-LLM calls


@pytest.mark.parametrize("kind", KINDS)
async def test_embed_content(kind, fake_provider, llm, instrumented):
    api = models(llm, kind)
    result = await invoke(
        api.embed_content,
        model=EMBEDDING_MODEL,
        contents=["What is your name?", "Where is my order?"],
        config=types.EmbedContentConfig(output_dimensionality=4),
    )
    assert [len(embedding.values) for embedding in result.embeddings] == [4, 4]
    span = instrumented.span()
    assert span.name == f"embeddings {EMBEDDING_MODEL}"
    assert span.kind.name == "CLIENT"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, EMBEDDING_MODEL, "embeddings")
    assert attributes.pop(semconv.EMBEDDINGS_DIMENSION_COUNT) == 4
    # The Gemini API reports no token usage for embeddings: no tokens, and no cost claim either way.
    assert attributes == {}
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == base_attributes(fake_provider, EMBEDDING_MODEL, "embeddings")


def test_count_tokens_is_not_an_llm_call(fake_provider, llm, instrumented):
    result = llm.models.count_tokens(model=MODEL, contents=PROMPT)
    assert result.total_tokens > 0
    assert instrumented.spans() == []


def test_vertex_ai_client_provider_name(fake_provider, llm, instrumented):
    llm = genai.Client(
        vertexai=True, api_key="test-key", http_options=types.HttpOptions(base_url=fake_provider.base_url)
    )
    with pytest.raises(errors.ClientError):  # the fake serves the Gemini API's paths only
        llm.models.generate_content(model=MODEL, contents=PROMPT)
    attributes = instrumented.span().attributes
    assert attributes[semconv.PROVIDER_NAME] == "gcp.vertex_ai"
    assert attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attributes[semconv.ERROR_TYPE] == "google.genai.errors.ClientError"


def test_provider_name_follows_each_client_when_a_freed_clients_id_is_reused(fake_provider, instrumented):
    # CPython hands a freed object's address to the next object of its size: a cache keyed by the API
    # client's id() once named a Vertex AI client's spans gcp.gemini (seen in CI).
    options = types.HttpOptions(base_url=fake_provider.base_url)
    for _ in range(10):
        gemini = genai.Client(api_key="test-key", http_options=options)
        gemini.models.generate_content(model=MODEL, contents=PROMPT)
        del gemini
        gc.collect(1)  # the client sits in reference cycles; a young-generation pass frees it, cheaply
        vertex = genai.Client(vertexai=True, api_key="test-key", http_options=options)
        with pytest.raises(errors.ClientError):
            vertex.models.generate_content(model=MODEL, contents=PROMPT)
        del vertex
        gc.collect(1)
    names = [span.attributes[semconv.PROVIDER_NAME] for span in instrumented.spans()]
    assert names == ["gcp.gemini", "gcp.vertex_ai"] * 10


def test_provider_name_follows_the_api_clients_settings_not_its_identity(fake_provider, llm):
    # The deterministic form of the test above: one API client object, so one id(), whose settings change
    # between two calls. A cache keyed by id(api_client) would answer the second call with the first's.
    api_client = llm.models._api_client
    server = {semconv.SERVER_ADDRESS: "127.0.0.1", semconv.SERVER_PORT: fake_provider.port}
    assert google_provider._server(llm.models, None) == ("gcp.gemini", server)
    api_client.vertexai = True
    assert llm.models._api_client is api_client
    assert google_provider._server(llm.models, None) == ("gcp.vertex_ai", server)
    api_client.vertexai = False
    assert google_provider._server(llm.models, None) == ("gcp.gemini", server)


def test_default_endpoint_attributes():
    llm = genai.Client(api_key="test-key")
    provider, attributes = google_provider._server(llm.models, None)
    assert provider == "gcp.gemini"
    assert attributes == {
        semconv.SERVER_ADDRESS: "generativelanguage.googleapis.com",
        semconv.SERVER_PORT: 443,
    }


# ---------------------------------------------------------------- content capture (opt-in)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_content_capture(kind, stream, fake_provider, llm, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(
        Reply(text="It shipped.", tool_calls=(ToolCall("lookup_order", {"q": "x"}, id="c1"),))
    )
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Where is ORD-1042?")]),
        types.Content(
            role="model",
            parts=[
                types.Part(function_call=types.FunctionCall(id="c0", name="lookup_order", args={"q": "1"}))
            ],
        ),
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="lookup_order", response={"status": "shipped"})],
        ),
    ]
    config = types.GenerateContentConfig(
        system_instruction="You are a support agent.", tools=[types.Tool(function_declarations=[LOOKUP])]
    )
    result = await _generate(kind, llm, stream=stream, contents=contents, config=config)
    if stream:
        await drain(result)

    span = telemetry.span()
    assert content(span, semconv.SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "You are a support agent."}
    ]
    assert content(span, semconv.INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is ORD-1042?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c0", "name": "lookup_order", "arguments": {"q": "1"}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": None, "response": {"status": "shipped"}}],
        },
    ]
    assert content(span, semconv.TOOL_DEFINITIONS) == [
        {
            "type": "function",
            "name": "lookup_order",
            "description": "Find an order",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        }
    ]
    assert content(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "It shipped."},
                {"type": "tool_call", "id": "c1", "name": "lookup_order", "arguments": {"q": "x"}},
            ],
            "finish_reason": "STOP",
        }
    ]


async def test_content_capture_plain_string_prompt(fake_provider, llm, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    await _generate("sync", llm, contents=["Hello", "there"])
    span = telemetry.span()
    assert content(span, semconv.INPUT_MESSAGES) == [
        {
            "role": "user",
            "parts": [{"type": "text", "content": "Hello"}, {"type": "text", "content": "there"}],
        }
    ]
    assert semconv.SYSTEM_INSTRUCTIONS not in span.attributes
    assert semconv.TOOL_DEFINITIONS not in span.attributes


# ---------------------------------------------------------------- failing open


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_broken_extractor_fails_open(kind, stream, fake_provider, llm, instrumented, monkeypatch):
    """An extractor that raises (e.g. after an SDK upgrade) must not change what the app gets."""

    def broken(*_args, **_kwargs):
        raise KeyError("extractor broke")

    monkeypatch.setattr(google_provider, "_apply_usage", broken)
    fake_provider.script(Reply(text="still fine", input_tokens=3, output_tokens=2))
    result = await _generate(kind, llm, stream=stream)
    text = "".join(chunk.text for chunk in await drain(result)) if stream else result.text
    assert text == "still fine"
    span = instrumented.span()  # still ended, exactly once
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


async def test_broken_request_extraction_fails_open(fake_provider, llm, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("request extraction broke")

    monkeypatch.setattr(google_provider, "_server", broken)
    result = llm.models.generate_content(model=MODEL, contents=PROMPT)
    assert result.text
    assert fake_provider.request_count() == 1
    assert instrumented.spans() == []  # no half-made span; the call itself went through


def test_uninstrumented_after_uninstrument(fake_provider, llm, instrumented):
    import otel_agentops

    otel_agentops.uninstrument()
    llm.models.generate_content(model=MODEL, contents=PROMPT)
    assert instrumented.spans() == []


# ---------------------------------------------------------------- under opentelemetry-instrument


def test_app_under_opentelemetry_instrument():
    """The distro finds the instrumentor by its entry point; an unchanged app gets one span per request."""
    env = {
        "OTEL_SERVICE_NAME": "google-genai-app",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    result = run_instrumented([str(ROOT / "tests" / "apps" / "google_genai_app.py")], env, ROOT)
    spans = json_spans(result.stdout)
    assert Counter(span["name"] for span in spans) == {
        f"generate_content {MODEL}": 6,
        f"embeddings {EMBEDDING_MODEL}": 1,
    }
    [report_line] = [line for line in result.stdout.splitlines() if line.startswith('{"google_genai_app"')]
    assert len(json.loads(report_line)["google_genai_app"]["requests"]) == 8  # + an embedding, a token count
    assert {span["status"]["status_code"] for span in spans} == {"UNSET"}  # the early break included
    [plain] = [span for span in spans if "gen_ai.request.max_tokens" in span["attributes"]]
    attributes = dict(plain["attributes"])
    assert isinstance(attributes.pop(semconv.SERVER_PORT), int)
    expected = {
        semconv.OPERATION_NAME: GENERATE,
        semconv.PROVIDER_NAME: "gcp.gemini",
        semconv.REQUEST_MODEL: MODEL,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.REQUEST_MAX_TOKENS: 256,
        semconv.RESPONSE_MODEL: MODEL,
        semconv.RESPONSE_FINISH_REASONS: ["STOP"],
    }
    for key, value in expected.items():
        assert attributes.pop(key) == value, key
    assert attributes.pop(semconv.RESPONSE_ID).startswith("gemini-fake")
    for key in (semconv.USAGE_INPUT_TOKENS, semconv.USAGE_OUTPUT_TOKENS, semconv.USAGE_COST):
        assert attributes.pop(key) > 0, key
    assert attributes == {}


# ---------------------------------------------------------------- policies see one request per call

RETRY = {"OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "4", "OTEL_AGENTOPS_RETRY_BASE_DELAY": "0.01"}


# The async client's errors carry an aiohttp response (`.status`, not `.status_code`): classify reads it.
@pytest.mark.parametrize(
    ("kind", "stream"), [("sync", False), ("sync", True), ("async", False), ("async", True)]
)
async def test_retry_policy_resends_the_request(kind, stream, fake_provider, llm, instrument):
    """Where the SDK sends the request inside the patched call, the retry policy sees its 429s."""
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=429), times=2)
    result = await _generate(kind, llm, stream=stream)
    text = "".join(chunk.text for chunk in await drain(result)) if stream else result.text
    assert text == f"Fake answer to: {PROMPT}"
    assert fake_provider.request_count() == 3
    span = one_ok_span(telemetry)
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 3
    events = [e for e in span.events if e.name == "agentops.retry"]
    assert [e.attributes[semconv.ERROR_TYPE] for e in events] == ["google.genai.errors.ClientError"] * 2
