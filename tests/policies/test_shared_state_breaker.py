"""Circuit breakers shared through a real Redis: one process's failures open it for every process, the
reset timeout runs on Redis' clock, and half-open probes are bounded across processes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.replicas import run_workers

from otel_agentops import CircuitOpenError
from otel_agentops.config.policies import BreakerSettings
from otel_agentops.policies import state
from otel_agentops.policies.breaker import State
from otel_agentops.policies.shared.backend import backend
from otel_agentops.policies.shared.breaker import SharedCircuitBreaker

KEY = "openai|127.0.0.1:1|gpt-4o-mini"
STATUS = f"agentops:cb:{{{KEY}}}:state"
PROBES = f"agentops:cb:{{{KEY}}}:probes"
BREAKER = {
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "2",
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_RESET_TIMEOUT": "600",
}


class Transitions:
    def __init__(self):
        self.seen: list[tuple[str, State, State]] = []
        self._lock = threading.Lock()

    def __call__(self, key, old, new):
        with self._lock:
            self.seen.append((key, old, new))


def breakers(redis_server, count, transitions, **settings):
    """`count` breakers on one key, as `count` processes would each have."""
    shared = backend(redis_server.url, "agentops:")
    return [SharedCircuitBreaker(KEY, BreakerSettings(**settings), transitions, shared) for _ in range(count)]


def wait_until_half_open(breaker, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return breaker.before_call(0.0)
        except CircuitOpenError:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_failures_in_one_process_open_the_breaker_for_another(shared_state, fake_provider):
    assert run_workers(fake_provider, shared_state.url, 1, 1, 2, "status=503", **BREAKER) == {
        "InternalServerError": 2
    }
    assert run_workers(fake_provider, shared_state.url, 1, 1, 3, **BREAKER) == {"CircuitOpenError": 3}
    assert fake_provider.request_count() == 2  # the second process sent nothing
    [status_key] = shared_state.client().keys("agentops:cb:*:state")
    assert shared_state.client().hget(status_key, "state") == b"1"


def test_state_and_transitions_are_shared(shared_state):
    transitions = Transitions()
    first, second = breakers(shared_state, 2, transitions, failure_threshold=2, reset_timeout=600)
    assert first.before_call(0.0) is False
    first.on_failure(True, False, 0.0)
    second.on_failure(True, False, 0.0)  # consecutive failures count across processes
    assert transitions.seen == [(KEY, State.CLOSED, State.OPEN)]  # reported once, by the process that did it
    with pytest.raises(CircuitOpenError) as rejected:
        first.before_call(0.0)
    assert 599 < rejected.value.retry_in <= 600
    assert first.state is State.OPEN
    assert shared_state.client().hget(STATUS, "state") == b"1"


def test_a_success_anywhere_resets_the_failure_count(shared_state):
    transitions = Transitions()
    first, second = breakers(shared_state, 2, transitions, failure_threshold=2)
    first.on_failure(True, False, 0.0)
    second.on_success(False)
    first.on_failure(True, False, 0.0)
    first.on_failure(False, False, 0.0)  # a client error says nothing about the server
    assert transitions.seen == []
    assert second.before_call(0.0) is False


def test_half_open_probes_are_bounded_across_processes(shared_state):
    transitions = Transitions()
    settings = {"failure_threshold": 1, "reset_timeout": 0.2, "success_threshold": 2}
    processes = breakers(shared_state, 4, transitions, **settings)
    processes[0].on_failure(True, False, 0.0)
    deadline = time.monotonic() + 5
    while float(shared_state.client().hget(STATUS, "opened_at")) + 0.2 > shared_state.now():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    barrier = threading.Barrier(16)

    def attempt(index):
        barrier.wait()
        try:
            return processes[index % 4].before_call(0.0)
        except CircuitOpenError as error:
            return error.retry_in

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count(True) == 2  # success_threshold probes at once, whichever processes asked
    assert results.count(0.0) == 14  # the others refused, next probe "now"
    assert transitions.seen == [(KEY, State.CLOSED, State.OPEN), (KEY, State.OPEN, State.HALF_OPEN)]
    prober = [processes[index % 4] for index, result in enumerate(results) if result is True]
    prober[0].on_success(True)
    assert shared_state.client().hget(STATUS, "state") == b"2"
    prober[1].on_success(True)
    assert transitions.seen[-1] == (KEY, State.HALF_OPEN, State.CLOSED)
    assert len(transitions.seen) == 3
    assert processes[3].before_call(0.0) is False
    assert processes[3].state is State.CLOSED


def test_a_failed_probe_reopens_for_everyone(shared_state):
    transitions = Transitions()
    first, second = breakers(shared_state, 2, transitions, failure_threshold=1, reset_timeout=0.2)
    first.on_failure(True, False, 0.0)
    assert wait_until_half_open(second) is True
    second.on_failure(True, True, 0.0)
    assert transitions.seen[-1] == (KEY, State.HALF_OPEN, State.OPEN)
    with pytest.raises(CircuitOpenError):
        first.before_call(0.0)


def test_a_probe_of_a_dead_process_stops_counting_after_the_lease(shared_state):
    transitions = Transitions()
    first, second = breakers(shared_state, 2, transitions, failure_threshold=1, reset_timeout=0.2)
    first.on_failure(True, False, 0.0)
    assert wait_until_half_open(first) is True  # ...and this process dies with its probe in flight
    with pytest.raises(CircuitOpenError):
        second.before_call(0.0)
    client = shared_state.client()
    [(member, started)] = client.zrange(PROBES, 0, -1, withscores=True)
    client.zadd(PROBES, {member: started - 61})  # the lease is max(reset timeout, 60 s)
    assert second.before_call(0.0) is True


def test_state_module_gives_shared_breakers_with_a_url(shared_state):
    assert type(state.circuit_breaker(KEY, BreakerSettings(failure_threshold=1), Transitions())) is (
        SharedCircuitBreaker
    )
