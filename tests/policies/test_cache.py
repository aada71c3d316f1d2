"""The response cache with the real openai and anthropic SDKs against the fake provider."""

from __future__ import annotations

import logging

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletion

from otel_agentops.fake_provider import FakeProvider, Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv

MODEL = "gpt-4o-mini"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
TOOLS = [
    {
        "type": "function",
        "function": {"name": "lookup_order", "parameters": {"type": "object", "properties": {}}},
    }
]
MEMORY = {"OTEL_AGENTOPS_CACHE": "memory"}


def sdk(fake, kind="sync"):
    cls = openai.AsyncOpenAI if kind == "async" else openai.OpenAI
    return cls(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


async def create(llm, **kwargs):
    result = llm.chat.completions.create(**{"model": MODEL, "messages": USER, **kwargs})
    return await result if hasattr(result, "__await__") else result


def counter(telemetry, name):
    return sum(point.value for point in telemetry.metric_points(name))


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_second_identical_request_is_served_from_memory(kind, fake_provider, instrument):
    telemetry = instrument(**MEMORY)
    fake_provider.script(Reply(text="It shipped yesterday.", input_tokens=20, output_tokens=4))
    llm = sdk(fake_provider, kind)

    first = await create(llm, temperature=0.2)
    second = await create(llm, temperature=0.2)

    assert fake_provider.request_count() == 1
    assert type(second) is ChatCompletion
    assert second == first
    assert second is not first
    miss, hit = telemetry.spans()
    assert miss.attributes[semconv.CACHE_HIT] is False
    assert miss.attributes[semconv.USAGE_INPUT_TOKENS] == 20
    attributes = dict(hit.attributes)
    assert attributes.pop(semconv.CACHE_HIT) is True
    assert attributes.pop(semconv.USAGE_COST) == 0.0
    for key in (
        semconv.OPERATION_NAME,
        semconv.PROVIDER_NAME,
        semconv.REQUEST_MODEL,
        semconv.REQUEST_TEMPERATURE,
        semconv.SERVER_ADDRESS,
        semconv.SERVER_PORT,
        semconv.RESPONSE_MODEL,
        semconv.RESPONSE_ID,
        semconv.RESPONSE_FINISH_REASONS,
    ):
        assert attributes.pop(key) == miss.attributes[key], key
    assert attributes == {}  # no tokens: a hit consumed none
    assert counter(telemetry, semconv.METRIC_CACHE_HITS) == 1
    assert counter(telemetry, semconv.METRIC_CACHE_MISSES) == 1
    # Tokens and cost are metered for the one real request only.
    assert sorted(p.sum for p in telemetry.metric_points(semconv.METRIC_TOKEN_USAGE)) == [4, 20]
    [cost] = telemetry.metric_points(semconv.METRIC_COST)
    assert cost.count == 1


async def test_anything_that_changes_the_answer_changes_the_key(fake_provider, instrument):
    instrument(**MEMORY)
    llm = sdk(fake_provider)
    await create(llm, temperature=0.2)
    await create(llm, temperature=0.7)
    await create(llm, temperature=0.2, tools=TOOLS)
    await create(llm, temperature=0.2, model="gpt-4o")
    await create(llm, temperature=0.2, messages=[{"role": "user", "content": "Where is ORD-2077?"}])
    await create(llm, temperature=0.2, user="another-user")
    assert fake_provider.request_count() == 6
    await create(llm, temperature=0.2, tools=TOOLS)  # an exact repeat
    assert fake_provider.request_count() == 6


async def test_errors_are_never_cached(fake_provider, instrument):
    telemetry = instrument(**MEMORY)
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(status=500))
    with pytest.raises(openai.InternalServerError):
        await create(llm)
    await create(llm)
    await create(llm)
    assert fake_provider.request_count() == 2
    assert [span.attributes[semconv.CACHE_HIT] for span in telemetry.spans()] == [False, False, True]


async def test_a_hit_is_a_copy_the_app_may_change(fake_provider, instrument):
    instrument(**MEMORY)
    llm = sdk(fake_provider)
    first = await create(llm)
    text = first.choices[0].message.content
    first.choices[0].message.content = "edited by the app"
    second = await create(llm)
    second.choices[0].message.content = "edited again"
    assert (await create(llm)).choices[0].message.content == text
    assert fake_provider.request_count() == 1


async def test_streams_bypass_the_cache(fake_provider, instrument):
    telemetry = instrument(**MEMORY)
    llm = sdk(fake_provider)
    for _ in range(2):
        assert [c async for c in _aiter(await create(llm, stream=True))]
    assert fake_provider.request_count() == 2
    for span in telemetry.spans():
        assert span.attributes[semconv.CACHE_BYPASS] == "stream"
        assert semconv.CACHE_HIT not in span.attributes
    [bypasses] = telemetry.metric_points(semconv.METRIC_CACHE_BYPASSES)
    assert bypasses.value == 2


async def _aiter(stream):
    for chunk in stream:
        yield chunk


def test_raw_responses_are_never_served_from_the_cache(fake_provider, instrument):
    instrument(**MEMORY)
    llm = sdk(fake_provider)
    for _ in range(2):
        raw = llm.chat.completions.with_raw_response.create(model=MODEL, messages=USER)
        assert raw.http_request.url.path == "/v1/chat/completions"
        assert type(raw.parse()) is ChatCompletion
    assert fake_provider.request_count() == 2


async def test_entries_expire_after_the_ttl(fake_provider, instrument, clock):
    instrument(OTEL_AGENTOPS_CACHE="memory", OTEL_AGENTOPS_CACHE_TTL="60")
    llm = sdk(fake_provider)
    await create(llm)
    clock.now += 59
    await create(llm)
    assert fake_provider.request_count() == 1
    clock.now += 2
    await create(llm)
    assert fake_provider.request_count() == 2


async def test_least_recently_used_entry_goes_first(fake_provider, instrument):
    instrument(OTEL_AGENTOPS_CACHE="memory", OTEL_AGENTOPS_CACHE_MAX_ENTRIES="2")
    llm = sdk(fake_provider)
    for temperature in (0.1, 0.2, 0.1, 0.3):  # 0.1 used again before 0.3 evicts 0.2
        await create(llm, temperature=temperature)
    assert fake_provider.request_count() == 3
    await create(llm, temperature=0.1)
    assert fake_provider.request_count() == 3
    await create(llm, temperature=0.2)
    assert fake_provider.request_count() == 4


def test_anthropic_hit_keeps_the_sdk_type(fake_provider, instrument):
    telemetry = instrument(**MEMORY)
    llm = anthropic.Anthropic(api_key="sk-ant-test", base_url=fake_provider.anthropic_base_url, max_retries=0)
    first = llm.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=USER)
    second = llm.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=USER)
    assert type(second) is anthropic.types.Message
    assert second == first
    assert fake_provider.request_count() == 1
    assert [s.attributes[semconv.CACHE_HIT] for s in telemetry.spans()] == [False, True]


def test_off_by_default_and_bad_values_named(fake_provider, instrument, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    telemetry = instrument(OTEL_AGENTOPS_CACHE="memcached", OTEL_AGENTOPS_CACHE_TTL="-5")
    llm = sdk(fake_provider)
    llm.chat.completions.create(model=MODEL, messages=USER)
    llm.chat.completions.create(model=MODEL, messages=USER)
    assert fake_provider.request_count() == 2
    assert all(semconv.CACHE_HIT not in span.attributes for span in telemetry.spans())
    messages = [record.getMessage() for record in caplog.records]
    assert (
        "otel-agentops: ignoring OTEL_AGENTOPS_CACHE='memcached': expected memory, a redis://host:port/db"
        " URL, or off; using the default (off)"
    ) in messages
    assert any("OTEL_AGENTOPS_CACHE_TTL='-5'" in message for message in messages)


def test_clients_with_other_credentials_or_hosts_never_share_entries(fake_provider, instrument):
    instrument(**MEMORY)
    with FakeProvider() as other:
        clients = [
            openai.OpenAI(api_key="sk-a", base_url=fake_provider.openai_base_url, max_retries=0),
            openai.OpenAI(api_key="sk-b", base_url=fake_provider.openai_base_url, max_retries=0),
            openai.OpenAI(
                api_key="sk-a", base_url=fake_provider.openai_base_url, max_retries=0, project="p1"
            ),
            openai.OpenAI(api_key="sk-a", base_url=other.openai_base_url, max_retries=0),
        ]
        answers = [llm.chat.completions.create(model=MODEL, messages=USER) for llm in clients]
        assert fake_provider.request_count() == 3
        assert other.request_count() == 1
    assert len({answer.id for answer in answers}) == 4
    # An equal client (same URL, key and headers) shares the entry.
    twin = openai.OpenAI(api_key="sk-a", base_url=fake_provider.openai_base_url, max_retries=0)
    assert twin.chat.completions.create(model=MODEL, messages=USER).id == answers[0].id
    assert fake_provider.request_count() == 3


async def test_fallback_answers_are_not_cached(fake_provider, instrument):
    instrument(**MEMORY, OTEL_AGENTOPS_FALLBACK_MODELS=f"{MODEL}>gpt-4o")
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(status=503))
    await create(llm)  # answered by gpt-4o
    second = await create(llm)  # the requested model is back: asked, not served the fallback's answer
    assert [r.body["model"] for r in fake_provider.requests] == [MODEL, "gpt-4o", MODEL]
    assert second.model.startswith(MODEL)
    await create(llm)
    assert fake_provider.request_count() == 3


def test_stateful_responses_requests_bypass_the_cache(fake_provider, instrument):
    telemetry = instrument(**MEMORY)
    llm = sdk(fake_provider)
    for _ in range(2):
        llm.responses.create(model=MODEL, input="hi", background=True)
    assert fake_provider.request_count() == 2
    assert {s.attributes[semconv.CACHE_BYPASS] for s in telemetry.spans()} == {"stateful"}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("rediss+x://:hunter2@cache:6379/0", "rediss+x://:***@cache:6379/0"),
        ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock"),
        ("redis://cache:notaport/0", "redis://cache:notaport/0"),
    ],
)
def test_unusable_cache_urls_are_named_masked_and_leave_the_cache_off(
    value, shown, fake_provider, instrument, caplog
):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    telemetry = instrument(OTEL_AGENTOPS_CACHE=value)
    llm = sdk(fake_provider)
    llm.chat.completions.create(model=MODEL, messages=USER)
    llm.chat.completions.create(model=MODEL, messages=USER)
    assert fake_provider.request_count() == 2
    assert all(semconv.CACHE_HIT not in span.attributes for span in telemetry.spans())
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert f"OTEL_AGENTOPS_CACHE='{shown}'" in messages
    assert "hunter2" not in messages
