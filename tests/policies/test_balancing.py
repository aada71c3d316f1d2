"""Load balancing over two fake provider instances with the real openai SDK."""

from __future__ import annotations

import logging
from collections import Counter

import openai
import pytest

from otel_agentops.fake_provider import FakeProvider, Fault
from otel_agentops.genai import semconv

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def second():
    with FakeProvider() as provider:
        yield provider


def balanced(fake_provider, second, strategy="round_robin", **env):
    urls = f"{fake_provider.openai_base_url},{second.openai_base_url}/"  # a trailing slash is the same URL
    return {"OTEL_AGENTOPS_ENDPOINTS": urls, "OTEL_AGENTOPS_LOAD_BALANCING": strategy, **env}


def sdk(fake, kind="sync"):
    cls = openai.AsyncOpenAI if kind == "async" else openai.OpenAI
    return cls(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


async def call(llm):
    result = llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    return await result if hasattr(result, "__await__") else result


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_round_robin_alternates_and_server_address_follows(kind, fake_provider, second, instrument):
    telemetry = instrument(**balanced(fake_provider, second))
    llm = sdk(fake_provider, kind)
    for _ in range(6):
        await call(llm)
    assert fake_provider.request_count() == 3
    assert second.request_count() == 3
    ports = [span.attributes[semconv.SERVER_PORT] for span in telemetry.spans()]
    assert ports == [fake_provider.port, second.port] * 3
    span = telemetry.spans()[1]
    assert span.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert span.attributes[semconv.BALANCING_ENDPOINT] == second.openai_base_url
    assert span.attributes[semconv.BALANCING_STRATEGY] == "round_robin"
    by_endpoint = {
        p.attributes[semconv.BALANCING_ENDPOINT]: p.value
        for p in telemetry.metric_points(semconv.METRIC_BALANCED_REQUESTS)
    }
    assert by_endpoint == {fake_provider.openai_base_url: 3, second.openai_base_url: 3}
    durations = telemetry.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert sorted(p.attributes[semconv.SERVER_PORT] for p in durations) == sorted(
        [fake_provider.port, second.port]
    )


def test_random_uses_both(fake_provider, second, instrument):
    instrument(**balanced(fake_provider, second, "random"))
    llm = sdk(fake_provider)
    for _ in range(40):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() + second.request_count() == 40
    # P(one endpoint gets fewer than 5 of 40 fair coin flips) < 1e-6
    assert min(fake_provider.request_count(), second.request_count()) >= 5


def test_least_latency_prefers_the_faster_endpoint(fake_provider, second, instrument):
    instrument(**balanced(fake_provider, second, "least_latency"))
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(delay=0.3), times=None)  # every request to the first takes 300 ms more
    for _ in range(8):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    # One measurement each, then the average keeps the first endpoint behind.
    assert fake_provider.request_count() == 1
    assert second.request_count() == 7


def test_open_breaker_endpoint_is_skipped(fake_provider, second, instrument, clock):
    telemetry = instrument(
        **balanced(
            fake_provider,
            second,
            OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="1",
            OTEL_AGENTOPS_CIRCUIT_BREAKER_RESET_TIMEOUT="30",
            OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="2",
            OTEL_AGENTOPS_RETRY_BASE_DELAY="0",
            OTEL_AGENTOPS_RETRY_JITTER="false",
        )
    )
    fake_provider.add_fault(Fault(status=500), times=None)
    llm = sdk(fake_provider)
    # First attempt: the first endpoint fails and its breaker opens; the retry goes to the second one.
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert (fake_provider.request_count(), second.request_count()) == (1, 1)
    for _ in range(4):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert (fake_provider.request_count(), second.request_count()) == (1, 5)
    first_span = telemetry.spans()[0]
    assert first_span.attributes[semconv.SERVER_PORT] == second.port
    assert first_span.attributes[semconv.RETRY_ATTEMPTS] == 2


def test_clients_outside_the_groups_are_untouched(fake_provider, second, instrument):
    with FakeProvider() as other:
        telemetry = instrument(**balanced(fake_provider, second))
        llm = sdk(other)
        for _ in range(3):
            llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert other.request_count() == 3
        assert fake_provider.request_count() == second.request_count() == 0
        assert {span.attributes[semconv.SERVER_PORT] for span in telemetry.spans()} == {other.port}
        assert not any(semconv.BALANCING_ENDPOINT in span.attributes for span in telemetry.spans())


def test_bad_endpoint_groups_are_named(fake_provider, instrument, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    instrument(
        OTEL_AGENTOPS_ENDPOINTS=f"{fake_provider.openai_base_url}",
        OTEL_AGENTOPS_LOAD_BALANCING="fastest",
    )
    sdk(fake_provider).chat.completions.create(model="gpt-4o-mini", messages=USER)
    messages = [record.getMessage() for record in caplog.records]
    assert (
        f"otel-agentops: ignoring OTEL_AGENTOPS_ENDPOINTS='{fake_provider.openai_base_url}': expected"
        " groups of two or more different http(s) base URLs split by , (groups split by ;); using the"
        " default (this group is not balanced)"
    ) in messages
    assert (
        "otel-agentops: ignoring OTEL_AGENTOPS_LOAD_BALANCING='fastest': expected one of round_robin, random,"
        " least_latency; using the default (round_robin)"
    ) in messages
    assert Counter(r.path for r in fake_provider.requests) == {"/v1/chat/completions": 1}


def test_an_endpoint_gets_traffic_again_after_its_breaker_reset_timeout(
    fake_provider, second, instrument, clock
):
    instrument(
        **balanced(
            fake_provider,
            second,
            OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="1",
            OTEL_AGENTOPS_CIRCUIT_BREAKER_RESET_TIMEOUT="30",
        )
    )
    fake_provider.add_fault(Fault(status=500), times=1)
    llm = sdk(fake_provider)
    with pytest.raises(openai.InternalServerError):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    for _ in range(4):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert (fake_provider.request_count(), second.request_count()) == (1, 4)
    clock.now += 31  # past the reset timeout: the first endpoint is probed again and recovers
    for _ in range(4):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() >= 2
    assert fake_provider.request_count() + second.request_count() == 9


def test_least_latency_leaves_a_failing_endpoint(fake_provider, second, instrument):
    instrument(
        **balanced(
            fake_provider,
            second,
            "least_latency",
            OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="2",
            OTEL_AGENTOPS_RETRY_BASE_DELAY="0",
        )
    )
    fake_provider.add_fault(Fault(status=503), times=None)  # fails fast, every time
    llm = sdk(fake_provider)
    for _ in range(10):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 1  # tried once (unmeasured), then it counts as slow
    assert second.request_count() == 10
