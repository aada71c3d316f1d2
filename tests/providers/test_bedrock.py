"""AWS Bedrock through a real boto3 client against the fake provider: spans, metrics and streams, exactly.

boto3 has no async client, so every test here is synchronous.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from urllib.parse import unquote

import botocore.exceptions
import pytest
import wrapt
from bedrock_helpers import (
    ACCESS_KEY,
    APIS,
    INVOKE,
    MODEL,
    PROMPT,
    SECRET_KEY,
    STREAMING,
    TOOL_NAMES,
    anthropic_body,
    base_attributes,
    call,
    client,
    converse_kwargs,
    invoke_events,
    pop_base,
    pop_response,
    price,
    response_model,
    stream_of,
    text_of,
)
from botocore.eventstream import EventStream
from botocore.response import StreamingBody
from support.instrumented import json_spans, run_instrumented

import otel_agentops
from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv
from otel_agentops.genai.stream import SyncStreamProxy
from otel_agentops.providers import bedrock as bedrock_provider

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CACHED = Reply(
    text="It shipped yesterday.",
    input_tokens=120,
    output_tokens=7,
    cached_tokens=40,
    cache_creation_tokens=30,
)


# ---------------------------------------------------------------- successful calls, exact attributes


@pytest.mark.parametrize("api", APIS)
def test_success_exact_attributes(api, fake_provider, instrumented):
    fake_provider.script(CACHED)
    llm = client(fake_provider)

    response = call(llm, api)
    if api in STREAMING:
        assert isinstance(stream_of(api, response), SyncStreamProxy)
        assert isinstance(stream_of(api, response), EventStream)
        assert instrumented.spans() == []  # not ended before the stream is consumed
    assert text_of(api, response) == "It shipped yesterday."

    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind.name == "CLIENT"
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, api)
    pop_response(attributes, api)
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("end_turn",)
    # Semantic conventions: input tokens are the whole prompt, cache reads and writes included.
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 120
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 7
    assert attributes.pop(semconv.USAGE_CACHE_READ_INPUT_TOKENS) == 40
    assert attributes.pop(semconv.USAGE_CACHE_CREATION_INPUT_TOKENS) == 30
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(
        price(120, 7, cache_read=40, cache_write=30), rel=1e-12
    )
    assert attributes == {}
    if api in STREAMING:
        [first_chunk] = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
        assert first_chunk.sum == pytest.approx(span.attributes[semconv.RESPONSE_TIME_TO_FIRST_CHUNK])


def test_cached_tokens_are_not_counted_twice(fake_provider, instrumented):
    fake_provider.script(
        Reply(
            text="cached",
            input_tokens=5000,
            output_tokens=300,
            cached_tokens=3000,
            cache_creation_tokens=1500,
        )
    )
    response = call(client(fake_provider), "converse")
    assert response["usage"]["inputTokens"] == 500  # Bedrock reports the uncached part only
    attributes = instrumented.span().attributes
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 5000
    expected = price(5000, 300, cache_read=3000, cache_write=1500)
    assert attributes[semconv.USAGE_COST] == pytest.approx(expected, rel=1e-12)
    assert expected < price(9500, 300, cache_read=3000, cache_write=1500)


@pytest.mark.parametrize("api", ["converse", "invoke_model"])
def test_request_parameters(api, fake_provider, instrumented):
    fake_provider.script(Reply(text="ok", input_tokens=10, output_tokens=1))
    llm = client(fake_provider)
    if api == "converse":
        llm.converse(
            modelId=MODEL,
            messages=[{"role": "user", "content": [{"text": PROMPT}]}],
            system=[{"text": "Be brief."}],
            inferenceConfig={"maxTokens": 64, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
            additionalModelRequestFields={"top_k": 40},
        )
    else:
        body = anthropic_body(64, temperature=0.2, top_p=0.9, top_k=40, stop_sequences=["END"])
        llm.invoke_model(modelId=MODEL, body=body)
    attributes = dict(instrumented.span().attributes)
    pop_base(attributes, fake_provider, api, max_tokens=64)
    pop_response(attributes, api)
    assert attributes.pop(semconv.REQUEST_TEMPERATURE) == 0.2
    assert attributes.pop(semconv.REQUEST_TOP_P) == 0.9
    assert attributes.pop(semconv.REQUEST_TOP_K) == 40
    assert attributes.pop(semconv.REQUEST_STOP_SEQUENCES) == ("END",)
    assert attributes.pop(semconv.RESPONSE_FINISH_REASONS) == ("end_turn",)
    assert attributes.pop(semconv.USAGE_INPUT_TOKENS) == 10
    assert attributes.pop(semconv.USAGE_OUTPUT_TOKENS) == 1
    assert attributes.pop(semconv.USAGE_COST) == pytest.approx(price(10, 1), rel=1e-12)
    assert attributes == {}


def test_invoke_model_body_is_still_readable(fake_provider, instrumented):
    fake_provider.script(Reply(text="read me", input_tokens=3, output_tokens=2))
    response = call(client(fake_provider), "invoke_model")
    body = response["body"]
    assert isinstance(body, StreamingBody)
    assert body.read(5) == b'{"id"'  # read in pieces, as an app may
    message = json.loads(b'{"id"' + body.read())
    assert message["content"][0]["text"] == "read me"
    assert instrumented.span().attributes[semconv.USAGE_INPUT_TOKENS] == 3


@pytest.mark.parametrize("api", APIS)
def test_metrics(api, fake_provider, instrumented):
    fake_provider.script(Reply(text="ok", input_tokens=30, output_tokens=5, cached_tokens=10))
    text_of(api, call(client(fake_provider), api))

    expected = {
        k: v
        for k, v in base_attributes(fake_provider, api).items()
        if k not in (semconv.REQUEST_MAX_TOKENS, semconv.REQUEST_STREAM)
    }
    expected[semconv.RESPONSE_MODEL] = response_model(api)
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == expected
    assert duration.count == 1
    tokens = {
        p.attributes[semconv.TOKEN_TYPE]: p for p in instrumented.metric_points(semconv.METRIC_TOKEN_USAGE)
    }
    assert (tokens["input"].sum, tokens["output"].sum) == (30, 5)
    [cost] = instrumented.metric_points(semconv.METRIC_COST)
    assert cost.sum == pytest.approx(price(30, 5, cache_read=10), rel=1e-12)
    assert instrumented.metric_points(semconv.METRIC_ERRORS) == []
    ttfc = instrumented.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert len(ttfc) == (1 if api in STREAMING else 0)


@pytest.mark.parametrize("api", APIS)
def test_tool_use(api, fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(
                ToolCall("lookup_order", {"q": "ORD-1042"}),
                ToolCall("search_docs", {"q": "returns"}),
            ),
            input_tokens=50,
            output_tokens=20,
        )
    )
    response = call(client(fake_provider), api, tools=True)
    if api == "converse":
        uses = [b["toolUse"] for b in response["output"]["message"]["content"]]
        ids = tuple(use["toolUseId"] for use in uses)
        assert [use["input"] for use in uses] == [{"q": "ORD-1042"}, {"q": "returns"}]
    elif api == "converse_stream":
        events = list(response["stream"])
        ids = tuple(
            e["contentBlockStart"]["start"]["toolUse"]["toolUseId"]
            for e in events
            if "contentBlockStart" in e
        )
    elif api == "invoke_model":
        ids = tuple(block["id"] for block in json.loads(response["body"].read())["content"])
    else:
        events = invoke_events(response["body"])
        ids = tuple(e["content_block"]["id"] for e in events if e["type"] == "content_block_start")

    span = instrumented.span()
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert span.attributes[semconv.REQUEST_TOOL_CALLS] == TOOL_NAMES
    assert span.attributes[semconv.RESPONSE_TOOL_CALL_IDS] == ids
    assert len(set(ids)) == 2
    assert semconv.TOOL_DEFINITIONS not in span.attributes  # no content without opt-in
    counts = {
        (p.attributes[semconv.TOOL_NAME], p.attributes[semconv.TOOL_CALL_ORIGIN]): p.value
        for p in instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    }
    assert counts == {("lookup_order", "requested"): 1, ("search_docs", "requested"): 1}


@pytest.mark.parametrize("api", APIS)
def test_max_tokens_finish_reason(api, fake_provider, instrumented):
    text_of(api, call(client(fake_provider), api, max_tokens=2))
    assert instrumented.span().attributes[semconv.RESPONSE_FINISH_REASONS] == ("max_tokens",)


def test_unpriced_model_is_flagged_not_zero(fake_provider, instrumented):
    client(fake_provider).converse(modelId="acme.house-model-v1:0", **converse_kwargs())
    attributes = instrumented.span().attributes
    assert attributes[semconv.COST_UNPRICED] is True
    assert semconv.USAGE_COST not in attributes


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "ThrottlingException"), (500, "InternalServerException"), (400, "ValidationException")],
)
def test_errors(api, status, code, fake_provider, instrumented):
    fake_provider.add_fault(Fault(status=status))
    llm = client(fake_provider)

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(llm, api)

    assert type(raised.value) is getattr(llm.exceptions, code)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert fake_provider.request_count() == 1  # botocore's own retries are off in these tests
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes)
    pop_base(attributes, fake_provider, api)
    assert attributes.pop(semconv.ERROR_TYPE) == f"botocore.errorfactory.{code}"
    assert attributes == {}  # no usage, and no cost claim, for a call that failed
    [errors] = instrumented.metric_points(semconv.METRIC_ERRORS)
    assert errors.value == 1
    assert errors.attributes[semconv.ERROR_TYPE] == f"botocore.errorfactory.{code}"
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == f"botocore.errorfactory.{code}"


def test_route_error_has_bedrocks_header(fake_provider, instrumented):
    llm = client(fake_provider)
    with pytest.raises(llm.exceptions.ValidationException) as raised:
        llm.invoke_model(modelId=MODEL, body=json.dumps({"max_tokens": 5, "messages": []}))
    headers = raised.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert instrumented.span().attributes[semconv.ERROR_TYPE] == "botocore.errorfactory.ValidationException"


@pytest.mark.parametrize("api", APIS)
def test_dropped_connection(api, fake_provider, instrumented):
    fake_provider.add_fault(Fault(drop_connection=True))
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        call(client(fake_provider), api)
    attributes = instrumented.span().attributes
    assert attributes[semconv.ERROR_TYPE] == "botocore.exceptions.ConnectionClosedError"


@pytest.mark.parametrize("api", sorted(STREAMING))
def test_stream_cut_midway(api, fake_provider, instrumented):
    fake_provider.script(Reply(text="one two three four five six", input_tokens=10, output_tokens=6))
    fake_provider.add_fault(Fault(cut_stream_after=3))
    stream = stream_of(api, call(client(fake_provider), api))
    received = []
    with pytest.raises(Exception) as raised:
        for event in stream:
            received.append(event)
    assert len(received) == 3
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    attributes = span.attributes
    assert (
        attributes[semconv.ERROR_TYPE] == f"{type(raised.value).__module__}.{type(raised.value).__qualname__}"
    )
    assert semconv.RESPONSE_FINISH_REASONS not in attributes
    if api in INVOKE:  # message_start arrived: the partial facts are kept
        assert attributes[semconv.USAGE_INPUT_TOKENS] == 10


# ---------------------------------------------------------------- stream endings: exactly once


def _close(stream):
    stream.close()


def _stop_early(stream):
    next(iter(stream))
    stream.close()


def _drain_then_close(stream):
    list(stream)
    stream.close()


@pytest.mark.parametrize("api", sorted(STREAMING))
@pytest.mark.parametrize("ending", [_close, _stop_early, _drain_then_close])
def test_stream_ends_once(api, ending, fake_provider, instrumented):
    fake_provider.script(Reply(text="one two three", input_tokens=10, output_tokens=3))
    response = call(client(fake_provider), api)
    stream = stream_of(api, response)
    ending(stream)
    stream.close()  # closing again ends nothing twice
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.STREAM_ABANDONED not in span.attributes
    [duration] = instrumented.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1
    if ending is _drain_then_close:
        assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 3


@pytest.mark.parametrize("api", sorted(STREAMING))
def test_stream_never_read_is_abandoned(api, fake_provider, instrumented):
    response = call(client(fake_provider), api)
    del response
    gc.collect()
    span = instrumented.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.STREAM_ABANDONED] is True
    assert span.attributes[semconv.ERROR_TYPE] == "abandoned"


# ---------------------------------------------------------------- content capture and secrets


CONVERSATION = [
    {"role": "user", "content": [{"text": PROMPT}]},
    {
        "role": "assistant",
        "content": [
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "lookup_order", "input": {"q": "ORD-1042"}}},
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": "tooluse_1",
                    "content": [
                        {"text": '{"status":"shipped"}'},
                        {"json": {"eta": "Monday"}},
                        {"image": {"format": "png", "source": {"bytes": b"\x89PNG-not-on-the-span"}}},
                    ],
                }
            }
        ],
    },
]
EXPECTED_INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
    {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "Let me check."},
            {"type": "tool_call", "id": "tooluse_1", "name": "lookup_order", "arguments": {"q": "ORD-1042"}},
        ],
    },
    {
        "role": "user",
        "parts": [
            {
                "type": "tool_call_response",
                "id": "tooluse_1",
                "response": [
                    {"type": "text", "text": '{"status":"shipped"}'},
                    {"type": "json", "json": {"eta": "Monday"}},
                    {"type": "image"},
                ],
            }
        ],
    },
]


def _json(span, key):
    return json.loads(span.attributes[key])


@pytest.mark.parametrize("api", ["converse", "converse_stream"])
def test_converse_content_on_span(api, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday.", input_tokens=30, output_tokens=5))
    tools = converse_kwargs(tools=True)["toolConfig"]
    response = getattr(client(fake_provider), api)(
        modelId=MODEL, messages=CONVERSATION, system=[{"text": "Be brief."}], toolConfig=tools
    )
    assert text_of(api, response) == "It shipped on Monday."

    span = telemetry.span()
    assert _json(span, semconv.SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert _json(span, semconv.INPUT_MESSAGES) == EXPECTED_INPUT
    assert [tool["name"] for tool in _json(span, semconv.TOOL_DEFINITIONS)] == list(TOOL_NAMES)
    assert _json(span, semconv.TOOL_DEFINITIONS)[0]["parameters"] == {
        "type": "object",
        "properties": {"q": {"type": "string"}},
    }
    assert _json(span, semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped on Monday."}],
            "finish_reason": "end_turn",
        }
    ]


@pytest.mark.parametrize("api", ["converse", "converse_stream"])
def test_converse_tool_call_output_content(api, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(tool_calls=(ToolCall("lookup_order", {"q": "ORD-7"}, id="tooluse_9"),)))
    text_of(api, call(client(fake_provider), api, tools=True))
    assert _json(telemetry.span(), semconv.OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "tooluse_9", "name": "lookup_order", "arguments": {"q": "ORD-7"}}
            ],
            "finish_reason": "tool_use",
        }
    ]


@pytest.mark.parametrize("api", sorted(INVOKE))
def test_invoke_content_on_span(api, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="It shipped on Monday.", input_tokens=30, output_tokens=5))
    body = anthropic_body(system="Be brief.")
    text_of(api, getattr(client(fake_provider), api)(modelId=MODEL, body=body))
    span = telemetry.span()
    assert _json(span, semconv.SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]
    assert _json(span, semconv.INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    [message] = _json(span, semconv.OUTPUT_MESSAGES)
    assert message["parts"] == [{"type": "text", "content": "It shipped on Monday."}]
    assert message["finish_reason"] == "end_turn"


@pytest.mark.parametrize("api", APIS)
def test_no_content_and_no_credentials_on_span(api, fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_and_event"})
    text_of(api, call(client(fake_provider), api))
    [request] = fake_provider.requests
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY)  # SigV4 was sent
    exported = json.dumps([dict(s.attributes) for s in telemetry.spans()]) + repr(telemetry.log_records())
    for secret in (ACCESS_KEY, SECRET_KEY, authorization, "AWS4-HMAC-SHA256", "X-Amz-Date"):
        assert secret not in exported


def test_content_not_captured_without_opt_in(fake_provider, instrumented):
    client(fake_provider).converse(modelId=MODEL, messages=CONVERSATION, system=[{"text": "Be brief."}])
    attributes = instrumented.span().attributes
    for key in (semconv.INPUT_MESSAGES, semconv.OUTPUT_MESSAGES, semconv.SYSTEM_INSTRUCTIONS):
        assert key not in attributes


# ---------------------------------------------------------------- patching


def test_clients_created_before_and_after_instrumenting(fake_provider, telemetry):
    before = client(fake_provider)
    otel_agentops.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        after = client(fake_provider)
        call(before, "converse")
        call(after, "converse")
        assert len(telemetry.spans()) == 2
    finally:
        otel_agentops.uninstrument()
    call(before, "converse")
    call(client(fake_provider), "converse")
    assert len(telemetry.spans()) == 2  # uninstrumented: nothing more
    assert not isinstance(type(before).__dict__["converse"], wrapt.FunctionWrapper)


def test_other_aws_services_are_not_touched(fake_provider, instrumented):
    s3, agent = client(fake_provider, "s3"), client(fake_provider, "bedrock-agent-runtime")
    for other in (s3, agent):
        for name, method in type(other).__dict__.items():
            assert not isinstance(method, wrapt.FunctionWrapper), (
                name
            )  # botocore's own methods: no added cost
    runtime = type(client(fake_provider)).__dict__
    assert all(isinstance(runtime[name], wrapt.FunctionWrapper) for name in APIS)
    assert not isinstance(runtime["count_tokens"], wrapt.FunctionWrapper)  # not an LLM call


def test_not_an_llm_call_is_not_traced(fake_provider, instrumented):
    llm = client(fake_provider)
    with pytest.raises(botocore.exceptions.ClientError):
        llm.list_async_invokes()  # another bedrock-runtime operation: no route on the fake, no span
    assert instrumented.spans() == []


def test_broken_extractor_fails_open(fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("extractor broke")

    monkeypatch.setattr(bedrock_provider, "_converse_usage", broken)
    fake_provider.script(Reply(text="still fine", input_tokens=3, output_tokens=2))
    assert text_of("converse", call(client(fake_provider), "converse")) == "still fine"
    span = instrumented.span()
    assert span.status.status_code.name == "UNSET"
    assert semconv.USAGE_INPUT_TOKENS not in span.attributes


def test_broken_request_extraction_fails_open(fake_provider, instrumented, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("request extraction broke")

    monkeypatch.setattr(bedrock_provider, "_base_attributes", broken)
    assert text_of("converse_stream", call(client(fake_provider), "converse_stream"))
    assert fake_provider.request_count() == 1
    assert instrumented.spans() == []


# ---------------------------------------------------------------- policies


def test_fallback_model_is_sent_as_model_id(fake_provider, instrument):
    """The policy chain sees botocore's modelId as the model: per-model limits and fallbacks apply."""
    fallback = "amazon.nova-lite-v1:0"
    telemetry = instrument(
        OTEL_AGENTOPS_RATE_LIMIT_RPM="1",
        OTEL_AGENTOPS_RATE_LIMIT_MODE="raise",
        OTEL_AGENTOPS_FALLBACK_MODELS=f"{MODEL}>{fallback}",
    )
    llm = client(fake_provider)
    call(llm, "converse")  # uses up the first model's budget
    fake_provider.script(Reply(text="from the fallback", input_tokens=10, output_tokens=3))
    response = call(llm, "converse")
    assert text_of("converse", response) == "from the fallback"
    sent = [unquote(r.path.split("/")[2]) for r in fake_provider.requests]
    assert sent == [MODEL, fallback]
    first, second = telemetry.spans()
    assert semconv.FALLBACK_MODEL not in first.attributes
    assert second.name == f"chat {MODEL}"
    assert second.attributes[semconv.FALLBACK_MODEL] == fallback
    assert second.attributes[semconv.RESPONSE_MODEL] == fallback
    assert second.attributes[semconv.USAGE_COST] == pytest.approx(price(10, 3, model=fallback), rel=1e-12)


def test_sdk_retries_kept_when_our_retry_is_off(fake_provider, instrument):
    instrument()
    fake_provider.add_fault(Fault(status=429), times=None)
    llm = client(fake_provider, total_max_attempts=3, mode="standard")
    with pytest.raises(llm.exceptions.ThrottlingException):
        call(llm, "converse")
    assert fake_provider.request_count() == 3  # botocore's own three attempts, untouched


def test_sdk_retries_switched_off_when_our_retry_owns_the_budget(fake_provider, instrument):
    telemetry = instrument(OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="2", OTEL_AGENTOPS_RETRY_BASE_DELAY="0")
    fake_provider.add_fault(Fault(status=429), times=None)
    llm = client(fake_provider, total_max_attempts=3, mode="standard")
    with pytest.raises(llm.exceptions.ThrottlingException):
        call(llm, "converse")
    assert fake_provider.request_count() == 2  # ours only, never botocore's 3 attempts times ours
    span = telemetry.span()
    assert span.attributes[semconv.ERROR_TYPE] == "botocore.errorfactory.ThrottlingException"
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 2
    assert [e.name for e in span.events] == ["agentops.retry"]
    otel_agentops.uninstrument()
    fake_provider.reset()
    fake_provider.add_fault(Fault(status=429), times=None)
    with pytest.raises(llm.exceptions.ThrottlingException):
        call(llm, "converse")
    assert fake_provider.request_count() == 3  # uninstrumented: the client's own retries are back


def test_our_retry_recovers_a_throttled_call(fake_provider, instrument):
    telemetry = instrument(OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="3", OTEL_AGENTOPS_RETRY_BASE_DELAY="0")
    fake_provider.add_fault(Fault(status=429), times=1)
    fake_provider.add_fault(Fault(status=503), times=1)
    response = call(client(fake_provider, total_max_attempts=3, mode="standard"), "converse")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert fake_provider.request_count() == 3
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 3


# ---------------------------------------------------------------- zero-code, in a subprocess


def test_bedrock_app_under_opentelemetry_instrument():
    app = Path(__file__).resolve().parents[1] / "apps" / "bedrock_app.py"
    env = {
        "OTEL_SERVICE_NAME": "bedrock-app",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    result = run_instrumented([str(app)], env, app.parent)
    [report_line] = [line for line in result.stdout.splitlines() if line.startswith('{"bedrock_app"')]
    report = json.loads(report_line)["bedrock_app"]
    assert report["answers"][0] == f"Fake answer to: {PROMPT}"
    assert len(report["requests"]) == 5  # four model calls and the S3 call
    spans = json_spans(result.stdout)
    assert sorted(span["name"] for span in spans) == [f"chat {MODEL}"] * 4  # no span for S3
    by_stream = {
        (
            span["attributes"].get("gen_ai.request.stream", False),
            "gen_ai.response.id" in span["attributes"],
        ): span
        for span in spans
    }
    assert len(by_stream) == 4  # converse, converse_stream, invoke_model, invoke_model_with_response_stream
    attributes = dict(by_stream[(False, False)]["attributes"])  # converse
    assert attributes.pop("gen_ai.operation.name") == "chat"
    assert attributes.pop("gen_ai.provider.name") == "aws.bedrock"
    assert attributes.pop("gen_ai.request.model") == MODEL
    assert attributes.pop("gen_ai.request.max_tokens") == 256
    assert attributes.pop("server.address") == "127.0.0.1"
    assert isinstance(attributes.pop("server.port"), int)
    assert attributes.pop("gen_ai.response.model") == MODEL
    assert attributes.pop("gen_ai.response.finish_reasons") == ["end_turn"]
    assert attributes.pop("gen_ai.usage.input_tokens") > 0
    assert attributes.pop("gen_ai.usage.output_tokens") > 0
    assert attributes.pop("gen_ai.usage.cost") > 0
    assert attributes == {}
    for span in by_stream.values():
        assert span["kind"] == "SpanKind.CLIENT"
        assert span["resource"]["attributes"]["service.name"] == "bedrock-app"
    for streamed in (by_stream[(True, False)], by_stream[(True, True)]):
        assert streamed["attributes"]["gen_ai.response.time_to_first_chunk"] > 0
    assert "AKIAFAKEAPPTEST00001" not in result.stdout
    assert "AWS4-HMAC-SHA256" not in result.stdout
