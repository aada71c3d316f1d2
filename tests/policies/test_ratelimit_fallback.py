"""Rate limits (never exceeded, waits and refusals before any network) and fallback models."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

import otel_agentops
from otel_agentops.config.policies import RateLimitSettings
from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv
from otel_agentops.policies.estimate import estimate_tokens
from otel_agentops.policies.ratelimit import WINDOW, RateLimiter

USER = [{"role": "user", "content": "hi"}]


def sdk(fake, kind="sync"):
    cls = openai.AsyncOpenAI if kind == "async" else openai.OpenAI
    return cls(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


def assert_never_over(times_and_amounts, limit):
    """Every 60-second window holds at most `limit` (times rebuilt as now + wait carry float rounding)."""
    events = sorted(times_and_amounts)
    for index, (start, _) in enumerate(events):
        in_window = sum(amount for time, amount in events[index:] if time < start + WINDOW - 1e-9)
        assert in_window <= limit, (start, in_window)


async def test_raise_mode_refuses_before_any_network(fake_provider, instrument, clock):
    telemetry = instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="5", OTEL_AGENTOPS_RATE_LIMIT_MODE="raise")
    llm = sdk(fake_provider)
    for _ in range(5):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(otel_agentops.RateLimitExceeded) as refused:
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert refused.value.wait == pytest.approx(60)
    assert fake_provider.request_count() == 5
    span = telemetry.spans()[-1]
    assert span.attributes[semconv.ERROR_TYPE] == "otel_agentops.RateLimitExceeded"
    [event] = [e for e in span.events if e.name == "agentops.rate_limit.rejected"]
    assert event.attributes["agentops.rate_limit.wait"] == pytest.approx(60)
    [rejections] = telemetry.metric_points(semconv.METRIC_RATE_LIMIT_REJECTIONS)
    assert rejections.value == 1
    clock.now += 60
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)  # the window moved on


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_wait_mode_sleeps_for_the_next_slot(kind, fake_provider, instrument, clock):
    telemetry = instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="2", OTEL_AGENTOPS_RATE_LIMIT_MAX_WAIT="120")
    llm = sdk(fake_provider, kind)
    for _ in range(5):
        result = llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
        if kind == "async":
            await result
    # Calls 1-2 go at once; 3 waits for the first minute to pass; 4 fits beside it; 5 waits again.
    assert clock.sleeps == [pytest.approx(60), pytest.approx(60)]
    assert fake_provider.request_count() == 5
    waits = [e for s in telemetry.spans() for e in s.events if e.name == "agentops.rate_limit.wait"]
    assert [e.attributes["agentops.rate_limit.wait"] for e in waits] == clock.sleeps
    [histogram] = telemetry.metric_points(semconv.METRIC_RATE_LIMIT_WAIT)
    assert histogram.count == 2


async def test_wait_longer_than_max_wait_raises(fake_provider, instrument, clock):
    instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="1", OTEL_AGENTOPS_RATE_LIMIT_MAX_WAIT="10")
    llm = sdk(fake_provider)
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(otel_agentops.RateLimitExceeded):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert clock.sleeps == []


def test_limiter_never_exceeds_rpm_under_8_threads():
    limiter = RateLimiter("k", RateLimitSettings(rpm=50, max_wait=10_000))
    reserved: list[tuple[float, int]] = []
    lock = threading.Lock()
    now = [0.0]

    def worker(seed):
        rng = random.Random(seed)
        for _ in range(40):
            with lock:
                now[0] += rng.random() * 0.5
                at = now[0]
            reservation = limiter.acquire(1, at)
            with lock:
                reserved.append((at + reservation.wait, 1))

    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(worker, seed) for seed in range(8)]:
            future.result()
    assert len(reserved) == 320
    assert_never_over(reserved, 50)


def test_tpm_uses_estimate_then_real_usage():
    limiter = RateLimiter("k", RateLimitSettings(tpm=1000, max_wait=10_000))
    first = limiter.acquire(800, 0.0)
    assert first.wait == 0
    assert limiter.acquire(300, 1.0).wait == pytest.approx(59)  # 800 + 300 > 1000 until the first expires
    first.settle(100)  # the call used far less than estimated
    assert limiter.acquire(300, 2.0).wait == pytest.approx(58)  # still behind the earlier reservation (FIFO)


def test_token_estimate():
    kwargs = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    assert estimate_tokens(kwargs) == 100 + 50
    blocks = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 40}]}],
        "input": "z" * 8,
    }
    assert estimate_tokens(blocks) == 14  # nested content walked: "user", "text" and 40 + 8 chars -> 56 / 4


async def test_fallback_after_retries_are_exhausted(fake_provider, instrument, clock):
    telemetry = instrument(
        OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="2", OTEL_AGENTOPS_FALLBACK_MODELS="gpt-4o>gpt-4o-mini"
    )
    fake_provider.add_fault(Fault(status=503), times=None, model="gpt-4o")
    fake_provider.script(
        Reply(text="from the fallback", input_tokens=10, output_tokens=3), model="gpt-4o-mini"
    )
    result = sdk(fake_provider).chat.completions.create(model="gpt-4o", messages=USER)

    assert result.choices[0].message.content == "from the fallback"
    assert [r.model for r in fake_provider.requests] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    span = telemetry.span()
    assert span.name == "chat gpt-4o"
    assert span.status.status_code.name == "UNSET"
    assert span.attributes[semconv.REQUEST_MODEL] == "gpt-4o"
    assert span.attributes[semconv.FALLBACK_MODEL] == "gpt-4o-mini"
    assert span.attributes[semconv.RESPONSE_MODEL] == "gpt-4o-mini"
    [fallback] = [e for e in span.events if e.name == "agentops.fallback"]
    assert dict(fallback.attributes) == {
        "agentops.fallback.from": "gpt-4o",
        "agentops.fallback.to": "gpt-4o-mini",
        semconv.ERROR_TYPE: "openai.InternalServerError",
    }
    [calls] = telemetry.metric_points(semconv.METRIC_FALLBACKS)
    assert calls.value == 1


async def test_fallback_when_breaker_is_open_and_chain_order(fake_provider, instrument, clock):
    telemetry = instrument(
        OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="1",
        OTEL_AGENTOPS_FALLBACK_MODELS="gpt-4o>gpt-4o-mini>gpt-3.5-turbo",
    )
    fake_provider.add_fault(Fault(status=500), times=None, model="gpt-4o")
    fake_provider.add_fault(Fault(status=500), times=None, model="gpt-4o-mini")
    llm = sdk(fake_provider)
    llm.chat.completions.create(model="gpt-4o", messages=USER)
    assert [r.model for r in fake_provider.requests] == ["gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo"]
    llm.chat.completions.create(model="gpt-4o", messages=USER)  # both breakers open now: straight to the last
    assert [r.model for r in fake_provider.requests][3:] == ["gpt-3.5-turbo"]
    last = telemetry.spans()[-1]
    assert [e.attributes[semconv.ERROR_TYPE] for e in last.events if e.name == "agentops.fallback"] == [
        "otel_agentops.CircuitOpenError",
        "otel_agentops.CircuitOpenError",
    ]


async def test_no_fallback_on_client_errors(fake_provider, instrument, clock):
    instrument(OTEL_AGENTOPS_FALLBACK_MODELS="gpt-4o>gpt-4o-mini")
    fake_provider.add_fault(Fault(status=400), times=None, model="gpt-4o")
    with pytest.raises(openai.BadRequestError):
        sdk(fake_provider).chat.completions.create(model="gpt-4o", messages=USER)
    assert fake_provider.request_count() == 1


def test_memory_stays_flat_under_a_high_limit():
    """100,000 reservations over 50 s of virtual time: at most one entry per 0.1 s is kept."""
    limiter = RateLimiter("openai|gpt-4o-mini", RateLimitSettings(rpm=1e9, tpm=1e12))
    for index in range(100_000):
        now = 1000.0 + index * 0.0005
        reservation = limiter.acquire(50, now)
        assert reservation.wait == 0
        reservation.settle(40)
    assert len(limiter._requests.entries) <= 50 / 0.1 + 1
    assert limiter._requests.total == 100_000
    assert limiter._tokens.total == 100_000 * 40


def test_merged_reservations_never_count_shorter_than_the_window():
    limiter = RateLimiter("k", RateLimitSettings(rpm=2))
    assert limiter.acquire(0, 1000.00).wait == 0
    assert limiter.acquire(0, 1000.05).wait == 0  # shares the first entry, which now ends at 1060.05
    assert limiter.acquire(0, 1060.00).wait == pytest.approx(0.05)  # not before both have left


def test_a_correction_after_the_entry_left_the_window_changes_nothing():
    limiter = RateLimiter("k", RateLimitSettings(tpm=1000))
    late = limiter.acquire(100, 1000.0)
    limiter.acquire(10, 1070.0)  # the first entry leaves the window here
    late.settle(900)
    assert limiter._tokens.total == 10
