"""How LiteLLM calls are routed to provider names, patched and restored, and how the policies see them."""

from __future__ import annotations

import json

import litellm
import litellm.chat_completions.dispatch
import litellm.embeddings.dispatch
import pytest
import wrapt
from litellm_helpers import KINDS, USER, chat, chat_function, drain, invoke

import otel_agentops
from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv
from otel_agentops.providers import litellm as litellm_provider

FUNCTIONS = ("completion", "acompletion", "embedding", "aembedding")
GROQ = {semconv.SERVER_ADDRESS: "api.groq.com", semconv.SERVER_PORT: 443}


@pytest.mark.parametrize(
    ("model", "provider", "request_model", "server"),
    [
        ("gpt-4o-mini", "openai", "gpt-4o-mini", {}),
        ("openai/gpt-4o-mini", "openai", "gpt-4o-mini", {}),
        ("text-embedding-3-small", "openai", "text-embedding-3-small", {}),
        ("anthropic/claude-haiku-4-5", "anthropic", "claude-haiku-4-5", {}),
        ("gemini/gemini-2.0-flash", "gcp.gemini", "gemini-2.0-flash", {}),
        ("vertex_ai/gemini-2.0-flash", "gcp.vertex_ai", "gemini-2.0-flash", {}),
        (
            "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
            "aws.bedrock",
            "anthropic.claude-3-haiku-20240307-v1:0",
            {},
        ),
        ("azure/my-deployment", "azure.ai.openai", "my-deployment", {}),
        ("cohere/command-r", "cohere", "command-r", {}),
        ("watsonx/ibm/granite", "ibm.watsonx.ai", "ibm/granite", {}),
        ("groq/llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile", GROQ),
        (
            "mistral/mistral-small-latest",
            "mistral_ai",
            "mistral-small-latest",
            {semconv.SERVER_ADDRESS: "api.mistral.ai", semconv.SERVER_PORT: 443},
        ),
        (
            "xai/grok-2",
            "x_ai",
            "grok-2",
            {semconv.SERVER_ADDRESS: "api.x.ai", semconv.SERVER_PORT: 443},
        ),
        (
            "deepseek/deepseek-chat",
            "deepseek",
            "deepseek-chat",
            {semconv.SERVER_ADDRESS: "api.deepseek.com", semconv.SERVER_PORT: 443},
        ),
        # Providers without a semantic-conventions name keep LiteLLM's.
        ("openrouter/openai/gpt-4o", "openrouter", "openai/gpt-4o", {}),
        # LiteLLM cannot route it (the call fails with LiteLLM's error): the model as given.
        ("not-a-model", "litellm", "not-a-model", {}),
    ],
)
def test_route_from_litellm_resolution(model, provider, request_model, server):
    assert litellm_provider._resolve(model, {}) == (request_model, provider, server)


def test_explicit_api_base_and_custom_provider_win():
    route = litellm_provider._resolve(
        "my-model", {"custom_llm_provider": "openai", "api_base": "https://llm.internal:8443/v1"}
    )
    assert route == (
        "my-model",
        "openai",
        {semconv.SERVER_ADDRESS: "llm.internal", semconv.SERVER_PORT: 8443},
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_bare_model_is_resolved_by_litellm(kind, fake_provider, instrumented):
    await invoke(
        chat_function(kind),
        model="gpt-4o-mini",
        messages=USER,
        api_base=fake_provider.openai_base_url,
        api_key="test",
    )
    span = instrumented.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[semconv.PROVIDER_NAME] == "openai"
    assert span.attributes[semconv.REQUEST_MODEL] == "gpt-4o-mini"
    assert span.attributes[semconv.SERVER_PORT] == fake_provider.port


@pytest.mark.parametrize("kind", KINDS)
async def test_positional_model_and_messages(kind, fake_provider, instrumented):
    fake_provider.script(Reply(input_tokens=9, output_tokens=3))
    await invoke(
        chat_function(kind),
        "anthropic/claude-haiku-4-5",
        USER,
        api_base=fake_provider.anthropic_base_url,
        api_key="test",
        max_tokens=20,
    )
    attributes = instrumented.span().attributes
    assert attributes[semconv.REQUEST_MODEL] == "claude-haiku-4-5"
    assert attributes[semconv.PROVIDER_NAME] == "anthropic"
    assert attributes[semconv.REQUEST_MAX_TOKENS] == 20
    assert attributes[semconv.USAGE_INPUT_TOKENS] == 9


def test_patched_where_apps_call_and_restored(fake_provider, instrument):
    originals = {
        "completion": litellm.chat_completions.dispatch.completion,
        "acompletion": litellm.chat_completions.dispatch.acompletion,
        "embedding": litellm.embeddings.dispatch.embedding,
        "aembedding": litellm.embeddings.dispatch.aembedding,
    }
    assert {name: getattr(litellm, name) for name in FUNCTIONS} == originals
    telemetry = instrument()
    for name in FUNCTIONS:
        patched = getattr(litellm, name)
        assert isinstance(patched, wrapt.FunctionWrapper), name
        assert patched.__wrapped__ is originals[name]
    # LiteLLM's internals are not patched: acompletion runs litellm.main.completion in a thread.
    assert not isinstance(litellm.main.completion, wrapt.FunctionWrapper)

    otel_agentops.uninstrument()
    assert {name: getattr(litellm, name) for name in FUNCTIONS} == originals
    litellm.completion(
        model="openai/gpt-4o-mini", messages=USER, api_base=fake_provider.openai_base_url, api_key="test"
    )
    assert telemetry.spans() == []


@pytest.mark.parametrize("kind", KINDS)
async def test_retry_policy_applies_once_around_litellm(kind, fake_provider, instrument):
    """Our retry wraps the LiteLLM call; the openai SDK underneath applies no second policy chain."""
    telemetry = instrument(OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="3", OTEL_AGENTOPS_RETRY_BASE_DELAY="0.001")
    fake_provider.add_fault(Fault(status=429, retry_after_ms="1"), times=2)

    result = await chat(fake_provider, kind, "openai")  # max_retries=0: no SDK retries underneath

    assert result.choices[0].message.content
    assert len(fake_provider.requests) == 3
    span = telemetry.span()
    assert span.status.status_code.name == "UNSET"
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 3
    events = [event for event in span.events if event.name == "agentops.retry"]
    assert [event.attributes[semconv.ERROR_TYPE] for event in events] == ["litellm.RateLimitError"] * 2
    [retries] = telemetry.metric_points(semconv.METRIC_RETRY_ATTEMPTS)
    assert retries.value == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_our_retry_switches_litellm_retries_off(provider, fake_provider, instrument):
    """The app's num_retries and the SDK's max_retries would multiply with our 3 attempts: 3 requests."""
    telemetry = instrument(OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="3", OTEL_AGENTOPS_RETRY_BASE_DELAY="0")
    fake_provider.add_fault(Fault(status=429, retry_after_ms="1"), times=None)
    with pytest.raises(litellm.RateLimitError):
        await chat(fake_provider, "sync", provider, num_retries=2, max_retries=2)
    assert len(fake_provider.requests) == 3
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 3


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_content_capture(provider, stream, fake_provider, instrument):
    telemetry = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="span_only")
    fake_provider.script(Reply(text="It shipped yesterday."))
    messages = [{"role": "system", "content": "You are a support agent."}, *USER]

    result = await chat(fake_provider, "sync", provider, messages=messages, stream=stream)
    if stream:
        await drain(result, "sync")

    attributes = telemetry.span().attributes
    assert json.loads(attributes[semconv.SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "You are a support agent."}
    ]
    assert json.loads(attributes[semconv.INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": USER[0]["content"]}]}
    ]
    assert json.loads(attributes[semconv.OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It shipped yesterday."}],
            "finish_reason": "stop",
        }
    ]


async def test_no_content_without_opt_in(fake_provider, instrumented):
    await chat(fake_provider, "sync", "openai")
    attributes = instrumented.span().attributes
    for key in (semconv.INPUT_MESSAGES, semconv.OUTPUT_MESSAGES, semconv.SYSTEM_INSTRUCTIONS):
        assert key not in attributes
