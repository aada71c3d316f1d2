"""The response cache in a real Redis: shared by every replica, JSON entries rebuilt only into SDK types."""

from __future__ import annotations

import json

import openai
from openai.types.chat import ChatCompletion

import otel_agentops
from otel_agentops.genai import semconv

USER = [{"role": "user", "content": "Where is order ORD-1042?"}]


def ask(fake):
    llm = openai.OpenAI(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)
    return llm.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=0)


def test_a_redis_cache_is_shared_by_replicas(fake_provider, instrument, redis_server, fresh_backends):
    redis_server.client().flushdb()
    telemetry = instrument(OTEL_AGENTOPS_CACHE=redis_server.url)
    first = ask(fake_provider)
    otel_agentops.uninstrument()
    # A new instrumentation has a new chain and cache object: only Redis can answer now.
    instrument(OTEL_AGENTOPS_CACHE=redis_server.url)
    second = ask(fake_provider)

    assert fake_provider.request_count() == 1
    assert type(second) is ChatCompletion
    assert second == first
    assert [s.attributes[semconv.CACHE_HIT] for s in telemetry.spans()] == [False, True]
    [key] = redis_server.client().keys("agentops:cache:*")
    entry = json.loads(redis_server.client().get(key))
    assert entry["type"] == "openai.types.chat.chat_completion:ChatCompletion"
    assert entry["data"]["choices"][0]["message"]["content"] == first.choices[0].message.content
    assert 0 < redis_server.client().pttl(key) <= 3600 * 1000


def test_state_url_shares_a_memory_cache_too(fake_provider, instrument, shared_state):
    instrument(OTEL_AGENTOPS_CACHE="memory")
    ask(fake_provider)
    otel_agentops.uninstrument()
    instrument(OTEL_AGENTOPS_CACHE="memory")
    ask(fake_provider)
    assert fake_provider.request_count() == 1
    assert len(shared_state.client().keys("agentops:cache:*")) == 1


def test_an_entry_naming_any_other_class_is_a_miss(fake_provider, instrument, redis_server, fresh_backends):
    client = redis_server.client()
    client.flushdb()
    telemetry = instrument(OTEL_AGENTOPS_CACHE=redis_server.url)
    ask(fake_provider)
    [key] = client.keys("agentops:cache:*")
    for planted in ("subprocess:Popen", "os:system", "builtins:dict", "not json"):
        data = {"type": planted, "data": {"args": ["true"]}}
        entry = planted if planted == "not json" else json.dumps(data)
        client.set(key, entry)
        result = ask(fake_provider)
        assert type(result) is ChatCompletion
    assert fake_provider.request_count() == 5
    assert [s.attributes[semconv.CACHE_HIT] for s in telemetry.spans()] == [False] * 5
