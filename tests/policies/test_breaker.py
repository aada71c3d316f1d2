"""Circuit breaker: transitions, fast rejection without network, and concurrency."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

import otel_agentops
from otel_agentops.config.policies import BreakerSettings
from otel_agentops.fake_provider import Fault
from otel_agentops.genai import semconv
from otel_agentops.policies.breaker import CircuitBreaker, State

USER = [{"role": "user", "content": "hi"}]
BREAKER = {
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "3",
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_RESET_TIMEOUT": "30",
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_SUCCESS_THRESHOLD": "2",
}


def sdk(fake):
    return openai.OpenAI(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


def transitions(telemetry):
    return sorted(
        (p.attributes["agentops.circuit_breaker.from"], p.attributes["agentops.circuit_breaker.to"], p.value)
        for p in telemetry.metric_points(semconv.METRIC_BREAKER_TRANSITIONS)
    )


async def test_opens_rejects_without_network_then_recovers(fake_provider, instrument, clock):
    telemetry = instrument(**BREAKER)
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(status=503), times=3)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            llm.chat.completions.create(model="gpt-4o-mini", messages=USER)

    with pytest.raises(otel_agentops.CircuitOpenError) as rejected:
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 3  # the rejected call never reached the server
    assert rejected.value.retry_in == pytest.approx(30)
    span = telemetry.spans()[-1]
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "otel_agentops.CircuitOpenError"
    [event] = [e for e in span.events if e.name == "agentops.circuit_breaker.rejected"]
    key = f"openai|127.0.0.1:{fake_provider.port}|gpt-4o-mini"
    assert event.attributes[semconv.POLICY_KEY] == key
    [state] = telemetry.metric_points(semconv.METRIC_BREAKER_STATE)
    assert state.value == int(State.OPEN)

    clock.now += 30  # reset timeout over: half-open, two successful probes close it
    for _ in range(2):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 5
    [state] = telemetry.metric_points(semconv.METRIC_BREAKER_STATE)
    assert state.value == int(State.CLOSED)
    assert transitions(telemetry) == [
        ("closed", "open", 1),
        ("half_open", "closed", 1),
        ("open", "half_open", 1),
    ]
    [errors] = [
        p
        for p in telemetry.metric_points(semconv.METRIC_ERRORS)
        if p.attributes[semconv.ERROR_TYPE] == "otel_agentops.CircuitOpenError"
    ]
    assert errors.value == 1


async def test_failed_probe_reopens(fake_provider, instrument, clock):
    telemetry = instrument(**BREAKER)
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(status=500), times=4)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    clock.now += 31
    with pytest.raises(openai.InternalServerError):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(otel_agentops.CircuitOpenError):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert transitions(telemetry) == [
        ("closed", "open", 1),
        ("half_open", "open", 1),
        ("open", "half_open", 1),
    ]


async def test_client_errors_do_not_count(fake_provider, instrument, clock):
    instrument(**BREAKER)
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(status=400), times=6)
    for _ in range(6):
        with pytest.raises(openai.BadRequestError):
            llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 7


async def test_keys_are_per_model(fake_provider, instrument, clock):
    instrument(**BREAKER)
    llm = sdk(fake_provider)
    fake_provider.add_fault(Fault(status=500), times=3, model="gpt-4o")
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            llm.chat.completions.create(model="gpt-4o", messages=USER)
    with pytest.raises(otel_agentops.CircuitOpenError):
        llm.chat.completions.create(model="gpt-4o", messages=USER)
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER)  # another key: unaffected


def test_breaker_under_8_threads_opens_once():
    changes: list[tuple[State, State]] = []
    lock = threading.Lock()

    def record(_key, old, new):
        with lock:
            changes.append((old, new))

    breaker = CircuitBreaker("k", BreakerSettings(failure_threshold=5, reset_timeout=10), record)
    rejected = 0
    rejected_lock = threading.Lock()

    def worker():
        nonlocal rejected
        for _ in range(200):
            try:
                probe = breaker.before_call(0.0)
            except otel_agentops.CircuitOpenError:
                with rejected_lock:
                    rejected += 1
                continue
            breaker.on_failure(True, probe, 0.0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(worker) for _ in range(8)]:
            future.result()
    assert changes == [(State.CLOSED, State.OPEN)]
    assert breaker.state is State.OPEN
    # Calls admitted before it opened are at least the threshold, and every later one was rejected.
    assert 1600 - rejected >= 5


async def test_breaker_under_100_tasks_half_open_probes_are_bounded():
    changes: list[tuple[State, State]] = []
    breaker = CircuitBreaker(
        "k",
        BreakerSettings(failure_threshold=1, reset_timeout=5, success_threshold=3),
        lambda _k, old, new: changes.append((old, new)),
    )
    breaker.on_failure(True, breaker.before_call(0.0), 0.0)
    in_flight = 0
    peak = 0
    admitted = 0

    async def task():
        nonlocal in_flight, peak, admitted
        try:
            probe = breaker.before_call(10.0)
        except otel_agentops.CircuitOpenError:
            return
        admitted += 1
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)  # let the others try while this probe is out
        in_flight -= 1
        breaker.on_success(probe)

    await asyncio.gather(*(task() for _ in range(100)))
    assert peak == 3  # never more probes at once than success_threshold
    assert breaker.state is State.CLOSED
    assert changes == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]
    assert admitted == 3
