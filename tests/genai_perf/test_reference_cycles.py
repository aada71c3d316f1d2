"""No call leaves a reference cycle behind: each call's objects are freed as soon as they are done with.

Objects in a cycle wait for the garbage collector, and every call leaving some makes its passes come often
and its full passes (over the app's whole heap) come at all: in the benchmark that cost more CPU per call
than most of the telemetry. The call ↔ context pair and the redaction walkers' recursive closures did.
Real openai SDK on the fake provider; the SDK and httpx may leave cycles of their own, so the check is
that none of what is left was made by otel-agentops or is a span.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from support.cycles import left_in_cycles

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply, ToolCall

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SECRET_PROMPT = "My key is sk-proj-abcdefghijklmnopqrstuvwx1234 and my e-mail jane.doe@example.com. " * 8


@pytest.fixture
def client(fake_provider: Any) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0) as llm:
        yield llm


def _messages() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SECRET_PROMPT},
        {"role": "user", "content": "Where is my parcel? Reply to jane.doe@example.com"},
    ]


@pytest.mark.parametrize("capture", ["", "span_only", "span_and_event"])
def test_chat_calls_leave_no_cycle(
    capture: str, client: openai.OpenAI, fake_provider: Any, instrument
) -> None:
    telemetry = instrument(**({CAPTURE: capture} if capture else {}))
    fake_provider.script(Reply(text="Shipped.", input_tokens=40, output_tokens=2), times=3)
    fake_provider.script(
        Reply(tool_calls=[ToolCall(name="lookup_order", arguments={"order": "ORD-1", "token": "abc"})])
    )

    def run() -> None:
        for _ in range(4):
            client.chat.completions.create(model="gpt-4o-mini", messages=_messages())

    assert left_in_cycles(run) == []
    assert len(telemetry.spans()) == 4


def test_streams_and_errors_leave_no_cycle(client: openai.OpenAI, fake_provider: Any, instrument) -> None:
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="one two three", input_tokens=5, output_tokens=3))

    def run() -> None:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=_messages(), stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "one two three"
        fake_provider.add_fault(Fault(status=400))
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o-mini", messages=_messages())

    assert left_in_cycles(run) == []
    assert [s.status.is_ok for s in telemetry.spans()] == [True, False]


def test_async_calls_leave_no_cycle(fake_provider: Any, instrument) -> None:
    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="Shipped.", input_tokens=40, output_tokens=2), times=3)

    async def calls() -> None:
        async with openai.AsyncOpenAI(
            api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0
        ) as llm:
            await asyncio.gather(
                *(llm.chat.completions.create(model="gpt-4o-mini", messages=_messages()) for _ in range(3))
            )

    loop = asyncio.new_event_loop()
    try:
        assert left_in_cycles(lambda: loop.run_until_complete(calls())) == []
    finally:
        loop.close()
    assert len(telemetry.spans()) == 3


def test_anthropic_calls_leave_no_cycle(fake_provider: Any, instrument) -> None:
    import anthropic

    telemetry = instrument(**{CAPTURE: "span_only"})
    fake_provider.script(Reply(text="Shipped.", input_tokens=40, output_tokens=2), times=2)
    llm = anthropic.Anthropic(api_key="sk-ant-test", base_url=fake_provider.anthropic_base_url, max_retries=0)

    def run() -> None:
        llm.messages.create(
            model="claude-haiku-4-5", max_tokens=64, system=SECRET_PROMPT, messages=_messages()[1:]
        )
        with llm.messages.stream(
            model="claude-haiku-4-5", max_tokens=64, system=SECRET_PROMPT, messages=_messages()[1:]
        ) as stream:
            assert stream.get_final_text() == "Shipped."

    try:
        assert left_in_cycles(run) == []
    finally:
        llm.close()
    assert len(telemetry.spans()) == 2


def _gemini(fake: Any) -> Callable[[], None]:
    from google import genai
    from google.genai import types

    llm = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.gemini_base_url))
    return lambda: llm.models.generate_content(model="gemini-2.5-flash", contents=SECRET_PROMPT)


def _bedrock(fake: Any) -> Callable[[], None]:
    import boto3
    from botocore.config import Config

    llm = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.bedrock_endpoint_url,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"total_max_attempts": 1}),
    )
    message = {"role": "user", "content": [{"text": SECRET_PROMPT}]}
    return lambda: llm.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=[message])


def _mistral(fake: Any) -> Callable[[], None]:
    from mistralai import Mistral

    llm = Mistral(api_key="test", server_url=fake.mistral_server_url)
    return lambda: llm.chat.complete(model="mistral-small-latest", messages=_messages())


def _cohere(fake: Any) -> Callable[[], None]:
    import cohere

    llm = cohere.ClientV2(api_key="test", base_url=fake.cohere_base_url)
    return lambda: llm.chat(model="command-r-plus", messages=_messages())


@pytest.mark.parametrize("make", [_gemini, _bedrock, _mistral, _cohere], ids=lambda f: f.__name__[1:])
def test_other_libraries_leave_no_cycle(
    make: Callable[[Any], Callable[[], None]], fake_provider, instrument
) -> None:
    telemetry = instrument(**{CAPTURE: "span_only"})
    call = make(fake_provider)

    def run() -> None:
        call()
        call()

    assert left_in_cycles(run) == []
    assert len(telemetry.spans()) == 2


def test_calls_through_every_policy_leave_no_cycle(
    client: openai.OpenAI, fake_provider: Any, instrument
) -> None:
    telemetry = instrument(
        OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="3",
        OTEL_AGENTOPS_RETRY_BASE_DELAY="0",
        OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="5",
        OTEL_AGENTOPS_RATE_LIMIT_RPM="100000",
        OTEL_AGENTOPS_RATE_LIMIT_TPM="100000000",
        OTEL_AGENTOPS_FALLBACK_MODELS="gpt-4o-mini>gpt-4o",
        OTEL_AGENTOPS_CACHE="memory",
    )
    fake_provider.script(Reply(text="Shipped.", input_tokens=40, output_tokens=2), times=3)

    def run() -> None:
        fake_provider.add_fault(Fault(status=503))  # retried
        client.chat.completions.create(model="gpt-4o-mini", messages=_messages())
        client.chat.completions.create(model="gpt-4o-mini", messages=_messages())  # a cache hit
        client.chat.completions.create(model="gpt-4o-mini", messages=_messages(), temperature=0.5)

    assert left_in_cycles(run) == []
    assert len(telemetry.spans()) == 3
    assert fake_provider.request_count() == 3
